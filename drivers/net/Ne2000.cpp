// NE2000: a National Semiconductor DP8390 network interface controller behind an ISA (Novell
// NE2000) or PCI (Realtek RTL8029AS) bus interface, with the frame memory on the card.
//
// References: DP8390D NIC Core datasheet (National Semiconductor, 1995) — "§n" below refers to
// its sections; National application note AN-874 "Writing Drivers for the DP8390"; QEMU 7.2's
// hw/net/ne2000.c (what the emulated card really does, summarised in docs/hardware.md).
//
// How the card works. The host never sees the card's memory directly. It moves bytes in and out
// with "remote DMA" (§10): program a start address (RSAR) and a byte count (RBCR), issue a remote
// read or write command, then read or write the data port at offset 0x10, one 16-bit word per
// access when DCR.WTS is set. Transmit: copy the frame to a transmit area in card memory and
// issue TXP with its page and length. Receive: the card writes each incoming frame into a ring of
// 256-byte pages between PSTART and PSTOP, behind a 4-byte header {status, next page, count};
// CURR is where it writes next, BNRY the last page the host has not yet freed.
//
// QEMU's card has 32 KiB of packet memory (0x4000-0xBFFF); a real NE2000 has 16 KiB. The driver
// checks which by writing and reading back a pattern at 0x8000.
//
// Zero-copy in a PIO world: transmit writes the headers and then each data segment straight from
// where it lies (an application page, a packet buffer) into card memory — a gather done by the
// CPU at the I/O port, never by first flattening the packet into one buffer in RAM. A piece of odd
// length leaves one byte over in 16-bit mode; it is carried into the next piece's first word.

#include <drivers/net/Ne2000.h>
#include <kernel/base/Arch.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Print.h>
#include <lib/ByteOrder.h>
#include <lib/StageProfile.h>

