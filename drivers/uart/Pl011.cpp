// Arm PrimeCell UART PL011 (Technical Reference Manual r1p5, DDI 0183; QEMU hw/char/pl011.c).
//
// Registers used: DR 0x00 (data), FR 0x18 (flags: TXFF transmit FIFO full, RXFE receive FIFO
// empty), LCR_H 0x2c (line control), CR 0x30 (control), IMSC 0x38 (interrupt mask set/clear),
// ICR 0x44 (interrupt clear). QEMU ignores the baud-rate divisors, so they are left alone.

#include <drivers/uart/Pl011.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>

namespace skiff::drivers {

namespace {

constexpr u32 kData = 0x00;
constexpr u32 kFlags = 0x18;
constexpr u32 kLineControl = 0x2c;
constexpr u32 kControl = 0x30;
constexpr u32 kInterruptMask = 0x38;
constexpr u32 kInterruptClear = 0x44;

constexpr u32 kFlagReceiveEmpty = 1u << 4;
constexpr u32 kFlagTransmitFull = 1u << 5;
constexpr u32 kLineControl8BitsFifo = (3u << 5) | (1u << 4);      // WLEN = 8 bits, FEN
constexpr u32 kControlEnable = (1u << 0) | (1u << 8) | (1u << 9); // UARTEN, TXE, RXE
// Receive (RXIM) and receive timeout (RTIM): the timeout fires for bytes that sit in the FIFO
// below its trigger level, so a single typed key still interrupts.
constexpr u32 kInterruptsReceive = (1u << 4) | (1u << 6);

} // namespace

void Pl011::initialize()
{
    m_registers.write32(kControl, 0);
    m_registers.write32(kInterruptMask, 0);
    m_registers.write32(kInterruptClear, 0x7ff);
    m_registers.write32(kLineControl, kLineControl8BitsFifo);
    m_registers.write32(kControl, kControlEnable);
}

void Pl011::write_byte(u8 byte)
{
    while (m_registers.read32(kFlags) & kFlagTransmitFull)
        arch::relax();
    m_registers.write32(kData, byte);
}

void Pl011::write(char const* chars, usize length)
{
    for (usize i = 0; i < length; ++i) {
        if (chars[i] == '\n')
            write_byte('\r');
        write_byte(static_cast<u8>(chars[i]));
    }
}

Result<void> Pl011::enable_receive_interrupt()
{
    TRY(register_irq_handler(m_irq, irq_handler, this));
    m_registers.write32(kInterruptMask, kInterruptsReceive);
    drain_receiver(); // bytes typed before now raised no interrupt we saw
    return {};
}

void Pl011::irq_handler(void* self)
{
    static_cast<Pl011*>(self)->drain_receiver();
}

void Pl011::drain_receiver()
{
    // Clear first, then empty the FIFO. The other order loses input: a byte that arrives between
    // the last "FIFO empty" check and the clear raises its receive interrupt, the clear drops it,
    // and QEMU's PL011 (which raises RX only when a byte enters an empty FIFO, and has no receive
    // timeout) raises none for the bytes behind it until the FIFO is emptied again — the console
    // stops mid-line. Cleared first, a byte after the clear is either read by the loop below or
    // keeps its interrupt. The line is level-triggered: it is low again once nothing is pending.
    m_registers.write32(kInterruptClear, kInterruptsReceive);
    while (!(m_registers.read32(kFlags) & kFlagReceiveEmpty)) {
        u8 byte = static_cast<u8>(m_registers.read32(kData));
        usize next = (m_head + 1) % kRingSize;
        if (next == m_tail) {
            ++m_overruns;
            continue;
        }
        m_ring[m_head] = byte;
        m_head = next;
    }
    if (m_callback && m_head != m_tail)
        m_callback(m_callback_context);
}

bool Pl011::read_byte(u8& byte)
{
    if (m_head == m_tail)
        return false;
    byte = m_ring[m_tail];
    m_tail = (m_tail + 1) % kRingSize;
    return true;
}

} // namespace skiff::drivers
