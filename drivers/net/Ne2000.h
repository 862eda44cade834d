#pragma once

// NE2000 (National DP8390 core) on ISA and PCI (Realtek RTL8029, 10EC:8029). See Ne2000.cpp.

#include <drivers/net/NicDriver.h>
#include <drivers/pci/Pci.h>

namespace skiff::drivers {

class Ne2000 final : public NicDriver {
public:
    enum class Bus : u8 { Isa, Pci };

    // Resets the card behind `io` and reads its MAC from the PROM; fails when nothing answers. The
    // driver keeps the mapping (if the window is memory) and the enabled PCI device.
    static Result<Ne2000*> create(Bus bus, IoWindow io, mm::MmioRegion mapping, pci::EnabledDevice enabled, u32 irq);
    // The ISA card at I/O 0x300 (QEMU's ne2k_isa default), on the IRQ line it is seen to interrupt
    // on (else ne2k_irq= from the command line, else 10).
    static Result<Ne2000*> probe_isa();
    static Result<Ne2000*> probe_pci(pci::Device const& device);

    // net::NetDevice
    StringView name() const override { return m_bus == Bus::Isa ? "ne2k0" : "ne2kpci0"; }
    net::MacAddress mac_address() const override { return m_mac; }
    net::NetDeviceCapabilities capabilities() const override;
    Result<void> transmit(net::PacketBuffer& packet) override;

    // NicDriver
    Result<void> start() override;
    u32 poll(u32 budget) override;
    bool more_pending() const override { return m_more_pending; }
    StringView model() const override { return m_bus == Bus::Isa ? "NE2000 (DP8390, ISA)" : "NE2000 (RTL8029, PCI)"; }
    u32 irq() const override { return m_irq; }
    void print_rings(FormatSink& out) const override;
    u32 receive_window_hint() const override;

private:
    Ne2000(Bus bus, IoWindow io, mm::MmioRegion mapping, pci::EnabledDevice enabled, u32 irq)
        : m_bus(bus)
        , m_io(io)
        , m_mapping(move(mapping))
        , m_enabled(move(enabled))
        , m_irq(irq)
    {
    }
    ~Ne2000() = default;

    bool reset();
    u32 find_isa_irq();
    u32 choose_isa_irq();
    void read_prom();
    void probe_memory_size();
    void initialize_registers();
    static void interrupt_entry(void* context);
    void handle_interrupt();
    u8 acknowledge_pending();
    u8 read_current_page();
    void set_boundary_before(u8 page);
    void start_remote_read(u16 address, u16 count);
    void start_remote_write(u16 address, u16 count);
    void finish_remote_dma();
    bool receive_one(u8 current_page);
    void resynchronise(u8 current_page);

    // Bytes per data-port access for packet transfers: 2 (word mode), 4 with ne2k_io32=1.
    u32 transfer_unit() const { return m_io32 ? 4 : 2; }

    Bus m_bus;
    IoWindow m_io; // the DP8390's registers, the data port and the reset port
    mm::MmioRegion m_mapping;
    pci::EnabledDevice m_enabled;
    u32 m_irq;
    net::MacAddress m_mac;
    // Card memory layout, in 256-byte pages (set up by probe_memory_size()).
    u8 m_tx_page { 0 };
    u8 m_rx_start { 0 };
    u8 m_rx_stop { 0 };
    u8 m_next_packet { 0 }; // the ring page of the next frame to read; network thread only
    bool m_more_pending { false };
    bool m_io32 { false };                  // 32-bit data-port transfers (QEMU only), from ne2k_io32=1; set once
    u8 m_pending_causes { 0 };              // ISR bits seen by the handler (interrupts off), for nicstat
    bool m_probe_request_latched { false }; // find_isa_irq() left a request pending on the line
    u64 m_tally_frame_errors { 0 };
    u64 m_tally_crc_errors { 0 };
    u64 m_tally_missed { 0 };
    u64 m_rx_ring_bytes_seen { 0 }; // high-water mark of bytes waiting in the ring
};

} // namespace skiff::drivers
