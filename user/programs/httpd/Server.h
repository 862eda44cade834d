#pragma once

// Skiff's web server as a user program: HTTP/1.1 on TCP port 80 from boot, serving the boot
// archive's files by reference (the SendFile call: no byte of a file is copied, in the task or
// the kernel) and one generated page, /status. docs/httpd.md describes it.
//
// One thread serves every connection, event-driven like the other boot-time services
// (user/services/): it polls the listener and the connections, and does what the sockets allow
// without blocking. Per connection: a request parser (apps/httpd/protocol/RequestParser.h) fed as
// bytes arrive, one response at a time (pipelined requests wait in the socket and in a 1 KiB input
// buffer), and deadlines: the whole head within kHeadTimeoutMs (else 408), an idle persistent
// connection closed after kIdleTimeoutMs, a response that the client stops taking reset after
// kSendStallMs (sooner when others need its slot or the stack's transmit buffers). When every slot
// is taken a new connection takes the slot of one that has sat idle or mid-head the longest, and
// each sender keeps only its fair share of the stack's transmit pool queued, so slow or hostile
// clients cannot lock others out.
//
// Its counters and connections go to the console through the Publish call (apps/httpd/Status.h):
// the console's `httpd` shows them.

#include <lib/Types.h>

namespace skiff::user::httpd {

constexpr u64 kHeadTimeoutMs = 10000;
constexpr u64 kIdleTimeoutMs = 15000;
constexpr u64 kSendStallMs = 30000;
constexpr u64 kLingerMs = 2000;
// A request body (GET with Content-Length) up to this size is read and dropped; above it, 413.
constexpr u64 kMaxDiscardedBody = 64 * 1024;

// Serves on `listener` (a listening TCP socket) until the task is killed; returns only if it
// cannot start (no memory), with the exit code.
int serve(i64 listener);

} // namespace skiff::user::httpd
