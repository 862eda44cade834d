#pragma once

// The stack as one object: pools, interfaces and protocol layers. The OS drives it from one
// network thread:
//
//   NetStack stack(port);
//   MUST(stack.initialize());                    // allocates every pool up front
//   u8 i = TRY(stack.attach(device, config));    // device: a NetDevice; config: NetConfig
//   loop: drivers deliver() frames; stack.poll(now_ns); sleep until min(next_deadline(), irq)
//
// The stack never reads a clock: every time it knows is the now_ns given to poll().

#include <lib/Result.h>
#include <net/Config.h>
#include <net/Counters.h>
#include <net/Interface.h>
#include <net/NetDevice.h>
#include <net/PacketPool.h>
#include <net/Port.h>
#include <net/arp/ArpCache.h>
#include <net/ethernet/EthernetFrame.h>
#include <net/ethernet/FrameTap.h>
#include <net/icmp/Icmp.h>
#include <net/ipv4/Ipv4Layer.h>
#include <net/tcp/TcpLayer.h>
#include <net/udp/UdpLayer.h>

namespace skiff::net {

class NetStack {
public:
    static constexpr u32 kMaxInterfaces = 4;
    static constexpr u32 kMaxInputQueue = 512;
    static constexpr u64 kNoDeadline = ~0ull;

    explicit NetStack(Port& port);
    ~NetStack();
    NetStack(NetStack const&) = delete;
    NetStack& operator=(NetStack const&) = delete;

    Result<void> initialize(PoolSizes sizes = {});
    // Attach a device with an address; adds the connected route and, with a gateway, the
    // default route. Returns the interface index.
    Result<u8> attach(NetDevice& device, NetConfig const& config);
    // Release every buffer the stack still holds (queues, sockets, reassembly), then the pools.
    void shutdown();
    // The interface's MTU (the kernel command line's mtu=, `ifconfig mtu N`). Error::OutOfRange
    // when the device does not take it (NetDeviceCapabilities::min_mtu/max_mtu); the device's own
    // error when it cannot switch. TCP connections keep the MSS they agreed; new ones follow.
    Result<void> set_mtu(u8 interface, u16 mtu);

    // Process received frames and run timers due at now_ns.
    void poll(u64 now_ns);
    // The earliest time poll() has timer work to do, or kNoDeadline.
    u64 next_deadline() const;
    u64 now() const { return m_now; }

    Port& port() { return m_port; }
    PacketPool& pool() { return m_pool; }
    NetCounters& counters() { return m_counters; }
    NetCounters const& counters() const { return m_counters; }
    Interface& interface(u8 index) { return m_interfaces[index]; }
    Interface const& interface(u8 index) const { return m_interfaces[index]; }
    u32 interface_count() const { return m_interface_count; }
    bool is_local_address(Ipv4Address address) const;
    // Every attached device completes TCP/UDP checksums itself (NetDeviceCapabilities): the
    // transport layers then leave the payload unsummed (PacketMeta::l4_checksum_offset).
    bool transmit_checksum_offload() const { return m_transmit_checksum_offload; }
    // TCP segmentation offload on every attached device: the largest unit (payload bytes and
    // pieces) they all take, or zeros when one of them has none. TCP cuts its output into units
    // this size; without TSO, into single segments.
    u32 tso_max_bytes() const { return m_tso_enabled ? m_tso_max_bytes : 0; }
    u16 tso_max_pieces() const { return m_tso_enabled ? m_tso_max_pieces : 0; }
    // TSO off (`ifconfig tso off`): TCP sends single segments on every device, as without TSO,
    // from the same code — the ablation's switch (docs/EVALUATION.md). On by default; on again
    // restores what the devices take. Units already handed down are not affected.
    void set_tso(bool on) { m_tso_enabled = on; }
    bool tso_enabled() const { return m_tso_enabled; }
    bool tso_available() const { return m_tso_max_bytes != 0; }
    // Is this a broadcast address on any interface?
    bool is_broadcast_address(Ipv4Address address) const;

    ArpCache& arp() { return m_arp; }
    Ipv4Layer& ipv4() { return m_ipv4; }
    Icmp& icmp() { return m_icmp; }
    UdpLayer& udp() { return m_udp; }
    TcpLayer& tcp() { return m_tcp; }

    // Ethernet output: prepend the header and hand the frame to the device.
    Result<void> transmit_frame(u8 interface, MacAddress destination, EtherType type, PacketRef packet);
    // A whole frame its sender built, Ethernet header included (a packet ring, FrameTap.h).
    Result<void> transmit_raw(u8 interface, PacketRef packet);
    // The one tap for raw frames (null: none); see net/ethernet/FrameTap.h.
    void set_frame_tap(FrameTap* tap) { m_frame_tap = tap; }

    // A batch of work whose frames share one doorbell (NetDevice::flush): frames transmitted while
    // a batch is open are only queued by drivers that can queue; closing the outermost batch
    // flushes every device. Batches nest.
    void begin_transmit_batch() { ++m_batch_depth; }
    void end_transmit_batch();
    class TransmitBatch {
    public:
        explicit TransmitBatch(NetStack& stack)
            : m_stack(stack)
        {
            m_stack.begin_transmit_batch();
        }
        ~TransmitBatch() { m_stack.end_transmit_batch(); }
        TransmitBatch(TransmitBatch const&) = delete;
        TransmitBatch& operator=(TransmitBatch const&) = delete;

    private:
        NetStack& m_stack;
    };

    // Called through NetDevice by drivers.
    void device_deliver(NetDevice& device, PacketBuffer* buffer, u32 offset, u32 length);
    void device_link_changed(NetDevice& device, bool up);
    PacketBuffer* device_allocate_receive_buffer(NetDevice& device);
    void device_set_receive_extent(NetDevice& device, u32 offset, u32 bytes);
    PayloadDestination device_place_payload(NetDevice& device, PacketBuffer& buffer, u32 offset, u32 frame_length);

private:
    void process_frame(PacketRef packet);

    Port& m_port;
    PacketPool m_pool;
    NetCounters m_counters;
    Interface m_interfaces[kMaxInterfaces];
    u32 m_interface_count { 0 };
    PacketQueue m_input;
    u64 m_now { 0 };
    u32 m_batch_depth { 0 };
    bool m_transmit_checksum_offload { false };
    u32 m_tso_max_bytes { 0 };
    u16 m_tso_max_pieces { 0 };
    bool m_tso_enabled { true };
    FrameTap* m_frame_tap { nullptr };
    ArpCache m_arp;
    Ipv4Layer m_ipv4;
    Icmp m_icmp;
    UdpLayer m_udp;
    TcpLayer m_tcp;
};

} // namespace skiff::net
