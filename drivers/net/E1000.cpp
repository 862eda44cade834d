// Intel 82540EM gigabit Ethernet controller, as QEMU's `e1000` device models it.
//
// References: "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual"
// (8254x SDM, Intel 317453) — "SDM §n" below; QEMU 7.2 hw/net/e1000.c (docs/hardware.md sums up
// where the model differs from the chip).
//
// Shape. Registers through BAR0 (128 KiB MMIO, 32-bit accesses, mapped uncached); BAR1's I/O
// window is ignored. Both rings live in physically contiguous DMA memory.
// - Receive: 256 legacy descriptors, each pointing into its own page-sized packet buffer from the
//   stack's pool, at offset 2 so the IPv4 header lands 4-byte aligned (the 82540EM needs no
//   buffer alignment, SDM §3.2.1). A completed buffer is handed to the stack as it is — no copy —
//   and a fresh one takes its slot at once; RDT is written once per poll, after the whole batch.
// - Transmit: 256 descriptors; one packet spans as many as it has pieces (headers, then each
//   payload buffer's seg[0], seg[1], follow — each physically contiguous: LyraNET §3.4's page
//   splitting happened when the stack built the buffer), two pieces that continue each other in
//   memory sharing one descriptor. A TSO unit (up to 64 KiB, PacketMeta::tso_mss) is one context
//   descriptor and its data descriptors; the card cuts it into segments. RS is set on the last
//   descriptor only; when the card writes DD there, the whole packet is done and its buffer
//   (with the unit's chain) is released. transmit() only fills descriptors; flush() — the
//   doorbell, called by the stack once per batch of work — writes TDT once for every packet
//   queued since. QEMU transmits everything up to TDT synchronously inside that write (one
//   exit, one pass over the ring), so its buffers are reclaimed right after it. No transmit
//   interrupt, except while the ring is full.
// - Interrupts: the handler reads ICR once (which clears every cause) and wakes the network
//   thread; poll() acts on all the causes seen. Each MMIO access is a VM exit on a hypervisor and
//   a helper call under TCG, so the driver caches ring indices and never reads RDH/TDH.
// - RCTL is written exactly once: QEMU stops reception for one second after each RCTL write.
// - QEMU keeps interrupt mitigation on by default (mitigation=on): after an interrupt the next
//   is held for at least 128 µs, whatever ITR says; the network thread polls with a budget, so a
//   held-back interrupt delays a batch, it does not lose it.
// - No receive checksum offload in QEMU (every descriptor says "ignore checksum"): the stack
//   verifies in software.

#include <drivers/net/E1000.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Print.h>
#include <lib/ByteOrder.h>
#include <lib/StageProfile.h>