namespace skiff::drivers {

namespace {

// Register offsets from the I/O base (§8). Page 0 unless named otherwise.
namespace reg {
constexpr u32 kCommand = 0x00;      // CR, every page
constexpr u32 kPageStart = 0x01;    // PSTART (write)
constexpr u32 kPageStop = 0x02;     // PSTOP (write)
constexpr u32 kBoundary = 0x03;     // BNRY
constexpr u32 kTransmitPage = 0x04; // TPSR (write) / TSR (read)
constexpr u32 kTransmitStatus = 0x04;
constexpr u32 kTransmitCount0 = 0x05; // TBCR0/1 (write)
constexpr u32 kTransmitCount1 = 0x06;
constexpr u32 kInterruptStatus = 0x07; // ISR, write 1 to clear
constexpr u32 kRemoteAddress0 = 0x08;  // RSAR0/1
constexpr u32 kRemoteAddress1 = 0x09;
constexpr u32 kRemoteCount0 = 0x0a; // RBCR0/1
constexpr u32 kRemoteCount1 = 0x0b;
constexpr u32 kReceiveConfig = 0x0c;  // RCR (write)
constexpr u32 kTransmitConfig = 0x0d; // TCR (write) / CNTR0 frame alignment errors (read)
constexpr u32 kTallyFrameAlignment = 0x0d;
constexpr u32 kDataConfig = 0x0e; // DCR (write) / CNTR1 CRC errors (read)
constexpr u32 kTallyCrc = 0x0e;
constexpr u32 kInterruptMask = 0x0f; // IMR (write) / CNTR2 missed packets (read)
constexpr u32 kTallyMissed = 0x0f;
constexpr u32 kPhysicalAddress = 0x01; // page 1: PAR0-5
constexpr u32 kCurrentPage = 0x07;     // page 1: CURR
constexpr u32 kMulticast = 0x08;       // page 1: MAR0-7
// The NE2000 bus interface (not the DP8390): data port and reset port.
constexpr u32 kData = 0x10;
constexpr u32 kReset = 0x1f;
} // namespace reg

// CR bits (§8.1).
constexpr u8 kCrStop = 0x01;
constexpr u8 kCrStart = 0x02;
constexpr u8 kCrTransmit = 0x04;
constexpr u8 kCrRemoteRead = 0x08;
constexpr u8 kCrRemoteWrite = 0x10;
constexpr u8 kCrNoDma = 0x20; // "abort/complete remote DMA"
constexpr u8 kCrPage0 = 0x00;
constexpr u8 kCrPage1 = 0x40;

// ISR/IMR bits (§8.2).
constexpr u8 kIsrReceived = 0x01;
constexpr u8 kIsrTransmitted = 0x02;
constexpr u8 kIsrReceiveError = 0x04;
constexpr u8 kIsrTransmitError = 0x08;
constexpr u8 kIsrOverwrite = 0x10;
constexpr u8 kIsrCounters = 0x20;
constexpr u8 kIsrRemoteDmaComplete = 0x40;
constexpr u8 kIsrReset = 0x80;
// Transmit completion is not interrupt-driven: QEMU transmits inside the TXP write, and the next
// transmit() checks CR.TXP, so a transmit interrupt per frame would be pure overhead.
constexpr u8 kInterruptMask = kIsrReceived | kIsrReceiveError | kIsrTransmitError | kIsrOverwrite | kIsrCounters;

// DCR (§8.5): word-wide transfers, normal operation (not loopback), FIFO threshold 8 bytes.
constexpr u8 kDcrWordTransfer = 0x01;
constexpr u8 kDcrNormal = 0x08;
constexpr u8 kDcrFifo8 = 0x40;
// RCR (§8.3): accept broadcast; monitor mode while initialising.
constexpr u8 kRcrBroadcast = 0x04;
constexpr u8 kRcrMonitor = 0x20;
// TCR (§8.4): internal loopback while initialising.
constexpr u8 kTcrLoopback = 0x02;
// Receive status in the ring header (§8.6, RSR).
constexpr u8 kRsrReceivedOk = 0x01;
// TSR bits that mean the frame did not go out.
constexpr u8 kTsrAborted = 0x08;
constexpr u8 kTsrFifoUnderrun = 0x20;

constexpr u32 kPageBytes = 256;
constexpr u8 kMemoryFirstPage = 0x40; // packet memory starts at 0x4000 on every NE2000
constexpr u8 kTransmitPages = 6;      // 1536 bytes: one full frame
constexpr u32 kMinFrame = 60;         // Ethernet minimum without FCS: pad up to it
constexpr u32 kMaxFrame = 1518;       // with a VLAN tag, without FCS
constexpr u32 kReceiveOffset = 2;     // frame offset in a receive page: the IPv4 header 4-aligned
constexpr u16 kIsaBase = 0x300;
constexpr u32 kIoSize = 0x20; // DP8390 registers 0x00-0x0f, data port 0x10, reset 0x1f
constexpr u8 kDefaultIsaIrq = 10;

// Data-port writer that gathers pieces of any length in units of 2 bytes (DCR.WTS, the NE2000's
// word mode) or 4 (a 32-bit port access: QEMU's model moves 4 bytes per access, a real card does
// not — hence ne2k_io32=1 only): bytes short of a unit at the end of a piece are carried into the
// next one, low byte first (the card is little-endian, §10.3 byte order). Under TCG every port
// access is a call into QEMU, so a unit of 4 halves the cost per byte.
class DataPortWriter {
public:
    DataPortWriter(IoWindow io, u32 port, u32 unit)
        : m_io(io)
        , m_port(port)
        , m_unit(unit)
    {
    }
    void write(u8 const* bytes, u32 length)
    {
        while (length && m_carried) {
            carry(*bytes++);
            --length;
        }
        u32 units = length / m_unit;
        if (units) {
            if (m_unit == 4)
                m_io.write32_repeated(m_port, bytes, units);
            else
                m_io.write16_repeated(m_port, bytes, units);
        }
        for (u32 i = units * m_unit; i < length; ++i)
            carry(bytes[i]);
    }
    void write_zeros(u32 length)
    {
        for (; length; --length)
            carry(0);
    }
    void finish()
    {
        while (m_carried)
            carry(0);
    }

private:
    void carry(u8 byte)
    {
        m_carry[m_carried++] = byte;
        if (m_carried < m_unit)
            return;
        if (m_unit == 4)
            m_io.write32(m_port, load_le32(m_carry));
        else
            m_io.write16(m_port, static_cast<u16>(m_carry[0] | (m_carry[1] << 8)));
        m_carried = 0;
    }

