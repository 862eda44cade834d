#pragma once

// What the web server (user/programs/httpd/) publishes for the console (the Publish call, lib/Abi.h)
// and the console's `httpd` (apps/httpd/HttpdCommand.cpp) reads: its counters and a row per open
// connection. Both sides build from this header, so they agree on the layout; the magic and the
// size tell the reader that what it found is this structure.

#include <lib/Abi.h>
#include <lib/Types.h>

namespace skiff::httpd {

constexpr u16 kPort = 80;
constexpr u32 kMaxConnections = 64;
constexpr char const* kTaskName = "httpd";

// The listener the kernel opens for the server at boot (and the server opens itself when started
// by hand); connections inherit these.
constexpr u32 kBacklog = 64;
// What a connection may have queued and unacknowledged: enough to keep a TCG guest's link busy.
constexpr u32 kSendBuffer = 128 * 1024;
// The receive window: requests are small, and a client that pipelines more than this waits for the
// server to catch up instead of parking data in the stack's receive pool.
constexpr u32 kReceiveWindow = 8192;

enum class Phase : u8 { Free, Reading, Sending, Lingering };

struct ConnectionRow {
    u32 peer_address; // host order
    u16 peer_port;
    Phase phase;
    u8 slot;
    u32 requests;
    i32 descriptor;     // the connection's socket in the server's table
    u64 accepted_ns;    // the kernel's monotonic clock
    u64 last_active_ns; // sending: the last response bytes queued; otherwise the last request bytes read
};
static_assert(sizeof(ConnectionRow) == 32);

struct Status {
    static constexpr u32 kMagic = 0x48545031; // "HTP1"
    u32 magic { kMagic };
    u32 size { sizeof(Status) };
    u64 started_ns { 0 };
    u64 published_ns { 0 };
    u32 open { 0 };
    u32 peak_open { 0 };
    u32 connection_bytes { 0 }; // what one connection slot costs the server
    u32 rows { 0 };             // connections[0 .. rows): the open ones
    u64 accepted { 0 };
    u64 evicted { 0 };       // closed to give their slot to a new connection
    u64 head_timeouts { 0 }; // 408
    u64 idle_closed { 0 };   // persistent connections closed after the idle timeout without a request
    u64 send_stalls { 0 };   // reset: the client stopped taking the response
    u64 resets { 0 };        // connections the peer reset or that failed
    u64 requests { 0 };
    u64 responses_by_class[6] {}; // [1] 1xx ... [5] 5xx
    u64 status_400 { 0 }, status_404 { 0 }, status_405 { 0 }, status_408 { 0 }, status_413 { 0 }, status_414 { 0 },
        status_416 { 0 }, status_431 { 0 }, status_501 { 0 }, status_505 { 0 };
    u64 bytes_sent { 0 };      // heads and bodies queued on sockets
    u64 file_bytes_sent { 0 }; // of which file bytes (SendFile, by reference)
    u64 input_bytes { 0 };     // request bytes read
    u64 file_opens { 0 };      // FileOpen calls (each file is opened once and kept: see the server)
    ConnectionRow connections[kMaxConnections] {};
};
static_assert(sizeof(Status) <= abi::kMaxPublishedBytes);

} // namespace skiff::httpd