namespace skiff::drivers {

namespace {

// Register offsets (SDM §13.4, Table 13-2).
namespace reg {
constexpr u32 kCtrl = 0x0000;
constexpr u32 kStatus = 0x0008;
constexpr u32 kEerd = 0x0014;
constexpr u32 kIcr = 0x00c0;
constexpr u32 kItr = 0x00c4;
constexpr u32 kIms = 0x00d0;
constexpr u32 kImc = 0x00d8;
constexpr u32 kRctl = 0x0100;
constexpr u32 kTctl = 0x0400;
constexpr u32 kTipg = 0x0410;
constexpr u32 kRdbal = 0x2800;
constexpr u32 kRdbah = 0x2804;
constexpr u32 kRdlen = 0x2808;
constexpr u32 kRdh = 0x2810;
constexpr u32 kRdt = 0x2818;
constexpr u32 kRdtr = 0x2820;
constexpr u32 kRadv = 0x282c;
constexpr u32 kTdbal = 0x3800;
constexpr u32 kTdbah = 0x3804;
constexpr u32 kTdlen = 0x3808;
constexpr u32 kTdh = 0x3810;
constexpr u32 kTdt = 0x3818;
constexpr u32 kMpc = 0x4010; // missed packets count (no receive descriptor), clears on read
constexpr u32 kMta = 0x5200; // multicast table, 128 entries
constexpr u32 kRal0 = 0x5400;
constexpr u32 kRah0 = 0x5404;
} // namespace reg

// CTRL (SDM §13.4.1).
constexpr u32 kCtrlAutoSpeed = 1u << 5; // ASDE
constexpr u32 kCtrlSetLinkUp = 1u << 6; // SLU
constexpr u32 kCtrlLinkReset = 1u << 3; // LRST
constexpr u32 kCtrlPhyReset = 1u << 31;
constexpr u32 kCtrlVlanEnable = 1u << 30;
// STATUS (SDM §13.4.2).
constexpr u32 kStatusLinkUp = 1u << 1;
constexpr u32 kStatusSpeedShift = 6;
// EERD on the 82540EM (SDM §13.4.4): START bit 0, DONE bit 4, address in bits 15:8, data 31:16.
// Later chips moved DONE to bit 1 and the address to bit 2: code for them spins here forever.
constexpr u32 kEerdStart = 1u << 0;
constexpr u32 kEerdDone = 1u << 4;
constexpr u32 kEerdAddressShift = 8;
// RAH (SDM §13.4.62): address valid.
constexpr u32 kRahAddressValid = 1u << 31;
// Interrupt causes (SDM §13.4.17).
constexpr u32 kIntTxDescWritten = 1u << 0;
constexpr u32 kIntLinkStatusChange = 1u << 2;
constexpr u32 kIntRxSequenceError = 1u << 3;
constexpr u32 kIntRxMinThreshold = 1u << 4;
constexpr u32 kIntRxOverrun = 1u << 6;
constexpr u32 kIntRxTimer = 1u << 7;
constexpr u32 kInterruptMask
    = kIntLinkStatusChange | kIntRxSequenceError | kIntRxMinThreshold | kIntRxOverrun | kIntRxTimer;
// RCTL (SDM §13.4.22).
constexpr u32 kRctlEnable = 1u << 1;
constexpr u32 kRctlBroadcastAccept = 1u << 15;
constexpr u32 kRctlMinThresholdHalf = 0u << 8; // RDMTS: interrupt when half the ring is left
constexpr u32 kRctlBufferSize2048 = 0u << 16;  // BSIZE 00 without BSEX
constexpr u32 kRctlStripCrc = 1u << 26;        // SECRC
// TCTL (SDM §13.4.33): enable, pad short packets, collision threshold 15, distance 64 bytes.
constexpr u32 kTctlEnable = 1u << 1;
constexpr u32 kTctlPadShort = 1u << 3;
constexpr u32 kTctlCollisionThreshold = 0x0fu << 4;
constexpr u32 kTctlCollisionDistance = 0x40u << 12;
// TIPG for the 82540EM on copper (SDM §13.4.34): IPGT 10, IPGR1 8, IPGR2 6.
constexpr u32 kTipgCopper = 10u | (8u << 10) | (6u << 20);
// Receive descriptor status and errors (SDM §3.2.3.1, §3.2.3.2).
constexpr u8 kRxStatusDone = 1u << 0;
constexpr u8 kRxStatusEndOfPacket = 1u << 1;
constexpr u8 kRxErrorsFatal = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 4) | (1u << 7); // CE SE SEQ CXE RXE
// Transmit descriptor command and status (SDM §3.3.3.1, §3.3.3.2).
constexpr u8 kTxCommandEndOfPacket = 1u << 0;
constexpr u8 kTxCommandInsertFcs = 1u << 1;
constexpr u8 kTxCommandReportStatus = 1u << 3;
constexpr u8 kTxStatusDone = 1u << 0;
// Extended descriptors (SDM §3.3.5-3.3.7). In the byte that legacy descriptors call CSO, an
// extended one holds DTYP in bits 7:4 (over PAYLEN/DTALEN bits 19:16, always 0 here: < 64 KiB);
// DEXT is bit 5 of the command byte. A context descriptor has DTYP 0000, a data descriptor 0001.
constexpr u8 kTxDataDescriptorType = 1u << 4;    // DTYP = 0001, in the CSO byte
constexpr u8 kTxCommandExtended = 1u << 5;       // DEXT
constexpr u8 kTxOptionsTcpChecksum = 1u << 1;    // POPTS.TXSM, in the CSS byte of a data descriptor
constexpr u8 kTxCommandSegmentation = 1u << 2;   // DCMD.TSE of a data descriptor (SDM §3.3.7.1)
constexpr u8 kTxOptionsIpChecksum = 1u << 0;     // POPTS.IXSM
constexpr u32 kTxContextTcp = 1u << 24;          // TUCMD.TCP: the transport is TCP (for TSO)
constexpr u32 kTxContextIpv4 = 1u << 25;         // TUCMD.IP: IPv4, whose header the card fixes (TSO)
constexpr u32 kTxContextSegmentation = 1u << 26; // TUCMD.TSE
constexpr u32 kTxContextExtended = 1u << 29;     // TUCMD.DEXT
constexpr u32 kEthernetHeader = 14;

constexpr u32 kReceiveOffset = 2;
constexpr u32 kReceiveBufferSize = 2048; // BSIZE; an untagged or tagged frame fits whole
constexpr u32 kMinFrame = 60;
constexpr u32 kMaxFrame = 1518;
// TSO (SDM §3.5): PAYLEN is 20 bits, HDRLEN 8; QEMU gathers each segment (HDRLEN + MSS bytes)
// into a 64 KiB buffer. A unit of up to 64 KiB of payload, in at most kTsoMaxPieces descriptors.
constexpr u32 kTsoMaxBytes = 65536;
constexpr u32 kTsoMaxHeader = 255;
constexpr u16 kTsoMaxPieces = 64;

} // namespace

