// Fuzz target `frame`: one Ethernet frame into a fresh stack's receive path (Ethernet, ARP,
// IPv4 with options and fragments, ICMP, UDP, TCP). Whatever it is, the stack must count and
// drop it or answer it, never crash, and give every buffer back (checked at shutdown). Then time
// moves on, so that reassembly, ARP and TCP timers run over whatever the frame left behind.

#include "FuzzStack.h"

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size)
{
    skiff::fuzz::FuzzStack harness;
    harness.inject(data, size);
    harness.serve_udp();
    harness.advance(100 * skiff::fuzz::kMillisecond);
    harness.advance(120000 * skiff::fuzz::kMillisecond); // past reassembly, RTO and TIME-WAIT limits
    harness.expect_alive();
    return 0;
}
