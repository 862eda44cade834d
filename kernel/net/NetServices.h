#pragma once

namespace skiff::knet {

// Services that run from boot: echo on port 7 (RFC 862) over UDP and TCP, TCP discard on 9
// (RFC 863) and a ttcp/iperf sink on TCP 5001 (everything received is counted and dropped).
void start_services();

struct ServiceStats {
    u64 udp_echo_datagrams { 0 };
    u64 udp_echo_bytes { 0 };
    u64 udp_echo_errors { 0 };
    u64 tcp_connections { 0 };
    u64 tcp_refused { 0 }; // accepted while every connection slot was busy: reset
    u64 tcp_echo_bytes { 0 };
    u64 tcp_discard_bytes { 0 };
    u64 tcp_sink_bytes { 0 };
};
ServiceStats service_stats();

} // namespace skiff::knet