// --- create -------------------------------------------------------------------------------------

Result<E1000*> E1000::create(pci::Device const& device)
{
    pci::Bar const& bar = device.bars[0];
    if (!bar.is_memory() || bar.size < 0x20000) {
        kprintln("e1000: BAR0 is not a 128 KiB memory range");
        return Error::NotSupported;
    }
    if (!device.has_interrupt()) {
        kprintln(
            "e1000: no interrupt line routed to INT{}#", static_cast<char>('A' + max<u8>(device.interrupt_pin, 1) - 1));
        return Error::NotSupported;
    }
    // Every step acquires an owner: whatever fails, what came before is given back by itself.
    // PCI 3.0 §6.2.2: memory decoding for BAR0, bus mastering for descriptor and buffer DMA
    // (QEMU receives nothing until bus mastering is on).
    auto registers = TRY(pci::map_bar(device, 0));
    auto enabled = TRY(pci::enable(device, pci::command::kMemorySpace | pci::command::kBusMaster));
    auto rx_ring = TRY(mm::DmaBuffer::allocate(kRxRingSize * sizeof(E1000RxDescriptor)));
    auto tx_ring = TRY(mm::DmaBuffer::allocate(kTxRingSize * sizeof(E1000TxDescriptor)));
    auto pad = TRY(mm::DmaBuffer::allocate(kMinFrame));
    auto* card
        = new (std::nothrow) E1000(device, move(enabled), move(registers), move(rx_ring), move(tx_ring), move(pad));
    if (!card)
        return Error::NoMemory;
    // Quiet first: mask every interrupt and clear what is pending (reading ICR clears it).
    card->write(reg::kImc, 0xffffffff);
    (void)card->read(reg::kIcr);
    card->read_mac_address();
    card->initialize_link();
    card->initialize_transmit();
    return card;
}

u32 E1000::read(u32 offset) const
{
    return m_registers.read32(offset);
}

void E1000::write(u32 offset, u32 value)
{
    ++m_mmio_writes;
    m_registers.write32(offset, value);
}

// SDM §5.6.1: the EEPROM's words 0-2 hold the MAC; at power-up the chip loads them into RAL0/RAH0
// and sets RAH.AV. QEMU does the same, so the EEPROM is the fallback.
void E1000::read_mac_address()
{
    u32 high = read(reg::kRah0);
    if (high & kRahAddressValid) {
        u32 low = read(reg::kRal0);
        for (int i = 0; i < 4; ++i)
            m_mac.bytes[i] = static_cast<u8>(low >> (8 * i));
        m_mac.bytes[4] = static_cast<u8>(high);
        m_mac.bytes[5] = static_cast<u8>(high >> 8);
        return;
    }
    for (u8 word = 0; word < 3; ++word) {
        u16 value = read_eeprom(word);
        m_mac.bytes[word * 2] = static_cast<u8>(value);
        m_mac.bytes[word * 2 + 1] = static_cast<u8>(value >> 8);
    }
    write(reg::kRal0, load_le32(m_mac.bytes));
    write(reg::kRah0, m_mac.bytes[4] | (m_mac.bytes[5] << 8) | kRahAddressValid);
}

