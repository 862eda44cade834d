// Console command `httpd`: the web server's connections, requests, bytes and errors, and the
// connections open now.

#include <apps/Apps.h>
#include <apps/httpd/HttpServer.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/SendFile.h>

namespace skiff::apps {

namespace {

using console::Arguments;

struct Row {
    httpd::ConnectionInfo info;
};

struct Rows {
    static constexpr u32 kMax = httpd::kMaxConnections;
    Row rows[kMax];
    u32 count { 0 };
};

int httpd_command(Arguments const& arguments)
{
    if (arguments.count() > 1) {
        kprintln("usage: httpd");
        return 1;
    }
    auto s = httpd::stats();
    if (!s.running) {
        kprintln("httpd: not running (no network, or it failed to start: see the boot log)");
        return 1;
    }
    auto files = knet::send_file_stats();
    kprintln("connections  {} open (peak {} of {}), {} accepted, {} evicted for new ones", s.open, s.peak_open,
        httpd::kMaxConnections, s.accepted, s.evicted);
    kprintln("closed       {} head timeouts (408), {} idle, {} stalled sends, {} reset or failed", s.head_timeouts,
        s.idle_closed, s.send_stalls, s.resets);
    kprintln("requests     {}: 2xx {}, 3xx {}, 4xx {}, 5xx {}", s.requests, s.responses_by_class[2],
        s.responses_by_class[3], s.responses_by_class[4], s.responses_by_class[5]);
    kprintln("errors       400 {}, 404 {}, 405 {}, 408 {}, 413 {}, 414 {}, 416 {}, 431 {}, 501 {}, 505 {}",
        s.status_400, s.status_404, s.status_405, s.status_408, s.status_413, s.status_414, s.status_416, s.status_431,
        s.status_501, s.status_505);
    kprintln("bytes        {} sent ({} file data), {} received", s.bytes_sent, s.file_bytes_sent, s.input_bytes);
    kprintln("sendfile     {} bytes by reference, {} copied, {} waits for transmit buffers", files.zero_copy_bytes,
        files.copied_bytes, files.pool_waits);
    kprintln("memory       {} bytes per connection slot, {} KiB for {}", httpd::connection_bytes(),
        httpd::connection_bytes() * httpd::kMaxConnections / 1024, httpd::kMaxConnections);
    auto* rows = new (std::nothrow) Rows;
    if (!rows)
        return 0;
    httpd::for_each_connection(
        [](httpd::ConnectionInfo const& info, void* context) {
            auto* rows = static_cast<Rows*>(context);
            if (rows->count < Rows::kMax)
                rows->rows[rows->count++].info = info;
        },
        rows);
    if (rows->count)
        kprintln("  slot  peer                   phase     requests    age ms   idle ms  queued");
    for (u32 i = 0; i < rows->count; ++i) {
        auto const& r = rows->rows[i].info;
        char peer[24];
        format_to(peer, sizeof(peer), "{}.{}.{}.{}:{}", r.peer_address >> 24, (r.peer_address >> 16) & 0xff,
            (r.peer_address >> 8) & 0xff, r.peer_address & 0xff, r.peer_port);
        kprintln("  {:>4}  {:<21}  {:<8}  {:>8}  {:>8}  {:>8}  {:>6}", r.slot, peer, r.phase, r.requests, r.age_ms,
            r.idle_ms, r.send_queued);
    }
    delete rows;
    return 0;
}

} // namespace

void register_httpd_commands()
{
    console::register_command({ "httpd", "httpd",
        "the web server: connections, requests, responses by status, bytes, errors; open connections", httpd_command });
}

void start_boot_services()
{
    httpd::start();
}

} // namespace skiff::apps