    IoWindow m_io;
    u32 m_port;
    u32 m_unit;
    u8 m_carry[4] {};
    u32 m_carried { 0 };
};

// ne2k_io32=1: 32-bit data-port transfers (QEMU only; docs/hardware.md). Off by default.
bool io32_from_command_line()
{
    StringView value;
    u64 on = 0;
    if (command_line_value("ne2k_io32", value) && (!parse_u64(value, on) || on > 1)) {
        kprintln("ne2k: ne2k_io32={} is not 0 or 1; using 0", value);
        on = 0;
    }
    return on == 1;
}

// ne2k_irq=N, when given and usable (0 when not given).
u32 isa_irq_from_command_line()
{
    StringView value;
    u64 irq = 0;
    if (!command_line_value("ne2k_irq", value))
        return 0;
    if (!parse_u64(value, irq) || irq > 15 || irq == 0 || irq == 2) {
        kprintln("ne2k: ne2k_irq={} is not a usable ISA IRQ; ignored", value);
        return 0;
    }
    return static_cast<u32>(irq);
}

// The lines an ISA NE2000 can be set to (jumpers on a real card, irq= on QEMU's ne2k_isa).
constexpr u32 kIsaIrqCandidates[] = { 3, 4, 5, 7, 9, 10, 11, 12, 14, 15 };

u32 requested_candidates()
{
    u32 lines = 0;
    for (u32 line : kIsaIrqCandidates) {
        if (arch::irq_line_requested(line))
            lines |= 1u << line;
    }
    return lines;
}

u32 only_line(u32 lines)
{
    for (u32 line = 0; line < 16; ++line) {
        if (lines == 1u << line)
            return line;
    }
    return 0;
}

} // namespace

// --- probe and create ---------------------------------------------------------------------------

Result<Ne2000*> Ne2000::probe_isa()
{
    if (!arch::kHasIsaBus)
        return Error::NotFound;
    // Nothing decodes an unused ISA port: it reads all ones.
    IoWindow io = IoWindow::ports(kIsaBase, kIoSize);
    if (io.read8(reg::kCommand) == 0xff)
        return Error::NotFound;
    auto* card = TRY(create(Bus::Isa, io, {}, {}, kDefaultIsaIrq));
    card->m_irq = card->choose_isa_irq();
    return card;
}

// An ISA card cannot say which line it interrupts on, and QEMU's ne2k_isa defaults to IRQ 9 where
// Skiff used to assume 10: a card on another line than the driver listens to is only polled (the
// network thread's idle poll, every 250 ms). So make the card interrupt, with every line masked,
// and see which line's request register bit comes up (and, on a level-triggered line, goes down
// again with it). A remote read of zero bytes completes at once (DP8390: RDC), and with RDC
// enabled in IMR the card raises its line.
u32 Ne2000::find_isa_irq()
{
    arch::InterruptDisabler disabler;
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStart);
    m_io.write8(reg::kInterruptMask, 0);
    m_io.write8(reg::kInterruptStatus, 0xff);
    u32 before = requested_candidates();
    m_io.write8(reg::kInterruptMask, kIsrRemoteDmaComplete);
    m_io.write8(reg::kRemoteCount0, 0);
    m_io.write8(reg::kRemoteCount1, 0);
    m_io.write8(reg::kCommand, kCrPage0 | kCrRemoteRead | kCrStart);
    u32 raised = 0;
    for (u32 attempt = 0; attempt < 1000 && !(raised & ~before); ++attempt)
        raised = requested_candidates();
    // Quiet again, as initialize_registers() left it.
    m_io.write8(reg::kInterruptMask, 0);
    m_io.write8(reg::kInterruptStatus, 0xff);
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStop);
    u32 after = requested_candidates();
    u32 line = only_line(raised & ~before);
    if (!line)
        line = only_line(raised & ~after); // a level-triggered line that was already high for another reason
    // An edge-triggered controller keeps the request latched until it is taken: the first
    // interrupt after start() is the probe's, not a spurious one.
    m_probe_request_latched = line && (after >> line & 1);
    return line;
}