// SDM §5.3.1 (EEPROM read register). Completes within microseconds; bounded, at boot only.
u16 E1000::read_eeprom(u8 word)
{
    write(reg::kEerd, kEerdStart | (static_cast<u32>(word) << kEerdAddressShift));
    for (u32 attempt = 0; attempt < 100000; ++attempt) {
        u32 value = read(reg::kEerd);
        if (value & kEerdDone)
            return static_cast<u16>(value >> 16);
    }
    kprintln("e1000: EEPROM word {} did not complete", word);
    return 0;
}

// SDM §14.3 General Configuration: set link up, auto speed detection, no PHY or link reset, no
// VLAN mode. CTRL.RST is not used: QEMU's reset bit clears itself without resetting anything, so
// every register is programmed explicitly instead.
void E1000::initialize_link()
{
    u32 control = read(reg::kCtrl);
    control |= kCtrlSetLinkUp | kCtrlAutoSpeed;
    control &= ~(kCtrlLinkReset | kCtrlPhyReset | kCtrlVlanEnable);
    write(reg::kCtrl, control);
}

// SDM §14.5 Transmit Initialization.
void E1000::initialize_transmit()
{
    for (u32 i = 0; i < kTxRingSize; ++i)
        m_tx_ring[i] = {};
    write(reg::kTdbal, static_cast<u32>(m_tx_dma.physical()));
    write(reg::kTdbah, static_cast<u32>(m_tx_dma.physical() >> 32));
    write(reg::kTdlen, kTxRingSize * sizeof(E1000TxDescriptor));
    write(reg::kTdh, 0);
    write(reg::kTdt, 0);
    write(reg::kTipg, kTipgCopper);
    write(reg::kTctl, kTctlEnable | kTctlPadShort | kTctlCollisionThreshold | kTctlCollisionDistance);
}

// SDM §14.4 Receive Initialization. Needs the stack (for buffers), so it runs in start().
Result<void> E1000::initialize_receive()
{
    // Multicast table: nothing (SDM §14.4: "initialize the MTA to 0b").
    for (u32 i = 0; i < 128; ++i)
        write(reg::kMta + i * 4, 0);
    // Every slot gets a page before the card may use any: a slot without one would point the
    // card at physical address 0 once RDT wraps past it.
    for (u32 slot = 0; slot < kRxRingSize; ++slot) {
        net::PacketBuffer* buffer = allocate_receive_buffer();
        if (!buffer) {
            kprintln("e1000: only {} of {} receive buffers in the stack's pool", slot, kRxRingSize);
            for (u32 armed = 0; armed < slot; ++armed) {
                m_rx_buffers[armed]->release();
                m_rx_buffers[armed] = nullptr;
            }
            return Error::NoMemory;
        }
        arm_rx_slot(slot, buffer);
    }
    write(reg::kRdbal, static_cast<u32>(m_rx_dma.physical()));
    write(reg::kRdbah, static_cast<u32>(m_rx_dma.physical() >> 32));
    write(reg::kRdlen, kRxRingSize * sizeof(E1000RxDescriptor));
    write(reg::kRdh, 0);
    // The card owns [RDH, RDT): every slot but one, so a full ring is distinguishable from an
    // empty one (SDM §3.2.6).
    write(reg::kRdt, kRxRingSize - 1);
    // No receive delay: the interrupt comes with the frame (QEMU's mitigation still applies).
    write(reg::kRdtr, 0);
    write(reg::kRadv, 0);
    write(reg::kItr, 0);
    // The one RCTL write: enable, broadcast, strip the FCS, 2 KiB buffers.
    write(reg::kRctl, kRctlEnable | kRctlBroadcastAccept | kRctlStripCrc | kRctlBufferSize2048 | kRctlMinThresholdHalf);
    return {};
}

