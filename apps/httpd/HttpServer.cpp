// The web server's thread: connections, requests, responses. See HttpServer.h and docs/httpd.md.

#include <apps/httpd/HttpServer.h>
#include <apps/httpd/protocol/ContentType.h>
#include <apps/httpd/protocol/RequestParser.h>
#include <apps/httpd/protocol/Response.h>
#include <apps/httpd/protocol/Target.h>
#include <fs/Path.h>
#include <kernel/Time.h>
#include <kernel/base/Print.h>
#include <kernel/fs/BootArchive.h>
#include <kernel/net/NetWaiter.h>
#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>
#include <kernel/sched/Scheduler.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::apps::httpd {

namespace {

using http::ResponseHead;

constexpr u32 kInputBuffer = 1024;  // request bytes read ahead of the parser (pipelining)
constexpr u32 kOutputBuffer = 2048; // a response head, and a generated body (errors, /status)
// The receive window each connection advertises: requests are small, and a client that pipelines
// more than this waits for the server to catch up instead of parking data in the receive pool.
constexpr u32 kReceiveWindow = 8192;
// What a connection may have queued and unacknowledged: enough to keep a TCG guest's link busy,
// a fraction of the transmit pool (knet::send_file_range keeps a reserve for everyone else).
constexpr u32 kSendBuffer = 128 * 1024;
// File bytes queued per connection per pass, so that 64 busy connections take turns.
constexpr u64 kPassBytes = 64 * 1024;
// A connection idle, or stuck in a request head, this long may give its slot to a new one.
constexpr u64 kEvictAfterMs = 1000;
// A response whose client has taken nothing for this long is aborted when others need what it
// holds: its slot (the table is full) or its transmit buffers (the pool ran short).
constexpr u64 kStalledSendMs = 5000;
// Fair share of the transmit pool: each connection with a file to send keeps at most
// (buffers to share x kSegmentBytes) / (connections sending) queued, and never less than this.
// Clients that stop reading then hold a bounded part of the pool, not all of it.
constexpr u64 kMinShareBytes = 16 * 1024;
constexpr u64 kSegmentBytes = 1448; // a full segment with TCP timestamps
// With connections open the thread looks at them at least this often; after the transmit pool ran
// short (nothing wakes the thread when another socket's buffers are freed) much sooner. With none
// open it sleeps until the listener wakes it.
constexpr u64 kMaxWaitMs = 250;
constexpr u64 kPoolWaitMs = 2;

enum class Phase : u8 { Free, Reading, Sending, Lingering };

struct Connection {
    net::TcpSocket* socket { nullptr };
    Phase phase { Phase::Free };
    http::RequestParser parser;
    u8 input[kInputBuffer];
    u32 input_start { 0 };
    u32 input_end { 0 };
    u64 discard { 0 }; // request body bytes still to drop before the next request
    bool peer_closed { false };
    char output[kOutputBuffer];
    u32 output_length { 0 };
    u32 output_sent { 0 };
    kfs::File file;
    u64 file_offset { 0 };
    u64 file_remaining { 0 };
    bool close_after { false };
    u64 accepted_ns { 0 };
    u64 last_input_ns { 0 };      // the idle timer: last bytes read, or the end of the last response
    u64 request_started_ns { 0 }; // first byte of the request being read; 0 between requests
    u64 last_progress_ns { 0 };   // a response's last bytes queued
    u64 linger_deadline_ns { 0 };
    u32 requests { 0 };
    net::SocketAddress peer;
};

// Everything below belongs to the server thread and is touched under the stack lock (the console
// reads it under the same lock).
Connection* s_connections { nullptr }; // kMaxConnections, allocated once by start()
net::TcpSocket* s_listener { nullptr };
knet::NetWaiter s_waiter;
Stats s_stats;
bool s_pool_short { false };
u64 s_share_bytes { kMinShareBytes }; // this pass's fair share of the transmit pool, per sender
u32 s_first_slot { 0 };               // where this pass starts: freed buffers go round the connections
u64 s_started_ns { 0 };
char s_body[1600]; // a generated body, before it is copied behind its head
u8 s_scratch[2048];
// A request's path on its way from target to file (kept off the thread's 16 KiB stack).
char s_decoded[http::Request::kMaxTarget + 1];
char s_normalized[http::Request::kMaxTarget + 16]; // room to append "/index.html"
char s_location[http::Request::kMaxTarget + 2];

u64 ms_since(u64 then_ns, u64 now_ns)
{
    return now_ns > then_ns ? (now_ns - then_ns) / 1000000 : 0;
}

void count_response(u16 status)
{
    ++s_stats.responses_by_class[min<u16>(status / 100, 5)];
    switch (status) {
    case 400: ++s_stats.status_400; break;
    case 404: ++s_stats.status_404; break;
    case 405: ++s_stats.status_405; break;
    case 408: ++s_stats.status_408; break;
    case 413: ++s_stats.status_413; break;
    case 414: ++s_stats.status_414; break;
    case 416: ++s_stats.status_416; break;
    case 431: ++s_stats.status_431; break;
    case 501: ++s_stats.status_501; break;
    case 505: ++s_stats.status_505; break;
    default: break;
    }
}

void release(Connection& c, bool abort)
{
    c.socket->set_waiter(nullptr);
    if (abort)
        c.socket->abort(); // RST: the peer failed, or never took its response
    else
        c.socket->close(); // FIN after what is queued (RST if unread input is thrown away)
    c.socket = nullptr;
    c.phase = Phase::Free;
    --s_stats.open;
}

// Queues a response whose body (if any) is `body`, generated text. A head that does not fit
// (a Location near the target limit) becomes a bare 500.
void start_response(Connection& c, ResponseHead head, StringView body, bool send_body, u64 now)
{
    usize length = http::format_response_head(head, c.output, sizeof(c.output));
    if (length == 0 || (send_body && length + body.length() > sizeof(c.output))) {
        ResponseHead fallback;
        fallback.status = 500;
        fallback.content_length = 0;
        fallback.close = true;
        head = fallback;
        length = http::format_response_head(head, c.output, sizeof(c.output));
        VERIFY(length); // a minimal head always fits 2 KiB
        send_body = false;
    }
    if (send_body) {
        for (usize i = 0; i < body.length(); ++i)
            c.output[length + i] = body[i];
        length += body.length();
    }
    c.output_length = static_cast<u32>(length);
    c.output_sent = 0;
    c.file_remaining = 0;
    c.close_after = head.close;
    c.phase = Phase::Sending;
    c.last_progress_ns = now;
    count_response(head.status);
}

// A short text page for an error (or a redirect): "404 Not Found: /nope\n".
void respond_text(
    Connection& c, u16 status, StringView detail, bool close, bool head_only, u64 now, StringView location = {})
{
    usize length = detail.is_empty()
        ? format_to(s_body, sizeof(s_body), "{} {}\n", status, http::reason_phrase(status))
        : format_to(s_body, sizeof(s_body), "{} {}: {}\n", status, http::reason_phrase(status), detail);
    ResponseHead head;
    head.status = status;
    head.content_type = "text/plain; charset=utf-8";
    head.content_length = length;
    head.close = close;
    head.keep_alive_field = !close && c.parser.request().version_minor == 0;
    head.allow_get_head = status == 405;
    head.location = location;
    start_response(c, head, { s_body, length }, !head_only, now);
}

void respond_status_page(Connection& c, bool close, bool head_only, u64 now)
{
    u64 up = (now - s_started_ns) / 1000000000ull;
    auto files = knet::send_file_stats();
    BufferSink sink(s_body, sizeof(s_body));
    format(sink, "Skiff web server\n");
    format(sink, "uptime       {}:{:02}:{:02}\n", up / 3600, up / 60 % 60, up % 60);
    format(sink, "connections  {} open (peak {} of {}), {} accepted, {} evicted, {} timed out, {} idle closed\n",
        s_stats.open, s_stats.peak_open, kMaxConnections, s_stats.accepted, s_stats.evicted, s_stats.head_timeouts,
        s_stats.idle_closed);
    format(sink, "requests     {} (2xx {}, 3xx {}, 4xx {}, 5xx {})\n", s_stats.requests, s_stats.responses_by_class[2],
        s_stats.responses_by_class[3], s_stats.responses_by_class[4], s_stats.responses_by_class[5]);
    format(sink, "bytes        {} sent, {} of them file data; {} received\n", s_stats.bytes_sent,
        s_stats.file_bytes_sent, s_stats.input_bytes);
    format(sink, "sendfile     {} bytes by reference, {} copied\n", files.zero_copy_bytes, files.copied_bytes);
    if (kfs::is_mounted()) {
        auto const& fs = kfs::file_system();
        format(sink, "files        {} in '{}' ({} bytes)\n", fs.file_count(), kfs::status().name, fs.file_bytes());
    } else {
        format(sink, "files        none (no archive)\n");
    }
    ResponseHead head;
    head.status = 200;
    head.content_type = "text/plain; charset=utf-8";
    head.content_length = sink.length();
    head.no_store = true;
    head.close = close;
    head.keep_alive_field = !close && c.parser.request().version_minor == 0;
    start_response(c, head, sink.view(), !head_only, now);
}

void handle_request(Connection& c, u64 now)
{
    auto const& request = c.parser.request();
    ++s_stats.requests;
    ++c.requests;
    bool head_only = request.method == http::Method::Head;
    bool close = !request.keep_alive || c.peer_closed;
    // What this server does not do: other methods (their body is not read: close after), bodies
    // in a transfer coding, bodies larger than it is willing to read and drop.
    if (request.method == http::Method::Other)
        return respond_text(c, 405, "this server answers GET and HEAD", true, false, now);
    if (request.has_transfer_encoding)
        return respond_text(c, 501, "request bodies in a transfer coding", true, head_only, now);
    if (request.content_length_overflow || request.content_length > kMaxDiscardedBody)
        return respond_text(c, 413, "request body too large", true, head_only, now);
    c.discard = request.content_length;

    StringView target_path;
    if (!http::decode_target(request.target_view(), s_decoded, sizeof(s_decoded), target_path))
        return respond_text(c, 400, "malformed request target", close, head_only, now);
    StringView path;
    if (!fs::normalize_path(target_path, s_normalized, sizeof(s_normalized) - 12, path, fs::DotDot::Resolve))
        return respond_text(c, 400, "path climbs above the root", close, head_only, now);
    if (path == "status")
        return respond_status_page(c, close, head_only, now);
    if (!kfs::is_mounted())
        return respond_text(c, 404, "no file archive was loaded", close, head_only, now);

    auto const& files = kfs::file_system();
    if (files.is_directory(path)) {
        if (!target_path.ends_with("/")) {
            // RFC 9110 §15.4.2: the directory's URL ends in '/', so its page's relative links work.
            StringView raw = request.target_view();
            i64 query = raw.find('?');
            if (query >= 0)
                raw = raw.substring(0, static_cast<usize>(query));
            usize length = format_to(s_location, sizeof(s_location), "{}/", raw);
            return respond_text(c, 301, "", close, head_only, now, { s_location, length });
        }
        // "dir/" -> "dir/index.html" (normalize_path left room for it).
        usize length = path.length();
        StringView suffix = length ? "/index.html" : "index.html";
        for (usize i = 0; i < suffix.length(); ++i)
            s_normalized[length + i] = suffix[i];
        path = StringView(s_normalized, length + suffix.length());
    }
    auto opened = kfs::open(path);
    if (opened.is_error())
        return respond_text(c, 404, "", close, head_only, now);
    kfs::File const& file = opened.value();
    http::FileInfo info { file.size, static_cast<i64>(file.mtime), http::content_type_for(path) };
    auto plan = http::plan_file_response(request, info, close);
    if (plan.body_is_message) {
        usize length
            = format_to(s_body, sizeof(s_body), "416 Range Not Satisfiable: the file has {} bytes\n", file.size);
        plan.head.content_length = length;
        return start_response(c, plan.head, { s_body, length }, true, now);
    }
    start_response(c, plan.head, {}, false, now);
    if (plan.send_body) {
        c.file = file;
        c.file_offset = plan.body_offset;
        c.file_remaining = plan.body_length;
    }
}

void start_linger(Connection& c, u64 now)
{
    // RFC 9112 §9.6: close the sending half first and keep reading a while, so that a client still
    // sending (a pipelined request, a body) does not turn our close into a reset that destroys the
    // response it has not read yet.
    (void)c.socket->shutdown_write();
    c.phase = Phase::Lingering;
    c.linger_deadline_ns = now + kLingerMs * 1000000ull;
}

void finish_response(Connection& c, u64 now)
{
    c.phase = Phase::Reading;
    c.parser.reset();
    // A body still to drop is part of the request just answered: it must arrive within the head
    // timeout too, or a client could hold the slot by trickling it.
    c.request_started_ns = c.discard ? now : 0;
    c.last_input_ns = now;
    if (c.close_after || c.peer_closed)
        start_linger(c, now);
}

// Returns true if anything moved. May release the connection.
bool push_response(Connection& c, u64 now)
{
    bool progress = false;
    while (c.output_sent < c.output_length) {
        auto sent = c.socket->send(
            { reinterpret_cast<u8 const*>(c.output) + c.output_sent, c.output_length - c.output_sent });
        if (sent.is_error()) {
            if (sent.error() == Error::WouldBlock)
                return progress;
            ++s_stats.resets;
            release(c, true);
            return true;
        }
        c.output_sent += static_cast<u32>(sent.value());
        s_stats.bytes_sent += sent.value();
        c.last_progress_ns = now;
        progress = true;
    }
    u64 budget = kPassBytes;
    while (c.file_remaining && budget) {
        u64 queued = c.socket->send_queued_bytes();
        if (queued >= s_share_bytes)
            return progress; // its share is in flight: the ACKs that free it wake the thread
        u64 waits_before = knet::send_file_stats().pool_waits;
        u64 count = min(min(c.file_remaining, budget), s_share_bytes - queued);
        auto sent = knet::send_file_range(*c.socket, c.file, c.file_offset, count);
        if (sent.is_error()) {
            if (sent.error() == Error::WouldBlock) {
                s_pool_short |= knet::send_file_stats().pool_waits != waits_before;
                return progress;
            }
            ++s_stats.resets;
            release(c, true);
            return true;
        }
        c.file_offset += sent.value();
        c.file_remaining -= sent.value();
        budget -= min<u64>(budget, sent.value());
        s_stats.bytes_sent += sent.value();
        s_stats.file_bytes_sent += sent.value();
        c.last_progress_ns = now;
        progress = true;
    }
    if (c.file_remaining)
        return progress; // this pass's share is queued: the next pass goes on (progress is true)
    finish_response(c, now);
    return true;
}

// Reads and parses until a request is complete (and answered), the socket is empty, or the peer
// is gone. Returns true if anything moved. May release the connection.
bool read_requests(Connection& c, u64 now)
{
    bool progress = false;
    for (u32 round = 0; round < 8 && c.phase == Phase::Reading; ++round) {
        if (c.input_start == c.input_end) {
            if (c.peer_closed) {
                release(c, false); // the client closed between requests or mid-head: nothing to answer
                return true;
            }
            auto received = c.socket->recv({ c.input, kInputBuffer });
            if (received.is_error()) {
                if (received.error() == Error::WouldBlock)
                    return progress;
                ++s_stats.resets;
                release(c, true);
                return true;
            }
            progress = true;
            if (received.value() == 0) {
                c.peer_closed = true;
                continue;
            }
            c.input_start = 0;
            c.input_end = static_cast<u32>(received.value());
            s_stats.input_bytes += received.value();
            c.last_input_ns = now;
        }
        if (c.discard) {
            u64 skip = min<u64>(c.discard, c.input_end - c.input_start);
            c.input_start += static_cast<u32>(skip);
            c.discard -= skip;
            if (!c.discard)
                c.request_started_ns = 0; // the next request's head starts its own clock
            progress = true;
            continue;
        }
        usize used = c.parser.feed({ c.input + c.input_start, c.input_end - c.input_start });
        c.input_start += static_cast<u32>(used);
        progress = true;
        if (c.parser.started() && !c.request_started_ns)
            c.request_started_ns = now;
        if (c.parser.status() == http::ParseStatus::Error) {
            respond_text(c, c.parser.error_status(), c.parser.error_reason(), true, false, now);
            return true;
        }
        if (c.parser.status() == http::ParseStatus::Complete) {
            handle_request(c, now);
            return true;
        }
    }
    return progress;
}

bool drain_linger(Connection& c, u64 now)
{
    bool progress = false;
    while (true) {
        auto received = c.socket->recv({ s_scratch, sizeof(s_scratch) });
        if (received.is_error()) {
            if (received.error() != Error::WouldBlock) {
                release(c, false);
                return true;
            }
            break;
        }
        if (received.value() == 0) {
            release(c, false); // the client's FIN: done
            return true;
        }
        progress = true;
    }
    if (now >= c.linger_deadline_ns) {
        release(c, false);
        return true;
    }
    return progress;
}

// Deadlines: returns true if it acted. May release the connection.
bool check_timeouts(Connection& c, u64 now)
{
    switch (c.phase) {
    case Phase::Reading:
        if (c.request_started_ns && ms_since(c.request_started_ns, now) >= kHeadTimeoutMs) {
            ++s_stats.head_timeouts;
            respond_text(c, 408, "the request head did not arrive in time", true, false, now);
            return true;
        }
        if (!c.request_started_ns && ms_since(c.last_input_ns, now) >= kIdleTimeoutMs) {
            ++s_stats.idle_closed;
            release(c, false);
            return true;
        }
        return false;
    case Phase::Sending:
        if (ms_since(c.last_progress_ns, now) >= kSendStallMs) {
            ++s_stats.send_stalls;
            release(c, true);
            return true;
        }
        return false;
    case Phase::Lingering: return false; // drain_linger watches its deadline
    case Phase::Free: return false;
    }
    return false;
}

u64 next_deadline(Connection const& c)
{
    switch (c.phase) {
    case Phase::Reading:
        return c.request_started_ns ? c.request_started_ns + kHeadTimeoutMs * 1000000ull
                                    : c.last_input_ns + kIdleTimeoutMs * 1000000ull;
    case Phase::Sending: return c.last_progress_ns + kSendStallMs * 1000000ull;
    case Phase::Lingering: return c.linger_deadline_ns;
    case Phase::Free: return ~0ull;
    }
    return ~0ull;
}

bool serve(Connection& c, u64 now)
{
    bool progress = false;
    if (c.phase == Phase::Sending)
        progress |= push_response(c, now);
    if (c.phase == Phase::Reading)
        progress |= read_requests(c, now);
    if (c.phase == Phase::Sending)
        progress |= push_response(c, now); // a response just started: its first bytes now
    if (c.phase == Phase::Lingering)
        progress |= drain_linger(c, now);
    if (c.phase != Phase::Free)
        progress |= check_timeouts(c, now);
    return progress;
}

// The response whose client has taken nothing for the longest, if that is kStalledSendMs or more.
Connection* most_stalled_sender(u64 now)
{
    Connection* stalled = nullptr;
    for (u32 i = 0; i < kMaxConnections; ++i) {
        Connection& c = s_connections[i];
        if (c.phase != Phase::Sending || ms_since(c.last_progress_ns, now) < kStalledSendMs)
            continue;
        if (!stalled || c.last_progress_ns < stalled->last_progress_ns)
            stalled = &c;
    }
    return stalled;
}

// With every slot taken: the connection that has waited longest without a request in flight
// (lingering, idle, or stuck in its head for kEvictAfterMs); failing that, a response its client
// stopped taking kStalledSendMs ago. Never one that is being answered and read.
Connection* choose_victim(u64 now)
{
    Connection* victim = nullptr;
    u64 victim_since = ~0ull;
    for (u32 i = 0; i < kMaxConnections; ++i) {
        Connection& c = s_connections[i];
        u64 since;
        if (c.phase == Phase::Lingering)
            since = 0; // finished: first to go
        else if (c.phase == Phase::Reading)
            since = c.request_started_ns ? c.request_started_ns : c.last_input_ns;
        else
            continue;
        if (since && ms_since(since, now) < kEvictAfterMs)
            continue;
        if (since < victim_since) {
            victim = &c;
            victim_since = since;
        }
    }
    return victim ? victim : most_stalled_sender(now);
}

bool accept_connections(u64 now)
{
    bool progress = false;
    while (s_listener->poll_events() & net::kPollIn) {
        Connection* slot = nullptr;
        for (u32 i = 0; i < kMaxConnections && !slot; ++i) {
            if (s_connections[i].phase == Phase::Free)
                slot = &s_connections[i];
        }
        if (!slot) {
            // Leave the connection in the accept queue (the client waits) unless a slot can be
            // freed for it.
            slot = choose_victim(now);
            if (!slot)
                break;
            ++s_stats.evicted;
            release(*slot, slot->phase == Phase::Sending); // an unfinished response ends in a reset
        }
        net::SocketAddress peer;
        auto accepted = s_listener->accept(&peer);
        if (accepted.is_error())
            break;
        Connection& c = *slot;
        c.socket = accepted.value();
        c.socket->set_waiter(&s_waiter);
        c.phase = Phase::Reading;
        c.parser.reset();
        c.input_start = c.input_end = 0;
        c.discard = 0;
        c.peer_closed = false;
        c.output_length = c.output_sent = 0;
        c.file_remaining = 0;
        c.close_after = false;
        c.accepted_ns = c.last_input_ns = now;
        c.request_started_ns = 0;
        c.requests = 0;
        c.peer = peer;
        ++s_stats.accepted;
        s_stats.peak_open = max(s_stats.peak_open, ++s_stats.open);
        progress = true;
    }
    return progress;
}

void server_thread(void*)
{
    while (true) {
        bool progress = false;
        u64 wait_ms = sync::kForever;
        {
            knet::StackLocker locker;
            s_waiter.reset();
            s_pool_short = false;
            u64 now = time::monotonic_ns();
            progress |= accept_connections(now);
            u32 senders = 0;
            for (u32 i = 0; i < kMaxConnections; ++i)
                senders += s_connections[i].phase == Phase::Sending && s_connections[i].file_remaining;
            s_share_bytes = max(kMinShareBytes, knet::transmit_buffers_to_share() * kSegmentBytes / max(senders, 1u));
            u64 deadline = ~0ull;
            for (u32 n = 0; n < kMaxConnections; ++n) {
                Connection& c = s_connections[(s_first_slot + n) % kMaxConnections];
                if (c.phase == Phase::Free)
                    continue;
                progress |= serve(c, now);
                if (c.phase != Phase::Free)
                    deadline = min(deadline, next_deadline(c));
            }
            s_first_slot = (s_first_slot + 1) % kMaxConnections;
            // Others wait for transmit buffers: a client that has taken nothing for kStalledSendMs
            // gives back what it holds.
            if (s_pool_short) {
                if (Connection* stalled = most_stalled_sender(now)) {
                    ++s_stats.send_stalls;
                    release(*stalled, true);
                    progress = true;
                }
            }
            if (deadline != ~0ull)
                wait_ms = deadline <= now ? 1 : min(kMaxWaitMs, (deadline - now + 999999) / 1000000);
            if (s_pool_short)
                wait_ms = min(wait_ms, kPoolWaitMs);
        }
        if (progress) {
            // Sends may have armed retransmission timers: let the network thread recompute its sleep.
            knet::wake_network_thread();
            continue;
        }
        s_waiter.wait(wait_ms);
    }
}

} // namespace