// The line to use: the one the card was seen to interrupt on; else ne2k_irq=, else 10. Says so
// in one line whenever that is not simply what ne2k_irq= asked for.
u32 Ne2000::choose_isa_irq()
{
    u32 configured = isa_irq_from_command_line();
    u32 found = find_isa_irq();
    u32 irq = found ? found : configured ? configured : kDefaultIsaIrq;
    if (found && configured && found != configured)
        kprintln("ne2k: the card interrupts on IRQ {}, not on IRQ {} as ne2k_irq= says: using IRQ {}", found,
            configured, found);
    else if (found && !configured)
        kprintln("ne2k: the card interrupts on IRQ {} (found by making it interrupt; ne2k_irq=N sets it)", found);
    else if (!found)
        kprintln("ne2k: could not see which line the card interrupts on; using IRQ {}{}: if that is wrong, frames "
                 "are only polled every 250 ms (set the card's line with ne2k_irq=N, qemu/run --ne2k-irq N)",
            irq, configured ? " from ne2k_irq=" : "");
    if (irq == 9)
        kprintln("ne2k: IRQ 9 is also the ACPI SCI on QEMU's pc machine; Skiff leaves ACPI events off, so the "
                 "card has the line to itself");
    return irq;
}

Result<Ne2000*> Ne2000::probe_pci(pci::Device const& device)
{
    pci::Bar const& bar = device.bars[0];
    if (!bar.is_io() || bar.size < kIoSize) {
        kprintln("ne2k-pci: BAR0 is not a usable I/O range");
        return Error::NotSupported;
    }
    if (!device.has_interrupt()) {
        kprintln("ne2k-pci: no interrupt line routed to INT{}#",
            static_cast<char>('A' + max<u8>(device.interrupt_pin, 1) - 1));
        return Error::NotSupported;
    }
    auto registers = TRY(pci::map_bar(device, 0));
    auto enabled = TRY(pci::enable(device, pci::command::kIoSpace));
    return create(Bus::Pci, registers.window, move(registers.mapping), move(enabled), device.interrupt_line);
}

Result<Ne2000*> Ne2000::create(Bus bus, IoWindow io, mm::MmioRegion mapping, pci::EnabledDevice enabled, u32 irq)
{
    auto* card = new (std::nothrow) Ne2000(bus, io, move(mapping), move(enabled), irq);
    if (!card)
        return Error::NoMemory;
    if (!card->reset()) {
        kprintln("ne2k: no DP8390 answers at I/O {:#x}", io.base());
        delete card;
        return Error::NotFound;
    }
    card->read_prom();
    card->probe_memory_size();
    card->m_io32 = io32_from_command_line();
    card->initialize_registers();
    return card;
}

// Reading the reset port pulses the card's reset; ISR.RST reports completion (§7, NE2000 bus
// interface). The card then sits stopped with every interrupt masked.
bool Ne2000::reset()
{
    m_io.write8(reg::kReset, m_io.read8(reg::kReset));
    for (u32 attempt = 0; attempt < 100000; ++attempt) {
        if (m_io.read8(reg::kInterruptStatus) & kIsrReset) {
            m_io.write8(reg::kInterruptStatus, 0xff);
            return true;
        }
    }
    return false;
}

// The station address PROM occupies card addresses 0-31; in word mode each byte appears twice
// (the NE2000 wires the 8-bit PROM to both data lanes), so the MAC is every other byte.
void Ne2000::read_prom()
{
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStop);
    m_io.write8(reg::kDataConfig, kDcrWordTransfer | kDcrNormal | kDcrFifo8);
    m_io.write8(reg::kRemoteCount0, 0);
    m_io.write8(reg::kRemoteCount1, 0);
    m_io.write8(reg::kInterruptMask, 0);
    m_io.write8(reg::kInterruptStatus, 0xff);
    // Remote DMA needs the card started; monitor mode and loopback keep it off the wire (this is
    // the order Linux's ne.c probe uses).
    m_io.write8(reg::kReceiveConfig, kRcrMonitor);
    m_io.write8(reg::kTransmitConfig, kTcrLoopback);
    u16 words[16];
    start_remote_read(0, sizeof(words));
    m_io.read16_repeated(reg::kData, words, 16);
    finish_remote_dma();
    for (int i = 0; i < 6; ++i)
        m_mac.bytes[i] = static_cast<u8>(words[i]);
}