void E1000::arm_rx_slot(u32 slot, net::PacketBuffer* buffer)
{
    net::PortPage page = buffer->page();
    VERIFY(page.phys != 0); // the stack's receive pool is made of pages with DMA addresses
    m_rx_buffers[slot] = buffer;
    m_rx_ring[slot].address = page.phys + kReceiveOffset;
    m_rx_ring[slot].length = 0;
    m_rx_ring[slot].errors = 0;
    // Status last: DD clear hands the descriptor back.
    __atomic_store_n(&m_rx_ring[slot].status, 0, __ATOMIC_RELEASE);
}

net::NetDeviceCapabilities E1000::capabilities() const
{
    net::NetDeviceCapabilities caps;
    caps.gather = true;
    caps.max_pieces = 8;
    // SDM §3.3.6: the card inserts a TCP/UDP checksum given a context descriptor (QEMU does this
    // in its own code, natively, so the guest's most costly per-byte loop goes away).
    caps.tcp_udp_checksum_offload = true;
    // SDM §3.5 / docs/hardware.md: TCP segmentation in the card (in QEMU, in host code).
    caps.tso = true;
    caps.tso_max_bytes = kTsoMaxBytes;
    caps.tso_max_pieces = kTsoMaxPieces;
    caps.mtu = 1500;
    return caps;
}

Result<void> E1000::start()
{
    VERIFY(is_attached());
    if (auto result = register_irq_handler(m_irq, interrupt_entry, this); result.is_error()) {
        kprintln("e1000: interrupt line {} is not usable ({})", m_irq, result.error());
        return result.error();
    }
    TRY(initialize_receive());
    write(reg::kIms, kInterruptMask);
    update_link();
    kprintln("e1000: {} at {:#x} IRQ {}, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}", model(),
        m_pci.bars[0].address, m_irq, m_mac.bytes[0], m_mac.bytes[1], m_mac.bytes[2], m_mac.bytes[3], m_mac.bytes[4],
        m_mac.bytes[5], link_up() ? "up" : "down");
    return {};
}

// --- link ---------------------------------------------------------------------------------------

void E1000::update_link()
{
    bool up = read(reg::kStatus) & kStatusLinkUp;
    if (up != link_up()) {
        ++m_driver_counters.link_changes;
        static constexpr u32 kSpeeds[] = { 10, 100, 1000, 1000 };
        if (up)
            kprintln("e1000: link up, {} Mbit/s", kSpeeds[(read(reg::kStatus) >> kStatusSpeedShift) & 3]);
        else
            kprintln("e1000: link down");
    }
    set_link_up(up);
}

// --- interrupts ---------------------------------------------------------------------------------

void E1000::interrupt_entry(void* context)
{
    profile::ScopedStage stage(profile::Stage::ReceiveDriver, 0); // LyraNET Fig. 6: the ISR is driver time
    static_cast<E1000*>(context)->handle_interrupt();
}

// ICR is read exactly once: the read returns and clears every cause (SDM §13.4.17), so a second
// read would lose what arrived in between. poll() handles everything recorded here.
void E1000::handle_interrupt()
{
    ++m_driver_counters.interrupts;
    u32 causes = read(reg::kIcr);
    if (!causes) {
        ++m_driver_counters.spurious_interrupts;
        return;
    }
    m_pending_causes |= causes;
    m_causes_seen |= causes;
    wake_network_thread();
}

// --- receive ------------------------------------------------------------------------------------

