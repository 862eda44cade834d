#pragma once

// The one interface between a NIC driver and the stack. Drivers (NE2000, e1000,
// the host tap runner's tap device, the unit tests' simulated wire) implement the virtual part;
// the stack implements the rest, which a driver calls:
//
//   receive:  PacketBuffer* buffer = allocate_receive_buffer();   // a page, for a ring slot
//             ... hardware writes one frame into buffer->storage() at some offset ...
//             deliver(buffer, offset, length);                   // the stack owns it now
//   transmit: the stack calls transmit(packet); a gathering driver walks packet.for_each_piece()
//             (headers, seg[0], seg[1], follow, then each chained payload buffer's), each
//             physically contiguous with a DMA address; one that cannot gather uses
//             packet.copy_to(0, flat). A driver that keeps the buffer after transmit() returns
//             takes packet.ref() and calls packet.release() when the hardware is done with it
//             (the chained buffers stay referenced by it meanwhile). Frames shorter than 60
//             bytes are padded by the driver.
//   TSO:      a device whose capabilities say tso gets units (packet.meta.tso_mss != 0): the
//             headers (linear region) and up to tso_max_bytes of payload in at most
//             tso_max_pieces pieces, to cut into segments of tso_mss payload bytes, each with
//             the headers copied, the IPv4 total length, ID and checksum and the TCP sequence
//             number and checksum fixed up, PSH and FIN only on the last (docs/hardware.md).
//   doorbell: a driver may only queue in transmit() and start the hardware in flush(). The stack
//             calls flush() once at the end of each batch of work (a poll(), one output run of
//             a socket), so one doorbell write carries every frame of the batch; a transmit()
//             outside any batch is followed by its flush() at once.
//   link:     set_link_up(true) when the PHY reports link; the stack sends a gratuitous ARP.

#include <lib/Result.h>
#include <lib/StringView.h>
#include <net/Address.h>
#include <net/PacketBuffer.h>

namespace skiff::net {

class NetStack;

struct NetDeviceCapabilities {
    bool gather { false }; // can transmit a packet from several pieces
    u8 max_pieces { 1 };   // pieces per packet the hardware takes (≥ 4 to gather fully)
    bool ipv4_checksum_offload { false };
    bool tcp_udp_checksum_offload { false };
    bool tso { false };       // TCP segmentation offload (see above), implies checksum offload
    u32 tso_max_bytes { 0 };  // the most payload bytes of one unit
    u16 tso_max_pieces { 0 }; // the most pieces (headers included) of one unit
    u16 mtu { 1500 };
};

struct NetDeviceCounters {
    u64 rx_packets { 0 };
    u64 rx_bytes { 0 };
    u64 rx_errors { 0 };
    u64 rx_dropped { 0 }; // no receive buffer, or the stack's input queue was full
    u64 tx_packets { 0 };
    u64 tx_bytes { 0 };
    u64 tx_errors { 0 };
    u64 tx_dropped { 0 };
    u64 tx_tso_units { 0 };    // TSO units handed to the device (each counted in tx_packets as its segments)
    u64 tx_tso_segments { 0 }; // the segments they became on the wire
};

class NetDevice {
public:
    virtual StringView name() const = 0;
    virtual MacAddress mac_address() const = 0;
    virtual NetDeviceCapabilities capabilities() const = 0;
    // Hand one frame to the hardware. An error means the frame was not sent (ring full, link
    // down); the stack counts it and drops the frame, like a real wire would.
    virtual Result<void> transmit(PacketBuffer& packet) = 0;
    // Start the hardware on everything transmit() queued since the last flush (ring the
    // doorbell). A driver that transmits inside transmit() has nothing to do.
    virtual void flush() { }

    // --- called by the driver ---
    // A page-sized receive buffer from the stack's pool, or nullptr when the pool is empty.
    PacketBuffer* allocate_receive_buffer();
    // A received frame in `buffer` at [offset, offset + length). Ownership passes to the stack;
    // the frame is processed on the stack's next poll().
    void deliver(PacketBuffer* buffer, u32 offset, u32 length);
    void set_link_up(bool up);
    bool link_up() const { return m_link_up; }
    NetDeviceCounters& counters() { return m_counters; }
    NetDeviceCounters const& counters() const { return m_counters; }
    bool is_attached() const { return m_stack != nullptr; }

protected:
    ~NetDevice() = default;

private:
    friend class NetStack;
    NetStack* m_stack { nullptr };
    u8 m_interface { 0 };
    bool m_link_up { false };
    NetDeviceCounters m_counters;
};

} // namespace skiff::net