void Ne2000::probe_memory_size()
{
    // Transmit area first, then the receive ring up to the end of packet memory.
    m_tx_page = kMemoryFirstPage;
    m_rx_start = static_cast<u8>(kMemoryFirstPage + kTransmitPages);
    m_rx_stop = 0x80;
    u16 const pattern[2] = { 0x5a3c, 0xc3a5 };
    start_remote_write(0x8000, sizeof(pattern));
    m_io.write16_repeated(reg::kData, pattern, 2);
    finish_remote_dma();
    u16 readback[2] = {};
    start_remote_read(0x8000, sizeof(readback));
    m_io.read16_repeated(reg::kData, readback, 2);
    finish_remote_dma();
    if (readback[0] == pattern[0] && readback[1] == pattern[1])
        m_rx_stop = 0xc0; // 32 KiB of packet memory (QEMU)
}

// DP8390 §11.0 "Initialization Procedure", in its order.
void Ne2000::initialize_registers()
{
    // 1. Stop, page 0, abort remote DMA.
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStop);
    // 2. DCR: word transfers, normal operation.
    m_io.write8(reg::kDataConfig, kDcrWordTransfer | kDcrNormal | kDcrFifo8);
    // 3. Clear the remote byte count.
    m_io.write8(reg::kRemoteCount0, 0);
    m_io.write8(reg::kRemoteCount1, 0);
    // 4. RCR: monitor mode (nothing stored) until we are ready.
    m_io.write8(reg::kReceiveConfig, kRcrMonitor);
    // 5. TCR: internal loopback, so nothing goes out either.
    m_io.write8(reg::kTransmitConfig, kTcrLoopback);
    // 6. The receive ring: PSTART, PSTOP, BNRY.
    m_io.write8(reg::kPageStart, m_rx_start);
    m_io.write8(reg::kPageStop, m_rx_stop);
    m_io.write8(reg::kBoundary, m_rx_start);
    // 7. Clear every interrupt status; 8. mask everything until start().
    m_io.write8(reg::kInterruptStatus, 0xff);
    m_io.write8(reg::kInterruptMask, 0);
    // 9. Page 1: physical address, multicast filter (none), CURR one past BNRY.
    m_io.write8(reg::kCommand, kCrPage1 | kCrNoDma | kCrStop);
    for (u16 i = 0; i < 6; ++i)
        m_io.write8(reg::kPhysicalAddress + i, m_mac.bytes[i]);
    for (u16 i = 0; i < 8; ++i)
        m_io.write8(reg::kMulticast + i, 0);
    m_next_packet = static_cast<u8>(m_rx_start + 1);
    m_io.write8(reg::kCurrentPage, m_next_packet);
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStop);
}

net::NetDeviceCapabilities Ne2000::capabilities() const
{
    net::NetDeviceCapabilities caps;
    caps.gather = true; // at the I/O port: any number of pieces
    caps.max_pieces = 8;
    caps.mtu = 1500;
    return caps;
}

Result<void> Ne2000::start()
{
    VERIFY(is_attached());
    if (auto result = register_irq_handler(m_irq, interrupt_entry, this); result.is_error()) {
        kprintln("{}: interrupt line {} is not usable ({})", name(), m_irq, result.error());
        return result.error();
    }
    {
        arch::InterruptDisabler disabler;
        // 10. Start the NIC; 11. TCR normal; 12. RCR: our address and broadcast.
        m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStart);
        m_io.write8(reg::kTransmitConfig, 0);
        m_io.write8(reg::kReceiveConfig, kRcrBroadcast);
        m_io.write8(reg::kInterruptStatus, 0xff);
        m_io.write8(reg::kInterruptMask, kInterruptMask);
    }
    // The NE2000 has no link status register: a 10BASE-T card with its cable in is "up".
    set_link_up(true);
    kprintln("{}: {} at I/O {:#x} IRQ {}, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {} KiB ring", name(), model(),
        m_io.base(), m_irq, m_mac.bytes[0], m_mac.bytes[1], m_mac.bytes[2], m_mac.bytes[3], m_mac.bytes[4],
        m_mac.bytes[5], (m_rx_stop - m_rx_start) * kPageBytes / 1024);
    return {};
}

// --- remote DMA (§10) ----------------------------------------------------------------------------
// Callers hold interrupts off: the handler also uses page 0 registers, and a remote DMA must not
// be interleaved with anything else.