u32 E1000::poll(u32 budget)
{
    ++m_driver_counters.polls;
    u32 causes;
    {
        arch::InterruptDisabler disabler;
        causes = m_pending_causes;
        m_pending_causes = 0;
    }
    if (causes & kIntLinkStatusChange)
        update_link();
    if (causes & (kIntRxOverrun | kIntRxMinThreshold | kIntRxSequenceError))
        m_driver_counters.rx_missed += read(reg::kMpc);

    u32 received = 0;
    u32 completed = 0;
    m_more_pending = false;
    u32 last_armed = kRxRingSize; // none yet
    while (true) {
        u32 slot = m_rx_next;
        E1000RxDescriptor& descriptor = m_rx_ring[slot];
        u8 status = __atomic_load_n(&descriptor.status, __ATOMIC_ACQUIRE);
        if (!(status & kRxStatusDone))
            break;
        if (received == budget) {
            m_more_pending = true;
            ++m_driver_counters.rx_budget_exhausted;
            break;
        }
        ++completed;
        net::PacketBuffer* buffer = m_rx_buffers[slot];
        u32 length = descriptor.length;
        bool end_of_packet = status & kRxStatusEndOfPacket;
        bool good = end_of_packet && !m_rx_discarding && !(descriptor.errors & kRxErrorsFatal) && length >= 14
            && length <= kReceiveBufferSize - kReceiveOffset;
        if (!end_of_packet)
            m_rx_discarding = true; // a frame larger than one buffer: drop all of it
        else if (m_rx_discarding)
            m_rx_discarding = false;

        net::PacketBuffer* replacement = nullptr;
        if (good) {
            replacement = allocate_receive_buffer();
            if (!replacement) {
                ++m_driver_counters.rx_no_buffer;
                good = false;
            }
        } else {
            ++m_driver_counters.rx_bad_frames;
            ++counters().rx_errors;
        }
        if (good) {
            deliver(buffer, kReceiveOffset, length);
            ++received;
            arm_rx_slot(slot, replacement);
        } else {
            arm_rx_slot(slot, buffer); // reuse the same page: the frame is dropped
        }
        last_armed = slot;
        m_rx_next = (slot + 1) % kRxRingSize;
    }
    m_rx_ring_high_water = max<u64>(m_rx_ring_high_water, completed);
    // One RDT write for the whole batch. The card owns [RDH, RDT): everything up to the slot
    // before last_armed; last_armed itself, armed, is the one slot kept back (SDM §3.2.6).
    if (last_armed != kRxRingSize)
        write(reg::kRdt, last_armed);
    reclaim_transmitted();
    // Transmit completions raise no interrupt: the ring is reclaimed on the next transmit, the
    // doorbell, or this poll (the stack polls again within TcpLayer::kHeldBufferRecheck while it
    // waits for buffers the card holds). Only a full ring asks for TXDW (transmit()); once half
    // of it is free again, the cause is masked.
    if ((causes & kIntTxDescWritten) && m_tx_interrupt_armed)
        ++m_tx_interrupts; // ICR reports the cause whether masked or not: count the ones asked for
    if (m_tx_interrupt_armed && m_tx_in_flight < kTxRingSize / 2) {
        m_tx_interrupt_armed = false;
        write(reg::kImc, kIntTxDescWritten);
    }
    return received;
}

// --- transmit -----------------------------------------------------------------------------------

// Releases the buffers of packets whose last descriptor the card has marked done.
void E1000::reclaim_transmitted()
{
    while (m_tx_in_flight) {
        u32 first = m_tx_clean;
        u32 last = m_tx_last_of[first];
        if (!(__atomic_load_n(&m_tx_ring[last].status, __ATOMIC_ACQUIRE) & kTxStatusDone))
            break;
        u32 descriptors = (last + kTxRingSize - first) % kTxRingSize + 1;
        if (m_tx_packets[last]) {
            m_tx_packets[last]->release();
            m_tx_packets[last] = nullptr;
        }
        m_tx_in_flight -= descriptors;
        m_tx_clean = (last + 1) % kTxRingSize;
    }
}

// Calls emit(phys, length) for the packet's descriptors: its pieces in order, where one piece
// continues the previous one physically (a page split in two segments' pieces, pages adjacent in
// memory) the two as one descriptor. Returns false when a piece has no DMA address.
template<typename Emit>
static bool for_each_descriptor(net::PacketBuffer const& packet, Emit emit)
{
    static constexpr u32 kMaxDescriptorBytes = 0xf000; // the legacy length field is 16 bits
    bool ok = true;
    u64 run_phys = 0;
    u32 run_length = 0;
    packet.for_each_piece([&](net::BufferPiece const& piece) {
        if (piece.phys == 0) {
            ok = false;
            return false;
        }
        if (run_length && piece.phys == run_phys + run_length && run_length + piece.length <= kMaxDescriptorBytes) {
            run_length += piece.length;
            return true;
        }
        if (run_length)
            emit(run_phys, run_length);
        run_phys = piece.phys;
        run_length = piece.length;
        return true;
    });
    if (ok && run_length)
        emit(run_phys, run_length);
    return ok;
}

