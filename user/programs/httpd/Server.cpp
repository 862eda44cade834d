// The web server's loop: connections, requests, responses. See Server.h and docs/httpd.md.

#include <apps/httpd/Status.h>
#include <apps/httpd/protocol/ContentType.h>
#include <apps/httpd/protocol/RequestParser.h>
#include <apps/httpd/protocol/Response.h>
#include <apps/httpd/protocol/Target.h>
#include <fs/Path.h>
#include <user/programs/httpd/Server.h>
#include <user/runtime/File.h>
#include <user/runtime/Print.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>

namespace skiff::user::httpd {

namespace {

using http::ResponseHead;
using skiff::httpd::kMaxConnections;
using skiff::httpd::Phase;

constexpr u32 kInputBuffer = 1024;  // request bytes read ahead of the parser (pipelining)
constexpr u32 kOutputBuffer = 2048; // a response head, and a generated body (errors, /status)
// What a connection may have queued and unacknowledged (the listener's send buffer, which the
// kernel sets: apps/httpd/Status.h): enough to keep a TCG guest's link busy.
constexpr u64 kSendBuffer = skiff::httpd::kSendBuffer;
// File bytes queued per connection per pass, so that 64 busy connections take turns.
constexpr u64 kPassBytes = 64 * 1024;
// A connection idle, or stuck in a request head, this long may give its slot to a new one.
constexpr u64 kEvictAfterMs = 1000;
// A response whose client has taken nothing for this long is reset when others need what it
// holds: its slot (the table is full) or its transmit buffers (the pool ran short).
constexpr u64 kStalledSendMs = 5000;
// Fair share of the stack's transmit pool: each connection with a file to send keeps at most
// (buffers to share x kSegmentBytes) / (connections sending) queued, never less than this and never
// more than its send buffer. Clients that stop reading then hold a bounded part of the pool. The
// share is the connection's send buffer (the SendBuffer option), so the kernel enforces it.
constexpr u64 kMinShareBytes = 16 * 1024;
constexpr u64 kSegmentBytes = 1448; // a full segment with TCP timestamps
// With connections open the loop looks at them at least this often; after the transmit pool ran
// short (nothing signals its end) much sooner. With none open it sleeps until the listener wakes it.
constexpr u64 kMaxWaitMs = 250;
constexpr u64 kPoolWaitMs = 2;
// The console's view (Publish) is refreshed whenever the loop is about to sleep, and at least
// this often while it is busy.
constexpr u64 kPublishEveryMs = 200;

// Files are opened once and kept: the archive cannot change while Skiff runs, so a descriptor and
// the file's size and time stay true. A response holds its entry; with one more entry than there are
// connections, some entry is always free or unheld, and the least recently used unheld one makes
// room for a new file. A path too long for an entry gets a descriptor of its own for the response.
constexpr u32 kCachedFiles = kMaxConnections + 16;
constexpr u32 kCachedPath = 240;

struct OpenFile {
    char path[kCachedPath];
    u32 path_length { 0 };
    i64 descriptor { -1 };
    abi::FileInfo info {};
    u32 users { 0 };
    u64 last_used { 0 };
    bool own { false }; // not in the table: closed when its response ends
};

struct Connection {
    i64 socket { -1 };
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
    OpenFile* file { nullptr };
    OpenFile own_file; // for a path too long for the table
    u64 file_offset { 0 };
    u64 file_remaining { 0 };
    bool close_after { false };
    bool want_write { false };   // its send buffer was full: wait for kPollOut
    bool pool_blocked { false }; // the stack's transmit pool was short: try again after kPoolWaitMs
    u64 send_buffer { 0 };       // the SendBuffer option as last set (its share)
    u64 accepted_ns { 0 };
    u64 last_input_ns { 0 };      // the idle timer: last bytes read, or the end of the last response
    u64 request_started_ns { 0 }; // first byte of the request being read; 0 between requests
    u64 last_progress_ns { 0 };   // a response's last bytes queued
    u64 linger_deadline_ns { 0 };
    u32 requests { 0 };
    Endpoint peer;
};

struct State {
    i64 listener { -1 };
    Connection* connections { nullptr }; // kMaxConnections, mapped once at start
    OpenFile files[kCachedFiles];
    u64 file_uses { 0 };
    bool archive { false };
    u64 transmit_share { 0 }; // the stack's transmit buffers all file senders share
    u64 share_bytes { kMinShareBytes };
    bool pool_short { false };
    u32 first_slot { 0 }; // where a pass starts: freed buffers go round the connections
    skiff::httpd::Status status;
    bool dirty { true };
    u64 published_ns { 0 };
    abi::PollEntry entries[1 + kMaxConnections];
    Connection* polled[1 + kMaxConnections];
    char body[1600]; // a generated body, before it is copied behind its head
    u8 scratch[2048];
    // A request's path on its way from target to file.
    char decoded[http::Request::kMaxTarget + 1];
    char normalized[http::Request::kMaxTarget + 16]; // room to append "/index.html"
    char location[http::Request::kMaxTarget + 2];
};

State* s { nullptr }; // mapped at start: the loop's state, kept off the stack

u64 ms_since(u64 then_ns, u64 now_ns)
{
    return now_ns > then_ns ? (now_ns - then_ns) / 1000000 : 0;
}

// --- The open files ----------------------------------------------------------------------------

// The file at a normalised path, held for connection `c`'s response: Error::InvalidArgument for a
// directory, NotFound.
Result<OpenFile*> open_file(Connection& c, StringView path)
{
    OpenFile* spare = nullptr;
    for (auto& entry : s->files) {
        if (entry.descriptor >= 0 && StringView(entry.path, entry.path_length) == path) {
            entry.last_used = ++s->file_uses;
            ++entry.users;
            return &entry;
        }
        if (entry.users)
            continue;
        if (!spare || (spare->descriptor >= 0 && (entry.descriptor < 0 || entry.last_used < spare->last_used)))
            spare = &entry;
    }
    VERIFY(spare); // at most kMaxConnections entries are held
    abi::FileInfo info {};
    i64 descriptor = TRY(file_open(path, &info));
    ++s->status.file_opens;
    OpenFile* file = spare;
    if (path.length() > kCachedPath) {
        file = &c.own_file;
        file->own = true;
        file->path_length = 0;
    } else {
        if (spare->descriptor >= 0)
            (void)close(spare->descriptor);
        __builtin_memcpy(spare->path, path.chars(), path.length());
        spare->path_length = static_cast<u32>(path.length());
    }
    file->descriptor = descriptor;
    file->info = info;
    file->users = 1;
    file->last_used = ++s->file_uses;
    return file;
}

void put_file(OpenFile* file)
{
    if (--file->users == 0 && file->own) {
        (void)close(file->descriptor);
        file->descriptor = -1;
    }
}

// With no connection open the server holds no file either: a long idle spell costs nothing, and
// what it held while serving is all given back (the boot tests check exactly that).
void close_idle_files()
{
    for (auto& entry : s->files) {
        if (entry.descriptor >= 0 && entry.users == 0) {
            (void)close(entry.descriptor);
            entry.descriptor = -1;
            entry.path_length = 0;
        }
    }
}

void drop_file(Connection& c)
{
    if (c.file) {
        put_file(c.file);
        c.file = nullptr;
    }
}

// --- Counting ----------------------------------------------------------------------------------

void count_response(u16 status)
{
    auto& st = s->status;
    ++st.responses_by_class[min<u16>(status / 100, 5)];
    switch (status) {
    case 400: ++st.status_400; break;
    case 404: ++st.status_404; break;
    case 405: ++st.status_405; break;
    case 408: ++st.status_408; break;
    case 413: ++st.status_413; break;
    case 414: ++st.status_414; break;
    case 416: ++st.status_416; break;
    case 431: ++st.status_431; break;
    case 501: ++st.status_501; break;
    case 505: ++st.status_505; break;
    default: break;
    }
}

void release(Connection& c, bool abort)
{
    if (abort) // RST: the peer failed, or never took its response; its buffers go back at once
        (void)set_option(c.socket, abi::SocketOption::Linger, abi::kLingerAbort);
    (void)close(c.socket); // otherwise FIN after what is queued (RST if unread input is thrown away)
    drop_file(c);
    c.socket = -1;
    c.phase = Phase::Free;
    --s->status.open;
}

// --- Responses ---------------------------------------------------------------------------------

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
        __builtin_memcpy(c.output + length, body.chars(), body.length());
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
        ? format_to(s->body, sizeof(s->body), "{} {}\n", status, http::reason_phrase(status))
        : format_to(s->body, sizeof(s->body), "{} {}: {}\n", status, http::reason_phrase(status), detail);
    ResponseHead head;
    head.status = status;
    head.content_type = "text/plain; charset=utf-8";
    head.content_length = length;
    head.close = close;
    head.keep_alive_field = !close && c.parser.request().version_minor == 0;
    head.allow_get_head = status == 405;
    head.location = location;
    start_response(c, head, { s->body, length }, !head_only, now);
}

void respond_status_page(Connection& c, bool close, bool head_only, u64 now)
{
    auto const& st = s->status;
    u64 up = (now - st.started_ns) / 1000000000ull;
    abi::FilesStatus files {};
    if (auto got = files_status(); !got.is_error())
        files = got.value();
    BufferSink sink(s->body, sizeof(s->body));
    format(sink, "Skiff web server (task {})\n", task_id());
    format(sink, "uptime       {}:{:02}:{:02}\n", up / 3600, up / 60 % 60, up % 60);
    format(sink, "connections  {} open (peak {} of {}), {} accepted, {} evicted, {} timed out, {} idle closed\n",
        st.open, st.peak_open, kMaxConnections, st.accepted, st.evicted, st.head_timeouts, st.idle_closed);
    format(sink, "requests     {} (2xx {}, 3xx {}, 4xx {}, 5xx {})\n", st.requests, st.responses_by_class[2],
        st.responses_by_class[3], st.responses_by_class[4], st.responses_by_class[5]);
    format(sink, "bytes        {} sent, {} of them file data; {} received\n", st.bytes_sent, st.file_bytes_sent,
        st.input_bytes);
    format(sink, "sendfile     {} bytes by reference, {} copied\n", files.sendfile_by_reference,
        files.sendfile_copied_bytes);
    if (files.mounted)
        format(sink, "files        {} in '{}' ({} bytes)\n", files.files, StringView(files.name), files.file_bytes);
    else
        format(sink, "files        none (no archive)\n");
    ResponseHead head;
    head.status = 200;
    head.content_type = "text/plain; charset=utf-8";
    head.content_length = sink.length();
    head.no_store = true;
    head.close = close;
    head.keep_alive_field = !close && c.parser.request().version_minor == 0;
    start_response(c, head, sink.view(), !head_only, now);
}

void serve_file(Connection& c, StringView path, Result<OpenFile*> opened, bool close, bool head_only, u64 now);

void handle_request(Connection& c, u64 now)
{
    auto const& request = c.parser.request();
    ++s->status.requests;
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
    if (!http::decode_target(request.target_view(), s->decoded, sizeof(s->decoded), target_path))
        return respond_text(c, 400, "malformed request target", close, head_only, now);
    StringView path;
    if (!fs::normalize_path(target_path, s->normalized, sizeof(s->normalized) - 12, path, fs::DotDot::Resolve))
        return respond_text(c, 400, "path climbs above the root", close, head_only, now);
    if (path == "status")
        return respond_status_page(c, close, head_only, now);
    if (!s->archive)
        return respond_text(c, 404, "no file archive was loaded", close, head_only, now);

    auto opened = open_file(c, path);
    if (opened.is_error() && opened.error() == Error::InvalidArgument) {
        // A directory.
        if (!target_path.ends_with("/")) {
            // RFC 9110 §15.4.2: the directory's URL ends in '/', so its page's relative links work.
            StringView raw = request.target_view();
            i64 query = raw.find('?');
            if (query >= 0)
                raw = raw.substring(0, static_cast<usize>(query));
            usize length = format_to(s->location, sizeof(s->location), "{}/", raw);
            return respond_text(c, 301, "", close, head_only, now, { s->location, length });
        }
        // "dir/" -> "dir/index.html" (normalize_path left room for it).
        usize length = path.length();
        StringView suffix = length ? "/index.html" : "index.html";
        __builtin_memcpy(s->normalized + length, suffix.chars(), suffix.length());
        path = StringView(s->normalized, length + suffix.length());
        return serve_file(c, path, open_file(c, path), close, head_only, now);
    }
    serve_file(c, path, move(opened), close, head_only, now);
}

void serve_file(Connection& c, StringView path, Result<OpenFile*> opened, bool close, bool head_only, u64 now)
{
    auto const& request = c.parser.request();
    if (opened.is_error())
        return respond_text(c, 404, "", close, head_only, now);
    OpenFile* file = opened.value();
    http::FileInfo info { file->info.size, static_cast<i64>(file->info.mtime), http::content_type_for(path) };
    auto plan = http::plan_file_response(request, info, close);
    if (plan.body_is_message) {
        usize length = format_to(
            s->body, sizeof(s->body), "416 Range Not Satisfiable: the file has {} bytes\n", file->info.size);
        plan.head.content_length = length;
        put_file(file);
        return start_response(c, plan.head, { s->body, length }, true, now);
    }
    start_response(c, plan.head, {}, false, now);
    if (plan.send_body && plan.body_length) {
        c.file = file;
        c.file_offset = plan.body_offset;
        c.file_remaining = plan.body_length;
    } else {
        put_file(file);
    }
}

void start_linger(Connection& c, u64 now)
{
    // RFC 9112 §9.6: close the sending half first and keep reading a while, so that a client still
    // sending (a pipelined request, a body) does not turn our close into a reset that destroys the
    // response it has not read yet.
    (void)shutdown(c.socket);
    c.phase = Phase::Lingering;
    c.linger_deadline_ns = now + kLingerMs * 1000000ull;
}

void finish_response(Connection& c, u64 now)
{
    drop_file(c);
    c.phase = Phase::Reading;
    c.parser.reset();
    // A body still to drop is part of the request just answered: it must arrive within the head
    // timeout too, or a client could hold the slot by trickling it.
    c.request_started_ns = c.discard ? now : 0;
    c.last_input_ns = now;
    if (c.close_after || c.peer_closed)
        start_linger(c, now);
}

// What a failed send means: wait for room, wait for the pool, or the connection is gone (reset).
// Returns true if the connection was released.
bool send_failed(Connection& c, Error error)
{
    if (error == Error::WouldBlock) {
        c.want_write = true;
        return false;
    }
    if (error == Error::NoBufferSpace) {
        c.pool_blocked = true;
        s->pool_short = true;
        return false;
    }
    ++s->status.resets;
    release(c, true);
    return true;
}

// Returns true if anything moved. May release the connection.
bool push_response(Connection& c, u64 now)
{
    c.want_write = false;
    c.pool_blocked = false;
    bool progress = false;
    u32 head_left = c.output_length - c.output_sent;
    if (!c.file_remaining) {
        // A generated response: head and body from the output buffer, copied.
        while (head_left) {
            auto sent = send(
                c.socket, { reinterpret_cast<u8 const*>(c.output) + c.output_sent, head_left }, abi::kSendDontWait);
            if (sent.is_error())
                return send_failed(c, sent.error()) || progress;
            c.output_sent += static_cast<u32>(sent.value());
            head_left -= static_cast<u32>(sent.value());
            s->status.bytes_sent += sent.value();
            c.last_progress_ns = now;
            progress = true;
        }
        finish_response(c, now);
        return true;
    }
    // A file: the head (what is left of it) and the file's bytes by reference, in one call, so a
    // small file leaves in one segment with its head. The connection's share of the transmit pool
    // is its send buffer.
    u64 share = min(s->share_bytes, kSendBuffer);
    if (c.send_buffer != share && !set_option(c.socket, abi::SocketOption::SendBuffer, share).is_error())
        c.send_buffer = share;
    u64 budget = kPassBytes;
    while (c.file_remaining && budget) {
        u64 count = min(c.file_remaining, budget);
        auto sent = send_file(c.socket, c.file->descriptor, c.file_offset, count,
            { reinterpret_cast<u8 const*>(c.output) + c.output_sent, head_left });
        if (sent.is_error())
            return send_failed(c, sent.error()) || progress;
        u64 total = sent.value();
        u64 from_head = min<u64>(total, head_left);
        u64 from_file = total - from_head;
        c.output_sent += static_cast<u32>(from_head);
        head_left -= static_cast<u32>(from_head);
        c.file_offset += from_file;
        c.file_remaining -= from_file;
        budget -= min(budget, from_file);
        s->status.bytes_sent += total;
        s->status.file_bytes_sent += from_file;
        c.last_progress_ns = now;
        progress = true;
        if (head_left || from_file < count) {
            // The send buffer (its share) is full: the ACKs that empty it bring kPollOut.
            c.want_write = true;
            return true;
        }
    }
    if (c.file_remaining)
        return progress; // this pass's share is queued: the next pass goes on
    finish_response(c, now);
    return true;
}

// Reads and parses until a request is complete (and answered), the socket is empty, or the peer
// is gone. `readable`: poll said there are bytes (or an end) to read. Returns true if anything
// moved. May release the connection.
bool read_requests(Connection& c, u64 now, bool readable)
{
    bool progress = false;
    for (u32 round = 0; round < 8 && c.phase == Phase::Reading; ++round) {
        if (c.input_start == c.input_end) {
            if (c.peer_closed) {
                release(c, false); // the client closed between requests or mid-head: nothing to answer
                return true;
            }
            if (!readable)
                return progress;
            auto received = receive(c.socket, { c.input, kInputBuffer }, abi::kReceiveDontWait);
            if (received.is_error()) {
                if (received.error() == Error::WouldBlock)
                    return progress;
                ++s->status.resets;
                release(c, true);
                return true;
            }
            progress = true;
            if (received.value() == 0) {
                c.peer_closed = true;
                continue;
            }
            // Less than a buffer: the socket is empty now (poll will say when there is more).
            readable = received.value() == kInputBuffer;
            c.input_start = 0;
            c.input_end = static_cast<u32>(received.value());
            s->status.input_bytes += received.value();
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
        auto received = receive(c.socket, { s->scratch, sizeof(s->scratch) }, abi::kReceiveDontWait);
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
        if (received.value() < sizeof(s->scratch))
            break;
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
            ++s->status.head_timeouts;
            respond_text(c, 408, "the request head did not arrive in time", true, false, now);
            return true;
        }
        if (!c.request_started_ns && ms_since(c.last_input_ns, now) >= kIdleTimeoutMs) {
            ++s->status.idle_closed;
            release(c, false);
            return true;
        }
        return false;
    case Phase::Sending:
        if (ms_since(c.last_progress_ns, now) >= kSendStallMs) {
            ++s->status.send_stalls;
            release(c, true);
            return true;
        }
        return false;
    case Phase::Lingering:
        if (now >= c.linger_deadline_ns) {
            release(c, false);
            return true;
        }
        return false;
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

// Whether the connection has work it can do without waiting for its socket: a response being
// sent that has not filled its send buffer, or requests already read and not yet parsed.
bool has_work(Connection const& c)
{
    if (c.phase == Phase::Sending)
        return !c.want_write && !c.pool_blocked;
    if (c.phase == Phase::Reading)
        return c.input_start < c.input_end || c.peer_closed;
    return false;
}

bool serve(Connection& c, u32 events, u64 now)
{
    bool progress = false;
    bool readable = events & (abi::kPollIn | abi::kPollHangUp | abi::kPollError);
    if (c.phase == Phase::Sending
        && (events & (abi::kPollOut | abi::kPollError | abi::kPollHangUp) || has_work(c) || c.pool_blocked))
        progress |= push_response(c, now);
    if (c.phase == Phase::Reading)
        progress |= read_requests(c, now, readable);
    if (c.phase == Phase::Sending && has_work(c))
        progress |= push_response(c, now); // a response just started: its first bytes now
    if (c.phase == Phase::Lingering && readable)
        progress |= drain_linger(c, now);
    if (c.phase != Phase::Free)
        progress |= check_timeouts(c, now);
    if (progress)
        s->dirty = true;
    return progress;
}

// The response whose client has taken nothing for the longest, if that is kStalledSendMs or more.
Connection* most_stalled_sender(u64 now)
{
    Connection* stalled = nullptr;
    for (u32 i = 0; i < kMaxConnections; ++i) {
        Connection& c = s->connections[i];
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
        Connection& c = s->connections[i];
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

Connection* free_slot()
{
    for (u32 i = 0; i < kMaxConnections; ++i) {
        if (s->connections[i].phase == Phase::Free)
            return &s->connections[i];
    }
    return nullptr;
}

bool accept_connections(u64 now)
{
    bool progress = false;
    while (true) {
        Connection* slot = free_slot();
        if (!slot) {
            // Leave the connection in the accept queue (the client waits) unless a slot can be
            // freed for it.
            slot = choose_victim(now);
            if (!slot)
                break;
            ++s->status.evicted;
            release(*slot, slot->phase == Phase::Sending); // an unfinished response ends in a reset
        }
        Endpoint peer;
        auto accepted = accept(s->listener, &peer);
        if (accepted.is_error())
            break;
        Connection& c = *slot;
        c.socket = accepted.value();
        (void)set_option(c.socket, abi::SocketOption::NonBlocking, 1);
        c.phase = Phase::Reading;
        c.parser.reset();
        c.input_start = c.input_end = 0;
        c.discard = 0;
        c.peer_closed = false;
        c.output_length = c.output_sent = 0;
        c.file = nullptr;
        c.file_remaining = 0;
        c.close_after = false;
        c.want_write = c.pool_blocked = false;
        c.send_buffer = kSendBuffer; // inherited from the listener
        c.accepted_ns = c.last_input_ns = now;
        c.request_started_ns = 0;
        c.requests = 0;
        c.peer = peer;
        ++s->status.accepted;
        s->status.peak_open = max(s->status.peak_open, ++s->status.open);
        progress = true;
    }
    return progress;
}

void publish_status(u64 now)
{
    auto& st = s->status;
    st.published_ns = now;
    st.rows = 0;
    for (u32 i = 0; i < kMaxConnections; ++i) {
        Connection const& c = s->connections[i];
        if (c.phase == Phase::Free)
            continue;
        auto& row = st.connections[st.rows++];
        row.peer_address = c.peer.address;
        row.peer_port = c.peer.port;
        row.phase = c.phase;
        row.slot = static_cast<u8>(i);
        row.requests = c.requests;
        row.descriptor = static_cast<i32>(c.socket);
        row.accepted_ns = c.accepted_ns;
        row.last_active_ns = c.phase == Phase::Sending ? c.last_progress_ns : c.last_input_ns;
    }
    // Only the rows in use: the console reads `rows` of them.
    usize bytes = sizeof(st) - sizeof(st.connections) + st.rows * sizeof(st.connections[0]);
    (void)publish({ reinterpret_cast<u8 const*>(&st), bytes });
    s->dirty = false;
    s->published_ns = now;
}

// The kernel faults in the top 16 KiB of a task's stack when it starts; the server's deepest paths
// (formatting the status page, a response head) may reach further. Touching kStackBytes now makes
// them resident before the first client, so that serving never grows the task's memory.
constexpr usize kStackBytes = 48 * 1024;

[[gnu::noinline]] void fault_in_stack()
{
    u8 depth[kStackBytes];
    for (usize i = 0; i < kStackBytes; i += 4096)
        depth[i] = 0;
    depth[kStackBytes - 1] = 0;
    asm volatile("" : : "r"(depth) : "memory"); // the writes happen
}

} // namespace

int serve(i64 listener)
{
    fault_in_stack();
    // Faulted in now: a server's memory is resident from the start, not grown by its clients.
    auto memory = map_memory(
        align_up(sizeof(State), alignof(Connection)) + kMaxConnections * sizeof(Connection), abi::kMapPopulate);
    if (memory.is_error()) {
        println("httpd: no memory for {} connections: {}", kMaxConnections, memory.error());
        return 1;
    }
    s = new (memory.value()) State;
    s->connections = reinterpret_cast<Connection*>(memory.value() + align_up(sizeof(State), alignof(Connection)));
    for (u32 i = 0; i < kMaxConnections; ++i)
        new (&s->connections[i]) Connection;
    s->listener = listener;
    (void)set_option(listener, abi::SocketOption::NonBlocking, 1);
    auto share = get_option(listener, abi::SocketOption::TransmitShare);
    s->transmit_share = share.is_error() ? 0 : share.value();
    auto files = files_status();
    s->archive = !files.is_error() && files.value().mounted;
    s->status.started_ns = clock_ns();
    s->status.connection_bytes = sizeof(Connection);

    while (true) {
        u64 now = clock_ns();
        s->pool_short = false;
        u32 senders = 0;
        for (u32 i = 0; i < kMaxConnections; ++i)
            senders += s->connections[i].phase == Phase::Sending && s->connections[i].file_remaining;
        s->share_bytes = max(kMinShareBytes, s->transmit_share * kSegmentBytes / max(senders, 1u));

        // What to wait for: the listener while a connection could be taken, each connection's
        // socket as its phase needs.
        u32 count = 0;
        bool listening = free_slot() || choose_victim(now);
        if (listening) {
            s->entries[count] = { static_cast<i32>(s->listener), abi::kPollIn, 0, 0 };
            s->polled[count++] = nullptr;
        }
        bool work = false;
        bool pool_waiting = false;
        u64 deadline = ~0ull;
        for (u32 n = 0; n < kMaxConnections; ++n) {
            Connection& c = s->connections[(s->first_slot + n) % kMaxConnections];
            if (c.phase == Phase::Free)
                continue;
            u32 events = 0;
            if (c.phase == Phase::Reading && c.input_start == c.input_end)
                events = abi::kPollIn;
            else if (c.phase == Phase::Lingering)
                events = abi::kPollIn;
            else if (c.phase == Phase::Sending && c.want_write)
                events = abi::kPollOut;
            work |= has_work(c);
            pool_waiting |= c.pool_blocked;
            deadline = min(deadline, next_deadline(c));
            s->entries[count] = { static_cast<i32>(c.socket), events, 0, 0 };
            s->polled[count++] = &c;
        }
        s->first_slot = (s->first_slot + 1) % kMaxConnections;
        i64 timeout = -1;
        if (deadline != ~0ull)
            timeout = static_cast<i64>(deadline <= now ? 1 : min(kMaxWaitMs, (deadline - now + 999999) / 1000000));
        if (pool_waiting)
            timeout = timeout < 0 ? static_cast<i64>(kPoolWaitMs) : min<i64>(timeout, kPoolWaitMs);
        if (work)
            timeout = 0;
        if (s->status.open == 0 && timeout < 0)
            close_idle_files();
        if (s->dirty && ms_since(s->published_ns, now) >= kPublishEveryMs)
            publish_status(now);
        auto polled = poll({ s->entries, count }, s->dirty && timeout != 0 ? 0 : timeout);
        if (!polled.is_error() && polled.value() == 0 && s->dirty && timeout != 0) {
            // Nothing to do: about to sleep, so the console sees the latest first.
            publish_status(now);
            auto slept = poll({ s->entries, count }, timeout);
            if (slept.is_error()) {
                println("httpd: poll: {}", slept.error());
                return 1;
            }
        } else if (polled.is_error()) {
            println("httpd: poll: {}", polled.error());
            return 1;
        }
        now = clock_ns();
        bool progress = false;
        for (u32 i = 0; i < count; ++i) {
            Connection* c = s->polled[i];
            if (!c) {
                if (s->entries[i].returned_events & abi::kPollIn)
                    progress |= accept_connections(now);
                continue;
            }
            if (c->phase != Phase::Free)
                progress |= serve(*c, s->entries[i].returned_events, now);
        }
        // Others wait for transmit buffers: a client that has taken nothing for kStalledSendMs
        // gives back what it holds.
        if (s->pool_short) {
            if (Connection* stalled = most_stalled_sender(now)) {
                ++s->status.send_stalls;
                release(*stalled, true);
                progress = true;
            }
        }
        if (progress)
            s->dirty = true;
    }
}

} // namespace skiff::user::httpd
