#pragma once

// One network stack for a fuzz input: the host port of the unit tests, a device that records
// what the stack transmits, 10.0.2.15/24 with the peer 10.0.2.2 in the ARP cache, and services
// listening (UDP and TCP echo on port 7) so that frames reach every layer. Each input gets a
// fresh stack, so a crash reproduces from its input file alone. The destructor shuts the stack
// down, which VERIFYs that every packet buffer came back to its pool: a leak on some input path
// is a crash the fuzzer reports like any other.

#include "../unit/net/HostPort.h"

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

#include <vector>

namespace skiff::fuzz {

using namespace skiff::net;

inline MacAddress const kStackMac { { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc } };
inline MacAddress const kPeerMac { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
inline Ipv4Address const kStackIp = Ipv4Address::from_octets(10, 0, 2, 15);
inline Ipv4Address const kPeerIp = Ipv4Address::from_octets(10, 0, 2, 2);
constexpr u16 kEchoPort = 7;
constexpr u64 kMillisecond = 1000000;

class FuzzDevice final : public NetDevice {
public:
    StringView name() const override { return "fuzz0"; }
    MacAddress mac_address() const override { return kStackMac; }
    NetDeviceCapabilities capabilities() const override
    {
        NetDeviceCapabilities caps;
        caps.gather = true;
        caps.max_pieces = 4;
        return caps;
    }
    // Walks the pieces as a gathering driver does (the zero-copy seg[] path included).
    Result<void> transmit(PacketBuffer& packet) override;

    // Delivers a frame as a driver would: copied into a receive page at offset 2 (a NIC cannot
    // deliver more than fits; longer inputs are cut at the page), header first as the NE2000
    // reads it (the payload straight into a posted buffer when the stack says so).
    void inject(u8 const* data, usize length);

    std::vector<std::vector<u8>> sent;
};

class FuzzStack {
public:
    FuzzStack();
    ~FuzzStack();
    FuzzStack(FuzzStack const&) = delete;
    FuzzStack& operator=(FuzzStack const&) = delete;

    // Deliver a frame and process it at the current time.
    void inject(u8 const* data, usize length)
    {
        device.inject(data, length);
        stack.poll(now);
    }
    // Move time forward by `ns`, running every timer that falls due on the way.
    void advance(u64 ns);
    // Echo what the UDP socket received (exercises the transmit path with fuzzed addresses).
    void serve_udp();
    // Whatever came before, the stack must still answer a ping from the peer ("never
    // crashes, and afterwards still answers ping"). VERIFYs an echo reply within 100 ms.
    void expect_alive();

    HostPort port { 1 };
    FuzzDevice device;
    NetStack stack { port };
    UdpSocket* udp { nullptr };
    TcpSocket* tcp_listener { nullptr };
    u64 now { 1000 * kMillisecond };
};

} // namespace skiff::fuzz