Result<void> E1000::transmit(net::PacketBuffer& packet)
{
    reclaim_transmitted();
    u32 length = packet.total_length();
    u32 mss = packet.meta.tso_mss;
    u32 header_length = packet.linear_length();
    if (length == 0 || (!mss && length > kMaxFrame)
        || (mss && (length - header_length > kTsoMaxBytes || header_length > kTsoMaxHeader))) {
        ++counters().tx_errors;
        return Error::MessageTooLong;
    }
    // Checksum offload and TSO: the transport header starts after Ethernet and the IPv4 header
    // (IHL); a context descriptor tells the card where, when it is not the one it already holds.
    u16 context_key = 0;
    u32 ip_header = 0;
    if (packet.meta.l4_checksum_offset || mss) {
        u8 const* headers = packet.data();
        if (header_length < kEthernetHeader + 20 || packet.meta.l4_checksum_offset == 0) {
            ++counters().tx_errors;
            return Error::InvalidArgument;
        }
        ip_header = (headers[kEthernetHeader] & 0x0f) * 4u;
        u32 start = kEthernetHeader + ip_header;
        u32 offset = start + packet.meta.l4_checksum_offset;
        if (offset + 2 > header_length || offset > 0xff || (mss && start + 20 > header_length)) {
            ++counters().tx_errors;
            return Error::InvalidArgument;
        }
        context_key = static_cast<u16>(start << 8 | offset);
    }
    // A TSO unit always brings its own context (PAYLEN differs per unit).
    bool new_context = mss || (context_key && context_key != m_tx_context_key);
    u32 data_descriptors = 0;
    if (!for_each_descriptor(packet, [&](u64, u32) { ++data_descriptors; })) {
        // Never hand the card a virtual address; a piece without a DMA address is a bug in
        // whoever built the buffer, reported as a transmit error.
        ++counters().tx_errors;
        return Error::InvalidArgument;
    }
    u32 needed = data_descriptors + (length < kMinFrame ? 1 : 0) + (new_context ? 1 : 0);
    // One slot always stays empty: TDT == TDH means "nothing to send". A ring filled by queued
    // packets is handed to the card first: that frees it on QEMU, where the TDT write transmits.
    if (m_tx_in_flight + needed > kTxRingSize - 1 && m_tx_doorbell != m_tx_tail)
        flush();
    if (m_tx_in_flight + needed > kTxRingSize - 1) {
        // The ring is full of frames the card has not finished (real hardware sends after the
        // doorbell returns): ask for the transmit interrupt, so that their completion wakes the
        // network thread to reclaim them. It goes off again once the ring has room (poll()).
        ++m_driver_counters.tx_ring_full;
        if (!m_tx_interrupt_armed) {
            m_tx_interrupt_armed = true;
            write(reg::kIms, kIntTxDescWritten);
        }
        return Error::Busy;
    }
    u32 first = m_tx_tail;
    u32 slot = first;
    u32 last = first;
    if (new_context) {
        // SDM §3.3.6: IPCSS/IPCSO/IPCSE and TUCSS/TUCSO say where each checksum's sum starts, goes
        // and ends (TUCSE 0: the end of the packet). A checksum context stays with the card for
        // every later packet until the next context descriptor, so one is written only when the
        // offsets change. A TSO context (TSE, SDM §3.5) adds PAYLEN, HDRLEN and MSS; the card
        // then cuts the data into segments of MSS bytes behind a copy of the HDRLEN header bytes,
        // fixing each one's IPv4 length, ID and checksum and TCP sequence number and checksum.
        auto* context = reinterpret_cast<E1000TxContextDescriptor*>(&m_tx_ring[slot]);
        *context = {};
        context->tcp_start = static_cast<u8>(context_key >> 8);
        context->tcp_offset = static_cast<u8>(context_key);
        context->tcp_end = 0;
        context->command = kTxContextExtended | (packet.meta.l4_checksum_offset == 16 ? kTxContextTcp : 0);
        if (mss) {
            context->ip_start = kEthernetHeader;
            context->ip_offset = kEthernetHeader + 10;
            context->ip_end = static_cast<u16>(kEthernetHeader + ip_header - 1);
            context->command |= kTxContextSegmentation | kTxContextIpv4 | (length - header_length);
            context->header_length = static_cast<u8>(header_length);
            context->mss = static_cast<u16>(mss);
            // One context register on the chip: the checksum context is gone (QEMU keeps the two
            // apart, the 82540EM does not), so the next checksum-offloaded frame writes its own.
            m_tx_context_key = 0;
            ++m_tx_tso_units;
            m_tx_tso_segments += (length - header_length + mss - 1) / mss;
        } else {
            m_tx_context_key = context_key;
        }
        ++m_tx_contexts;
        slot = (slot + 1) % kTxRingSize;
    }
    auto emit = [&](u64 phys, u32 piece_length) {
        E1000TxDescriptor& descriptor = m_tx_ring[slot];
        descriptor.address = phys;
        descriptor.length = static_cast<u16>(piece_length);
        descriptor.status = 0;
        descriptor.special = 0;
        if (context_key) {
            // An extended data descriptor (SDM §3.3.7); the card reads POPTS from the first. For a
            // TSO unit every one carries TSE, and the IPv4 checksum is the card's too (IXSM).
            descriptor.checksum_offset = kTxDataDescriptorType;
            descriptor.command = kTxCommandInsertFcs | kTxCommandExtended | (mss ? kTxCommandSegmentation : 0);
            descriptor.checksum_start = kTxOptionsTcpChecksum | (mss ? kTxOptionsIpChecksum : 0);
        } else {
            descriptor.checksum_offset = 0;
            descriptor.command = kTxCommandInsertFcs;
            descriptor.checksum_start = 0;
        }
        last = slot;
        slot = (slot + 1) % kTxRingSize;
    };
    for_each_descriptor(packet, [&](u64 phys, u32 piece_length) {
        emit(phys, piece_length);
        ++m_driver_counters.tx_pieces;
    });
    if (length < kMinFrame)
        emit(m_pad_dma.physical(), kMinFrame - length);
    m_tx_ring[last].command |= kTxCommandEndOfPacket | kTxCommandReportStatus;
    m_tx_last_of[first] = static_cast<u16>(last);
    // The card reads the buffer by DMA until DD: keep it alive until reclaim_transmitted().
    packet.ref();
    m_tx_packets[last] = &packet;
    m_tx_in_flight += needed;
    m_tx_high_water = max<u64>(m_tx_high_water, m_tx_in_flight);
    m_tx_tail = slot;
    ++m_tx_queued_packets;
    if (context_key)
        ++m_tx_offloaded;
    return {};
}

