#pragma once

// A simulated Ethernet between stacks for host tests: each SimDevice records what its stack
// transmits; a SimWire moves frames between two devices after a delay, with seeded loss,
// duplication and reordering, so a failing run can be replayed from its seed.

#include <net/NetDevice.h>
#include <net/NetStack.h>

#include <deque>
#include <vector>

namespace skiff::net {

class SimDevice final : public NetDevice {
public:
    explicit SimDevice(MacAddress mac, bool gather = true)
        : m_mac(mac)
        , m_gather(gather)
    {
    }
    StringView name() const override { return "sim0"; }
    MacAddress mac_address() const override { return m_mac; }
    NetDeviceCapabilities capabilities() const override
    {
        NetDeviceCapabilities caps;
        caps.gather = m_gather;
        caps.max_pieces = m_gather ? 4 : 1;
        caps.tcp_udp_checksum_offload = tso;
        caps.tso = tso;
        caps.tso_max_bytes = tso ? tso_max_bytes : 0;
        caps.tso_max_pieces = tso ? tso_max_pieces : 0;
        caps.mtu = mtu;
        return caps;
    }
    Result<void> transmit(PacketBuffer& packet) override;

    // TSO (and transmit checksum offload) as QEMU's e1000 does them (docs/hardware.md): a unit is
    // cut into segments of tso_mss payload bytes behind a copy of its headers, each with its IPv4
    // length, ID and checksum and its TCP sequence number, flags and checksum fixed up. Set
    // before attach(): the stack reads the capabilities then.
    bool tso { false };
    u16 mtu { 1500 }; // set before attach(), like tso
    u32 tso_max_bytes { 65536 };
    u16 tso_max_pieces { 64 };
    struct UnitSeen {
        u32 payload { 0 };
        u32 pieces { 0 };
        u16 mss { 0 };
        u32 sequence { 0 };
    };
    std::vector<UnitSeen> units; // every TSO unit transmitted, in order
    u64 tso_segments { 0 };

    // Hand a frame to the stack as a driver would: copied into a receive page at an offset.
    bool inject(std::vector<u8> const& frame, u32 offset = 2);

    std::deque<std::vector<u8>> sent;
    u64 pieces_seen { 0 };
    // Per transmit() call on a gathering device, the DMA address of each piece in order (a
    // retransmission can be compared with the first transmission).
    std::vector<std::vector<u64>> piece_addresses;
    // As a DMA NIC that reclaims its transmit ring later: keep a reference on every transmitted
    // buffer until release_held().
    bool hold_transmits { false };
    std::vector<PacketBuffer*> held;
    void release_held()
    {
        for (PacketBuffer* packet : held)
            packet->release();
        held.clear();
    }

private:
    MacAddress m_mac;
    bool m_gather;
};

struct WireFaults {
    u32 loss_percent { 0 };
    u32 duplicate_percent { 0 };
    u32 reorder_percent { 0 };
    u64 delay_ns { 100000 }; // 100 µs each way
};

class SimWire {
public:
    SimWire(SimDevice& a, SimDevice& b, WireFaults faults, u64 seed)
        : m_a(a)
        , m_b(b)
        , m_faults(faults)
        , m_random(seed ? seed : 1)
    {
    }
    // Take what both devices sent into the wire, and deliver what is due at now_ns.
    void step(u64 now_ns);
    u64 next_arrival() const;
    u64 delivered() const { return m_delivered; }
    u64 dropped() const { return m_dropped; }

private:
    struct InFlight {
        u64 arrival;
        SimDevice* to;
        std::vector<u8> frame;
    };
    u32 roll() { return static_cast<u32>(next_random() % 100); }
    u64 next_random();
    void take(SimDevice& from, SimDevice& to, u64 now_ns);

    SimDevice& m_a;
    SimDevice& m_b;
    WireFaults m_faults;
    u64 m_random;
    std::vector<InFlight> m_in_flight;
    u64 m_delivered { 0 };
    u64 m_dropped { 0 };
};

// Two stacks on one simulated wire: 10.0.0.1 and 10.0.0.2, /24, driven with a shared clock.
struct TwoStacks {
    // `tso`: A's device cuts TSO units (SimDevice::tso), so A sends units.
    explicit TwoStacks(WireFaults faults = {}, u64 seed = 1, bool tso = false);
    ~TwoStacks();
    // Advance time to `until`, stepping through every deadline and wire arrival on the way.
    void run_until(u64 until_ns);
    void run_for(u64 duration_ns) { run_until(now + duration_ns); }

    class HostPort* port_a;
    class HostPort* port_b;
    SimDevice device_a { { { 0x02, 0, 0, 0, 0, 1 } } };
    SimDevice device_b { { { 0x02, 0, 0, 0, 0, 2 } } };
    NetStack* a;
    NetStack* b;
    SimWire wire;
    u64 now { 1000000 };
};

} // namespace skiff::net
