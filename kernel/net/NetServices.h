#pragma once

namespace skiff::knet {

// Services that run from boot, each a user task (user/services/): echo on port 7 (RFC 862) over
// UDP and TCP, TCP discard on 9 (RFC 863) and a ttcp/iperf sink on TCP 5001 (everything received
// is counted and dropped). Their listening sockets are opened here and handed to the tasks.
void start_services();

} // namespace skiff::knet