void Ne2000::start_remote_read(u16 address, u16 count)
{
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStart);
    m_io.write8(reg::kRemoteCount0, static_cast<u8>(count));
    m_io.write8(reg::kRemoteCount1, static_cast<u8>(count >> 8));
    m_io.write8(reg::kRemoteAddress0, static_cast<u8>(address));
    m_io.write8(reg::kRemoteAddress1, static_cast<u8>(address >> 8));
    m_io.write8(reg::kCommand, kCrPage0 | kCrRemoteRead | kCrStart);
}

void Ne2000::start_remote_write(u16 address, u16 count)
{
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStart);
    // AN-874: clear a stale RDC before starting, so the completion check below sees this one.
    m_io.write8(reg::kInterruptStatus, kIsrRemoteDmaComplete);
    m_io.write8(reg::kRemoteCount0, static_cast<u8>(count));
    m_io.write8(reg::kRemoteCount1, static_cast<u8>(count >> 8));
    m_io.write8(reg::kRemoteAddress0, static_cast<u8>(address));
    m_io.write8(reg::kRemoteAddress1, static_cast<u8>(address >> 8));
    m_io.write8(reg::kCommand, kCrPage0 | kCrRemoteWrite | kCrStart);
}

// The remote DMA completes when the byte count reaches zero (ISR.RDC). QEMU completes it inside
// the last data-port access; a real card within a few bus cycles, so the wait is bounded.
void Ne2000::finish_remote_dma()
{
    for (u32 attempt = 0; attempt < 1000; ++attempt) {
        if (m_io.read8(reg::kInterruptStatus) & kIsrRemoteDmaComplete)
            break;
    }
    m_io.write8(reg::kInterruptStatus, kIsrRemoteDmaComplete);
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStart);
}

// --- transmit -----------------------------------------------------------------------------------

Result<void> Ne2000::transmit(net::PacketBuffer& packet)
{
    u32 length = packet.total_length();
    if (length > kMaxFrame || length == 0) {
        ++counters().tx_errors;
        return Error::MessageTooLong;
    }
    u32 padded = max(length, kMinFrame);
    u16 dma_count = static_cast<u16>((padded + transfer_unit() - 1) & ~(transfer_unit() - 1));

    arch::InterruptDisabler disabler;
    // One transmit area: the previous frame must have left (QEMU sends inside the TXP write).
    if (m_io.read8(reg::kCommand) & kCrTransmit) {
        ++m_driver_counters.tx_ring_full;
        return Error::Busy;
    }
    u8 status = m_io.read8(reg::kTransmitStatus);
    if (status & (kTsrAborted | kTsrFifoUnderrun))
        ++counters().tx_errors; // the previous frame failed on the wire

    start_remote_write(static_cast<u16>(m_tx_page * kPageBytes), dma_count);
    DataPortWriter writer(m_io, reg::kData, transfer_unit());
    for (u32 i = 0; i < packet.piece_count(); ++i) {
        net::BufferPiece piece = packet.piece(i);
        writer.write(piece.virt, piece.length);
        ++m_driver_counters.tx_pieces;
    }
    writer.write_zeros(padded - length);
    writer.finish();
    finish_remote_dma();

    m_io.write8(reg::kTransmitPage, m_tx_page);
    m_io.write8(reg::kTransmitCount0, static_cast<u8>(padded));
    m_io.write8(reg::kTransmitCount1, static_cast<u8>(padded >> 8));
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrTransmit | kCrStart);
    // The card holds its own copy now: the packet buffer goes back to the stack at once.
    return {};
}

// --- interrupts ---------------------------------------------------------------------------------

void Ne2000::interrupt_entry(void* context)
{
    profile::ScopedStage stage(profile::Stage::ReceiveDriver, 0); // LyraNET Fig. 6: the ISR is driver time
    static_cast<Ne2000*>(context)->handle_interrupt();
}

