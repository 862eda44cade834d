// The web server's kernel side: starting it at boot, and the console command `httpd`.
//
// The server is a user program (user/programs/httpd/). At boot the kernel opens its listener on
// port 80 (knet::start_service: the port answers from the first moment, connections that come
// before the task runs wait in the backlog) and starts the task with it as descriptor 3. `httpd`
// shows what the task last published (apps/httpd/Status.h, through the Publish call): connections,
// requests, responses by status, bytes, errors, and the connections open then, each with the bytes
// the stack has queued for it now.

#include <apps/Apps.h>
#include <apps/httpd/Status.h>
#include <kernel/Time.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/fs/BootArchive.h>
#include <kernel/net/NetServices.h>
#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>
#include <kernel/task/Task.h>
#include <net/tcp/TcpLayer.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::apps {

namespace {

using console::Arguments;

u64 ms_since(u64 then_ns, u64 now_ns)
{
    return now_ns > then_ns ? (now_ns - then_ns) / 1000000 : 0;
}

// The bytes queued and unacknowledged on the server's connection from `peer`, from the stack's
// own table (the server's descriptors are its own business).
u64 send_queued(u32 peer_address, u16 peer_port)
{
    u64 queued = 0;
    knet::StackLocker locker;
    knet::stack().tcp().for_each_socket([&](net::TcpSocket const& socket) {
        if (socket.local().port == httpd::kPort && socket.remote().address.value == peer_address
            && socket.remote().port == peer_port)
            queued = socket.send_queued_bytes();
    });
    return queued;
}

char const* phase_name(httpd::Phase phase)
{
    switch (phase) {
    case httpd::Phase::Reading: return "reading";
    case httpd::Phase::Sending: return "sending";
    case httpd::Phase::Lingering: return "closing";
    case httpd::Phase::Free: break;
    }
    return "?";
}

int httpd_command(Arguments const& arguments)
{
    if (arguments.count() > 1) {
        kprintln("usage: httpd");
        return 1;
    }
    auto* s = new (std::nothrow) httpd::Status;
    if (!s)
        return 1;
    u32 task = 0;
    usize length = task::copy_published(httpd::kTaskName, s, sizeof(*s), &task);
    usize header = sizeof(httpd::Status) - sizeof(s->connections);
    if (length < header || s->magic != httpd::Status::kMagic || s->size != sizeof(httpd::Status)
        || s->rows > httpd::kMaxConnections || length != header + s->rows * sizeof(httpd::ConnectionRow)) {
        kprintln(length
                ? "httpd: task {} published something that is not the server's status"
                : "httpd: not running (no network, no task, or it has not started yet: see the boot log and `ps`)",
            task);
        delete s;
        return 1;
    }
    auto files = knet::send_file_stats();
    u64 now = time::monotonic_ns();
    kprintln("task         {}, serving port {}; figures as of {} ms ago", task, httpd::kPort,
        ms_since(s->published_ns, now));
    kprintln("connections  {} open (peak {} of {}), {} accepted, {} evicted for new ones", s->open, s->peak_open,
        httpd::kMaxConnections, s->accepted, s->evicted);
    kprintln("closed       {} head timeouts (408), {} idle, {} stalled sends, {} reset or failed", s->head_timeouts,
        s->idle_closed, s->send_stalls, s->resets);
    kprintln("requests     {}: 2xx {}, 3xx {}, 4xx {}, 5xx {}", s->requests, s->responses_by_class[2],
        s->responses_by_class[3], s->responses_by_class[4], s->responses_by_class[5]);
    kprintln("errors       400 {}, 404 {}, 405 {}, 408 {}, 413 {}, 414 {}, 416 {}, 431 {}, 501 {}, 505 {}",
        s->status_400, s->status_404, s->status_405, s->status_408, s->status_413, s->status_414, s->status_416,
        s->status_431, s->status_501, s->status_505);
    kprintln("bytes        {} sent ({} file data), {} received", s->bytes_sent, s->file_bytes_sent, s->input_bytes);
    kprintln(
        "sendfile     {} bytes by reference, {} copied, {} waits for transmit buffers (every task's); {} files opened",
        files.zero_copy_bytes, files.copied_bytes, files.pool_waits, s->file_opens);
    kprintln("memory       {} bytes per connection slot, {} KiB for {} (the task's own memory)", s->connection_bytes,
        s->connection_bytes * httpd::kMaxConnections / 1024, httpd::kMaxConnections);
    if (s->rows)
        kprintln("  slot  peer                   phase     requests    age ms   idle ms  queued");
    for (u32 i = 0; i < s->rows; ++i) {
        auto const& r = s->connections[i];
        char peer[24];
        format_to(peer, sizeof(peer), "{}.{}.{}.{}:{}", r.peer_address >> 24, (r.peer_address >> 16) & 0xff,
            (r.peer_address >> 8) & 0xff, r.peer_address & 0xff, r.peer_port);
        kprintln("  {:>4}  {:<21}  {:<8}  {:>8}  {:>8}  {:>8}  {:>6}", r.slot, peer, phase_name(r.phase), r.requests,
            ms_since(r.accepted_ns, now), ms_since(r.last_active_ns, now), send_queued(r.peer_address, r.peer_port));
    }
    delete s;
    return 0;
}

} // namespace

void register_httpd_commands()
{
    console::register_command({ "httpd", "httpd",
        "the web server task: connections, requests, responses by status, bytes, errors; open connections",
        httpd_command });
}

void start_boot_services()
{
    if (!knet::is_running()) {
        kprintln("httpd: not started: no network");
        return;
    }
    knet::ListenerOptions options;
    options.backlog = httpd::kBacklog;
    options.send_buffer = httpd::kSendBuffer;
    options.receive_window = httpd::kReceiveWindow;
    // Copy elimination off: the response heads are built in the server's own memory, outside the
    // zero-copy region, and are copied; file bytes go by reference whatever the switch says.
    options.zero_copy = false;
    options.nodelay = true; // a response's last segment goes at once, not after the peer's ACK
    auto task = knet::start_service(httpd::kTaskName, httpd::kPort, false, options);
    if (task.is_error())
        return; // start_service said why
    kprintln("httpd: serving {} on port {} as task {}, up to {} connections",
        kfs::is_mounted() ? kfs::status().name : "no files", httpd::kPort, task.value(), httpd::kMaxConnections);
}

} // namespace skiff::apps