void start()
{
    if (!knet::is_running()) {
        kprintln("httpd: not started: no network");
        return;
    }
    s_connections = new (std::nothrow) Connection[kMaxConnections];
    if (!s_connections) {
        kprintln("httpd: not started: no memory for {} connections ({} KiB)", kMaxConnections,
            kMaxConnections * sizeof(Connection) / 1024);
        return;
    }
    {
        knet::StackLocker locker;
        auto socket = knet::stack().tcp().open();
        if (socket.is_error()) {
            kprintln("httpd: not started: {}", socket.error());
            return;
        }
        net::TcpSocket* listener = socket.value();
        if (auto bound = listener->bind({ net::Ipv4Address::any(), kPort }); bound.is_error()) {
            kprintln("httpd: cannot bind port {}: {}", kPort, bound.error());
            listener->close();
            return;
        }
        // Connections inherit the listener's options. Copy elimination off: the response heads are
        // built in the connection's own memory, outside the zero-copy region, and are copied; file
        // bytes go by reference whatever the switch says (knet::send_file_range).
        u32 window = knet::tcp_receive_window_hint();
        listener->set_buffer_sizes(kSendBuffer, window ? min(window, kReceiveWindow) : kReceiveWindow);
        listener->set_zero_copy(false);
        listener->set_nodelay(true); // a response's last segment goes at once, not after the peer's ACK
        if (auto listening = listener->listen(64); listening.is_error()) {
            kprintln("httpd: cannot listen on port {}: {}", kPort, listening.error());
            listener->close();
            return;
        }
        listener->set_waiter(&s_waiter);
        s_listener = listener;
        s_started_ns = time::monotonic_ns();
    }
    auto thread = sched::create_thread("httpd", server_thread, nullptr);
    if (thread.is_error()) {
        kprintln("httpd: thread not started: {}", thread.error());
        return;
    }
    sched::detach(thread.value());
    s_stats.running = true;
    kprintln("httpd: serving {} on port {}, up to {} connections ({} KiB of state)",
        kfs::is_mounted() ? kfs::status().name : "no files", kPort, kMaxConnections,
        kMaxConnections * sizeof(Connection) / 1024);
}

Stats stats()
{
    if (!knet::is_running())
        return s_stats;
    knet::StackLocker locker;
    return s_stats;
}

void for_each_connection(void (*visit)(ConnectionInfo const& info, void* context), void* context)
{
    if (!s_connections || !knet::is_running())
        return;
    knet::StackLocker locker;
    u64 now = time::monotonic_ns();
    for (u32 i = 0; i < kMaxConnections; ++i) {
        Connection const& c = s_connections[i];
        if (c.phase == Phase::Free)
            continue;
        ConnectionInfo info;
        info.slot = i;
        info.peer_address = c.peer.address.value;
        info.peer_port = c.peer.port;
        info.phase = c.phase == Phase::Reading ? "reading" : c.phase == Phase::Sending ? "sending" : "closing";
        info.requests = c.requests;
        info.age_ms = ms_since(c.accepted_ns, now);
        info.idle_ms = ms_since(c.phase == Phase::Sending ? c.last_progress_ns : c.last_input_ns, now);
        info.send_queued = c.socket->send_queued_bytes();
        visit(info, context);
    }
}

usize connection_bytes()
{
    return sizeof(Connection);
}

} // namespace skiff::apps::httpd