// The doorbell (SDM §3.3.1): advancing TDT hands the descriptors up to it to the card. One write
// for the whole batch; the release fence makes the descriptors visible before it.
void E1000::flush()
{
    if (m_tx_doorbell == m_tx_tail)
        return;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    write(reg::kTdt, m_tx_tail);
    m_tx_doorbell = m_tx_tail;
    ++m_tx_doorbells;
    m_tx_batch_high_water = max<u64>(m_tx_batch_high_water, m_tx_queued_packets);
    m_tx_queued_packets = 0;
    reclaim_transmitted();
}

void E1000::print_rings(FormatSink& out) const
{
    u32 rx_armed = 0;
    for (auto* buffer : m_rx_buffers)
        rx_armed += buffer != nullptr;
    format(out, "  rx ring: {}/{} buffers armed, next {}, most completed in one poll {}\n", rx_armed, kRxRingSize,
        m_rx_next, m_rx_ring_high_water);
    format(out, "  tx ring: {}/{} descriptors in flight (high-water {}), tail {}, clean {}\n", m_tx_in_flight,
        kTxRingSize, m_tx_high_water, m_tx_tail, m_tx_clean);
    format(out, "  TDT writes {}, most packets in one {}; checksum offloaded {}, context descriptors {}\n",
        m_tx_doorbells, m_tx_batch_high_water, m_tx_offloaded, m_tx_contexts);
    format(out, "  TSO units {}, segments {}; transmit interrupts {}\n", m_tx_tso_units, m_tx_tso_segments,
        m_tx_interrupts);
    format(out, "  MMIO writes {}, interrupt causes seen {:#x}\n", m_mmio_writes, m_causes_seen);
}

} // namespace skiff::drivers
