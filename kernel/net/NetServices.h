#pragma once

#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::knet {

// Services that run from boot, each a user task (user/services/): echo on port 7 (RFC 862) over
// UDP and TCP, TCP discard on 9 (RFC 863) and a ttcp/iperf sink on TCP 5001 (everything received
// is counted and dropped). Their listening sockets are opened here and handed to the tasks.
void start_services();

// How a service's listener is set up before the task gets it; accepted connections inherit it.
struct ListenerOptions {
    u32 backlog { 32 };
    u32 send_buffer { 0 };    // bytes; 0: the stack's default
    u32 receive_window { 0 }; // bytes; 0: the stack's default (or the tcp_window= boot hint)
    bool zero_copy { true };  // copy elimination on sends of user buffers
    bool nodelay { false };
};

// Starts the user program `name` as a boot-time service with a TCP listener on `port` as its
// descriptor 3 (and, with `datagram`, a UDP socket on the same port as 4): "socket activation",
// so the port answers SYNs before the task first runs. Prints one line either way; returns the
// task's id.
Result<u32> start_service(char const* name, u16 port, bool datagram, ListenerOptions const& options = {});

} // namespace skiff::knet