// Write-1-to-clear every pending cause we enabled, and repeat until none is left: the card's line
// is (ISR & IMR) != 0 and the 8259 is edge-triggered, so a cause that arrives while another is
// still set would otherwise never raise a new edge, and the card would go silent.
u8 Ne2000::acknowledge_pending()
{
    u8 seen = 0;
    for (u32 round = 0; round < 32; ++round) {
        u8 pending = m_io.read8(reg::kInterruptStatus) & kInterruptMask;
        if (!pending)
            break;
        m_io.write8(reg::kInterruptStatus, pending);
        seen |= pending;
    }
    if (seen & kIsrCounters) {
        // Reading the tally counters clears them and ISR.CNT's cause (§8.7).
        m_tally_frame_errors += m_io.read8(reg::kTallyFrameAlignment);
        m_tally_crc_errors += m_io.read8(reg::kTallyCrc);
        m_tally_missed += m_io.read8(reg::kTallyMissed);
    }
    m_pending_causes |= seen;
    return seen;
}

// Runs with interrupts off and the card on page 0 (the network thread holds interrupts off
// whenever it selects another page or runs a remote DMA).
void Ne2000::handle_interrupt()
{
    ++m_driver_counters.interrupts;
    if (!acknowledge_pending()) {
        if (m_probe_request_latched)
            m_probe_request_latched = false; // find_isa_irq()'s request, delivered now
        else
            ++m_driver_counters.spurious_interrupts;
        return;
    }
    wake_network_thread();
}

// --- receive ------------------------------------------------------------------------------------

u8 Ne2000::read_current_page()
{
    m_io.write8(reg::kCommand, kCrPage1 | kCrNoDma | kCrStart);
    u8 current = m_io.read8(reg::kCurrentPage);
    m_io.write8(reg::kCommand, kCrPage0 | kCrNoDma | kCrStart);
    return current;
}

// BNRY trails the next frame to read by one page: the card stops storing before it reaches BNRY.
void Ne2000::set_boundary_before(u8 page)
{
    u8 boundary = page == m_rx_start ? static_cast<u8>(m_rx_stop - 1) : static_cast<u8>(page - 1);
    m_io.write8(reg::kBoundary, boundary);
}

// A header that makes no sense (a torn ring after an overflow on real hardware) cannot be walked
// past safely: drop everything the card has stored and continue from where it writes now.
void Ne2000::resynchronise(u8 current_page)
{
    ++m_driver_counters.resyncs;
    ++counters().rx_errors;
    m_next_packet = current_page;
    set_boundary_before(current_page);
}

// Reads the frame at m_next_packet into a page buffer and hands it to the stack. Interrupts are
// off. Returns false when the ring was resynchronised instead.
bool Ne2000::receive_one(u8 current_page)
{
    u8 header[4];
    start_remote_read(static_cast<u16>(m_next_packet * kPageBytes), sizeof(header));
    if (m_io32)
        m_io.read32_repeated(reg::kData, header, 1);
    else
        m_io.read16_repeated(reg::kData, header, 2);
    finish_remote_dma();
    u8 status = header[0];
    u8 next = header[1];
    u32 count = header[2] | (header[3] << 8);
    // The header can be trusted as far as it is self-consistent: `next` inside the ring, and the
    // pages from here to `next` matching `count` — ceil((count + 4) / 256) as QEMU lays frames
    // out (count = header + frame, no FCS; it adds 4 more), ceil(count / 256) on a DP8390 (count
    // includes the FCS).
    u32 ring_pages = m_rx_stop - m_rx_start;
    bool next_in_ring = next >= m_rx_start && next < m_rx_stop;
    u32 span = next_in_ring ? (next + ring_pages - m_next_packet) % ring_pages : 0;
    bool consistent = (status & kRsrReceivedOk) && next_in_ring && span != 0
        && (span == (count + 4 + kPageBytes - 1) / kPageBytes || span == (count + kPageBytes - 1) / kPageBytes);
    if (!consistent) {
        ++m_driver_counters.rx_bad_frames;
        if (m_driver_counters.resyncs < 5)
            kprintln(
                "{}: bad ring header at page {:#x} (status {:#x} next {:#x} count {}), CURR {:#x}: resynchronising",
                name(), m_next_packet, status, next, count, current_page);
        resynchronise(current_page);
        return false;
    }
    // QEMU stores no FCS: count is the 4-byte header plus the frame (docs/hardware.md).
    u32 length = count >= 4 ? count - 4 : 0;
    if (length < kMinFrame || length > kMaxFrame + 4) {
        // A well-formed ring entry holding a frame of impossible length (QEMU stores frames of
        // any length the tap hands it): step over just this one.
        ++m_driver_counters.rx_bad_frames;
        ++counters().rx_errors;
        m_next_packet = next;
        set_boundary_before(next);
        return false;
    }
    if (length > kMaxFrame)
        length = kMaxFrame; // a frame with its FCS stored (real DP8390): the stack ignores the tail

    net::PacketBuffer* buffer = allocate_receive_buffer();
    if (!buffer) {
        ++m_driver_counters.rx_no_buffer;
    } else {
        // The remote read wraps from PSTOP to PSTART by itself (§10.1), so one read takes a
        // frame that wraps around the end of the ring.
        // In units of the transfer size; the page buffer has room for the bytes past the frame.
        u32 unit = transfer_unit();
        u16 units = static_cast<u16>((length + unit - 1) / unit);
        start_remote_read(static_cast<u16>(m_next_packet * kPageBytes + 4), static_cast<u16>(units * unit));
        if (m_io32)
            m_io.read32_repeated(reg::kData, buffer->storage() + kReceiveOffset, units);
        else
            m_io.read16_repeated(reg::kData, buffer->storage() + kReceiveOffset, units);
        finish_remote_dma();
    }
    m_next_packet = next;
    set_boundary_before(next);
    if (buffer)
        deliver(buffer, kReceiveOffset, length);
    return true;
}

