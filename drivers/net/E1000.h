#pragma once

// Intel 82540EM gigabit Ethernet controller (QEMU's `e1000`, PCI 8086:100E). See E1000.cpp.

#include <drivers/net/NicDriver.h>
#include <drivers/pci/Pci.h>
#include <mm/DmaBuffer.h>

namespace skiff::drivers {

// Legacy receive descriptor (8254x SDM §3.2.3, Table 3-1).
struct E1000RxDescriptor {
    u64 address;
    u16 length;
    u16 checksum;
    u8 status;
    u8 errors;
    u16 special;
};
static_assert(sizeof(E1000RxDescriptor) == 16);

// Legacy transmit descriptor (8254x SDM §3.3.3, Table 3-8).
struct E1000TxDescriptor {
    u64 address;
    u16 length;
    u8 checksum_offset;
    u8 command;
    u8 status;
    u8 checksum_start;
    u16 special;
};
static_assert(sizeof(E1000TxDescriptor) == 16);

// TCP/IP context descriptor (SDM §3.3.6, Table 3-10), written over a transmit ring slot: where
// the checksums of the data descriptors that follow start, sit and end.
struct E1000TxContextDescriptor {
    u8 ip_start;      // IPCSS
    u8 ip_offset;     // IPCSO
    u16 ip_end;       // IPCSE
    u8 tcp_start;     // TUCSS
    u8 tcp_offset;    // TUCSO
    u16 tcp_end;      // TUCSE, 0: to the end of the packet
    u32 command;      // PAYLEN 19:0, DTYP 23:20 (0000), TUCMD 31:24
    u8 status;        // STA
    u8 header_length; // HDRLEN (TSO)
    u16 mss;          // MSS (TSO)
};
static_assert(sizeof(E1000TxContextDescriptor) == 16);

class E1000 final : public NicDriver {
public:
    static constexpr u32 kRxRingSize = 256; // a multiple of 8 (RDLEN is masked to 128 bytes)
    static constexpr u32 kTxRingSize = 256;

    static Result<E1000*> create(pci::Device const& device);

    // net::NetDevice
    StringView name() const override { return "e1000"; }
    net::MacAddress mac_address() const override { return m_mac; }
    net::NetDeviceCapabilities capabilities() const override;
    Result<void> transmit(net::PacketBuffer& packet) override;
    void flush() override;

    // NicDriver
    Result<void> start() override;
    u32 poll(u32 budget) override;
    bool more_pending() const override { return m_more_pending; }
    StringView model() const override { return "e1000 (Intel 82540EM)"; }
    u32 irq() const override { return m_irq; }
    void print_rings(FormatSink& out) const override;

private:
    E1000(pci::Device const& device, pci::EnabledDevice enabled, pci::MappedBar registers, mm::DmaBuffer rx_ring,
        mm::DmaBuffer tx_ring, mm::DmaBuffer pad)
        : m_pci(device)
        , m_enabled(move(enabled))
        , m_registers_mapping(move(registers.mapping))
        , m_registers(registers.window)
        , m_rx_dma(move(rx_ring))
        , m_tx_dma(move(tx_ring))
        , m_pad_dma(move(pad))
        , m_rx_ring(reinterpret_cast<E1000RxDescriptor*>(m_rx_dma.bytes()))
        , m_tx_ring(reinterpret_cast<E1000TxDescriptor*>(m_tx_dma.bytes()))
        , m_irq(device.interrupt_line)
    {
    }
    ~E1000() = default;

    u32 read(u32 offset) const;
    void write(u32 offset, u32 value);
    void read_mac_address();
    u16 read_eeprom(u8 word);
    void initialize_link();
    Result<void> initialize_receive();
    void initialize_transmit();
    void arm_rx_slot(u32 slot, net::PacketBuffer* buffer);
    void reclaim_transmitted();
    void update_link();
    static void interrupt_entry(void* context);
    void handle_interrupt();

    pci::Device m_pci;
    pci::EnabledDevice m_enabled;       // memory decoding and bus mastering, given back with the driver
    mm::MmioRegion m_registers_mapping; // BAR0, uncached
    IoWindow m_registers;
    mm::DmaBuffer m_rx_dma;
    mm::DmaBuffer m_tx_dma;
    mm::DmaBuffer m_pad_dma; // 60 zero bytes that pad a short frame (a last descriptor)
    E1000RxDescriptor* m_rx_ring;
    E1000TxDescriptor* m_tx_ring;
    u32 m_irq;
    net::MacAddress m_mac;

    // Receive ring, network thread only. Every slot holds a buffer; the card owns [RDH, RDT).
    net::PacketBuffer* m_rx_buffers[kRxRingSize] {};
    u32 m_rx_next { 0 };            // the next descriptor the card will complete
    bool m_rx_discarding { false }; // inside a frame spanning descriptors, dropping to its EOP
    bool m_more_pending { false };

    // Transmit ring, network thread only. The card owns [m_tx_clean, m_tx_tail).
    net::PacketBuffer* m_tx_packets[kTxRingSize] {}; // at a packet's last (EOP) descriptor
    u16 m_tx_last_of[kTxRingSize] {};                // at a packet's first descriptor: its EOP slot
    u32 m_tx_tail { 0 };                             // the next free descriptor
    u32 m_tx_doorbell { 0 };                         // the last value written to TDT: the card owns [m_tx_clean, here)
    u32 m_tx_clean { 0 };
    u32 m_tx_in_flight { 0 }; // descriptors

    // Written by the interrupt handler (interrupts off), taken by poll().
    u32 m_pending_causes { 0 };
    u32 m_causes_seen { 0 };
    u64 m_rx_ring_high_water { 0 }; // most completed descriptors found by one poll
    u64 m_tx_high_water { 0 };
    u64 m_mmio_writes { 0 };
    u64 m_tx_doorbells { 0 };            // TDT writes
    u64 m_tx_contexts { 0 };             // context descriptors written
    u64 m_tx_offloaded { 0 };            // packets whose TCP/UDP checksum the card completed
    u16 m_tx_context_key { 0 };          // TUCSS << 8 | TUCSO of the context the card holds, 0: none
    u64 m_tx_batch_high_water { 0 };     // most packets carried by one TDT write
    u64 m_tx_tso_units { 0 };            // TSO units handed to the card
    u64 m_tx_tso_segments { 0 };         // the segments the card cut them into
    u64 m_tx_interrupts { 0 };           // polls that found the transmit-done cause (ring was full)
    bool m_tx_interrupt_armed { false }; // TXDW unmasked: only while the ring is full
    u32 m_tx_queued_packets { 0 };       // packets queued since the last TDT write
};

} // namespace skiff::drivers
