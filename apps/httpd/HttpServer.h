#pragma once

// Skiff's web server: HTTP/1.1 on TCP port 80, from boot, serving the boot archive's files
// (kernel/fs/BootArchive.h) and one generated page, /status. docs/httpd.md describes it.
//
// One kernel thread serves every connection, event-driven like the other boot-time services
// (kernel/net/NetServices.cpp): the listener and all connections share one waiter, and each pass
// does what the sockets allow without blocking. Per connection: a request parser
// (apps/httpd/protocol/RequestParser.h) fed as bytes arrive, one response at a time (pipelined
// requests wait in the socket and in a 1 KiB input buffer), and deadlines: the whole head within
// kHeadTimeoutMs (else 408), an idle persistent connection closed after kIdleTimeoutMs, a
// response that the client stops taking aborted after kSendStallMs (sooner when others need its
// slot or its transmit buffers). When every slot is taken a new connection takes the slot of one
// that has sat idle or mid-head the longest, and each sender keeps only its fair share of the
// stack's transmit pool queued, so slow or hostile clients cannot lock others out.

#include <lib/Types.h>

namespace skiff::apps::httpd {

constexpr u16 kPort = 80;
constexpr u32 kMaxConnections = 64;
constexpr u64 kHeadTimeoutMs = 10000;
constexpr u64 kIdleTimeoutMs = 15000;
constexpr u64 kSendStallMs = 30000;
constexpr u64 kLingerMs = 2000;
// A request body (GET with Content-Length) up to this size is read and dropped; above it, 413.
constexpr u64 kMaxDiscardedBody = 64 * 1024;

// Opens the listener and starts the server thread; prints a line if it cannot. Needs the network
// (knet::initialize) and the archive (kfs::initialize) first; without an archive it still serves
// /status and answers 404.
void start();

struct Stats {
    bool running { false };
    u32 open { 0 };
    u32 peak_open { 0 };
    u64 accepted { 0 };
    u64 evicted { 0 };       // closed to give their slot to a new connection
    u64 head_timeouts { 0 }; // 408
    u64 idle_closed { 0 };   // persistent connections closed after kIdleTimeoutMs without a request
    u64 send_stalls { 0 };   // aborted: the client stopped taking the response
    u64 resets { 0 };        // connections the peer reset or that failed
    u64 requests { 0 };
    u64 responses_by_class[6] {}; // [1] 1xx ... [5] 5xx
    u64 status_400 { 0 }, status_404 { 0 }, status_405 { 0 }, status_408 { 0 }, status_413 { 0 }, status_414 { 0 },
        status_416 { 0 }, status_431 { 0 }, status_501 { 0 }, status_505 { 0 };
    u64 bytes_sent { 0 };      // heads and bodies queued on sockets
    u64 file_bytes_sent { 0 }; // of which file bytes (through knet::send_file_range)
    u64 input_bytes { 0 };     // request bytes read
};
Stats stats();

// One open connection, for the console.
struct ConnectionInfo {
    u32 slot;
    u32 peer_address; // host order
    u16 peer_port;
    char const* phase; // "reading", "sending", "closing"
    u32 requests;
    u64 age_ms;
    u64 idle_ms;
    u64 send_queued;
};
// Calls visit for each open connection (the stack lock is held: keep it short).
void for_each_connection(void (*visit)(ConnectionInfo const& info, void* context), void* context);

// The bytes one connection slot costs, for the docs and `httpd`.
usize connection_bytes();

} // namespace skiff::apps::httpd