u32 Ne2000::poll(u32 budget)
{
    ++m_driver_counters.polls;
    u32 received = 0;
    m_more_pending = false;
    u8 current;
    {
        arch::InterruptDisabler disabler;
        // Catch any cause whose edge was lost (belt and braces: the handler loops already).
        acknowledge_pending();
        current = read_current_page();
    }
    u32 ring_pages = m_rx_stop - m_rx_start;
    u32 waiting = (current + ring_pages - m_next_packet) % ring_pages;
    m_rx_ring_bytes_seen = max<u64>(m_rx_ring_bytes_seen, waiting * kPageBytes);
    while (m_next_packet != current) {
        if (received == budget) {
            m_more_pending = true;
            ++m_driver_counters.rx_budget_exhausted;
            break;
        }
        // Interrupts off for one frame at a time: the handler must not touch the card mid-DMA.
        arch::InterruptDisabler disabler;
        if (receive_one(current))
            ++received;
        if (m_next_packet == current)
            current = read_current_page();
    }
    return received;
}

// QEMU's model decides "room for a frame" as (BNRY - CURR) >= 1518 bytes and treats CURR == BNRY
// as an empty ring. When a full-size frame arrives with exactly six pages left, it is stored,
// CURR lands on BNRY, and from then on the model overwrites frames not yet read (the driver sees a
// torn header and resynchronises, counted in `resyncs`). A real DP8390 stops before BNRY instead.
// Only a sender that never has more in flight than the ring holds avoids it: a TCP window of the
// full-size frames that fit, less three for ACK-clocked slack and other traffic.
u32 Ne2000::receive_window_hint() const
{
    constexpr u32 kPagesPerFullFrame = 6; // 4-byte header + 1514 bytes, in 256-byte pages
    constexpr u32 kMss = 1460;
    u32 frames = (m_rx_stop - m_rx_start) / kPagesPerFullFrame;
    return frames > 4 ? (frames - 3) * kMss : kMss;
}

void Ne2000::print_rings(FormatSink& out) const
{
    u32 ring_pages = m_rx_stop - m_rx_start;
    format(out, "  card memory: tx page {:#x} (1 frame), rx ring pages {:#x}-{:#x} ({} KiB), next {:#x}\n", m_tx_page,
        m_rx_start, m_rx_stop, ring_pages * kPageBytes / 1024, m_next_packet);
    format(out, "  ring occupancy high-water {} bytes; tally: frame {} crc {} missed {}; causes seen {:#x}\n",
        m_rx_ring_bytes_seen, m_tally_frame_errors, m_tally_crc_errors, m_tally_missed, m_pending_causes);
    format(out, "  data port: {}-bit transfers{}\n", m_io32 ? 32 : 16, m_io32 ? " (ne2k_io32=1, QEMU only)" : "");
}

} // namespace skiff::drivers
