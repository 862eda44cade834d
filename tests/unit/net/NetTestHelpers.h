#pragma once

// Frame builders and a one-stack harness for the network unit tests. Frames are built byte by
// byte here, independently of the stack's own writers, so golden-byte tests compare two
// implementations.

#include "HostPort.h"
#include "SimWire.h"

#include <net/Checksum.h>
#include <net/NetStack.h>

#include <gtest/gtest.h>
#include <vector>

namespace skiff::net::test {

using Bytes_ = std::vector<u8>;

inline MacAddress const kStackMac { { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc } };
inline MacAddress const kPeerMac { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
inline Ipv4Address const kStackIp = Ipv4Address::from_octets(10, 0, 2, 15);
inline Ipv4Address const kPeerIp = Ipv4Address::from_octets(10, 0, 2, 2);

inline void put16(Bytes_& v, size_t at, u16 x)
{
    v[at] = static_cast<u8>(x >> 8);
    v[at + 1] = static_cast<u8>(x);
}
inline void put32(Bytes_& v, size_t at, u32 x)
{
    put16(v, at, static_cast<u16>(x >> 16));
    put16(v, at + 2, static_cast<u16>(x));
}
inline u16 get16(Bytes_ const& v, size_t at)
{
    return static_cast<u16>((v[at] << 8) | v[at + 1]);
}

inline Bytes_ ethernet(MacAddress dst, MacAddress src, u16 type, Bytes_ const& payload)
{
    Bytes_ f(14);
    for (int i = 0; i < 6; ++i) {
        f[i] = dst.bytes[i];
        f[6 + i] = src.bytes[i];
    }
    put16(f, 12, type);
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

inline u16 checksum_of(Bytes_ const& bytes, size_t from, size_t length)
{
    return internet_checksum({ bytes.data() + from, length });
}

struct IpFields {
    Ipv4Address source { kPeerIp };
    Ipv4Address destination { kStackIp };
    u8 protocol { 17 };
    u16 identification { 0x1234 };
    u16 flags_fragment { 0 };
    u8 ttl { 64 };
    Bytes_ options {};
};

inline Bytes_ ipv4(IpFields const& f, Bytes_ const& payload)
{
    size_t header = 20 + f.options.size();
    Bytes_ p(header);
    p[0] = static_cast<u8>(0x40 | (header / 4));
    put16(p, 2, static_cast<u16>(header + payload.size()));
    put16(p, 4, f.identification);
    put16(p, 6, f.flags_fragment);
    p[8] = f.ttl;
    p[9] = f.protocol;
    put32(p, 12, f.source.value);
    put32(p, 16, f.destination.value);
    std::copy(f.options.begin(), f.options.end(), p.begin() + 20);
    put16(p, 10, checksum_of(p, 0, header));
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

inline Bytes_ udp(Ipv4Address src, Ipv4Address dst, u16 sport, u16 dport, Bytes_ const& data)
{
    Bytes_ u(8);
    put16(u, 0, sport);
    put16(u, 2, dport);
    put16(u, 4, static_cast<u16>(8 + data.size()));
    u.insert(u.end(), data.begin(), data.end());
    ChecksumAccumulator sum;
    add_pseudo_header(sum, src, dst, 17, static_cast<u16>(u.size()));
    sum.add({ u.data(), u.size() });
    u16 c = sum.finish();
    put16(u, 6, c ? c : 0xffff);
    return u;
}

inline Bytes_ icmp_echo(u8 type, u16 id, u16 seq, Bytes_ const& data)
{
    Bytes_ m(8);
    m[0] = type;
    put16(m, 4, id);
    put16(m, 6, seq);
    m.insert(m.end(), data.begin(), data.end());
    put16(m, 2, checksum_of(m, 0, m.size()));
    return m;
}

inline Bytes_ frame_to_stack(IpFields const& f, Bytes_ const& payload)
{
    return ethernet(kStackMac, kPeerMac, 0x0800, ipv4(f, payload));
}

inline Bytes_ pattern(size_t n, u32 seed = 1)
{
    Bytes_ v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<u8>((i * 131 + seed * 17) >> 1);
    return v;
}

// One stack at 10.0.2.15/24 (gateway 10.0.2.2) on a SimDevice; the peer's MAC is known statically
// unless a test wants ARP in the way.
class StackHarness : public ::testing::Test {
protected:
    void SetUp() override
    {
        port = new HostPort(42);
        device = new SimDevice(kStackMac);
        device->tso = device_tso;
        device->mtu = device_mtu;
        stack = new NetStack(*port);
        PoolSizes sizes;
        sizes.transmit = 64;
        sizes.receive = 128;
        MUST(stack->initialize(sizes));
        MUST(stack->attach(*device, NetConfig {}));
        device->set_link_up(true);
        device->sent.clear(); // the gratuitous ARP
        if (static_peer)
            MUST(stack->arp().add_static(0, kPeerIp, kPeerMac));
        stack->poll(now);
    }
    void TearDown() override
    {
        // Every test ends with the pools back where they started: nothing held by queues,
        // sockets, ARP or reassembly.
        EXPECT_EQ(stack->pool().in_use(), 0u);
        stack->shutdown();
        EXPECT_EQ(port->pages_allocated(), 0u);
        EXPECT_EQ(port->pins_held(), 0u);
        delete stack;
        delete device;
        delete port;
    }
    // Feed a frame and process it.
    void inject(Bytes_ const& frame)
    {
        ASSERT_TRUE(device->inject(frame));
        stack->poll(now);
    }
    void advance(u64 ns)
    {
        now += ns;
        stack->poll(now);
    }
    Bytes_ take_sent()
    {
        EXPECT_FALSE(device->sent.empty());
        if (device->sent.empty())
            return {};
        Bytes_ f = device->sent.front();
        device->sent.pop_front();
        return f;
    }
    void expect_pools_idle() { EXPECT_EQ(stack->pool().in_use(), 0u); }

    bool static_peer { true };
    bool device_tso { false }; // set in a fixture's constructor: the device cuts TSO units
    u16 device_mtu { 1500 };   // likewise: the device's MTU
    HostPort* port { nullptr };
    SimDevice* device { nullptr };
    NetStack* stack { nullptr };
    u64 now { 5000000000ull };
};

} // namespace skiff::net::test
