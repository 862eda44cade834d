// 16550 UART (National Semiconductor PC16550D datasheet; QEMU hw/char/serial.c).
//
// Registers, offsets from the base port (DLAB = LCR bit 7 selects the divisor latch at 0 and 1):
//   0 THR/RBR (DLL)  1 IER (DLM)  2 IIR/FCR  3 LCR  4 MCR  5 LSR

#include <drivers/uart/Uart16550.h>
#include <kernel/base/Interrupts.h>

namespace skiff::drivers {

namespace {

enum Register : u32 {
    kData = 0,
    kInterruptEnable = 1,
    kFifoControl = 2,
    kLineControl = 3,
    kModemControl = 4,
    kLineStatus = 5,
    kScratch = 7,
};

constexpr u8 kLineControlDlab = 0x80;
constexpr u8 kLineControl8N1 = 0x03;
// Enable the FIFOs with the receive interrupt at 14 bytes, without clearing them: bytes a person
// typed while the machine booted are kept.
constexpr u8 kFifoEnable14 = 0xc1;
constexpr u8 kModemDtrRtsOut2 = 0x0b; // OUT2 gates the IRQ line on a PC
constexpr u8 kLineStatusDataReady = 0x01;
constexpr u8 kLineStatusThrEmpty = 0x20;
constexpr u8 kInterruptReceivedData = 0x01;

} // namespace

Uart16550& com1()
{
    static Uart16550 s_com1(IoWindow::ports(Uart16550::kCom1, 8), Uart16550::kCom1Irq);
    return s_com1;
}

bool Uart16550::initialize()
{
    m_registers.write8(kInterruptEnable, 0);
    // 115200 baud: divisor 1 of the 1.8432 MHz / 16 clock.
    m_registers.write8(kLineControl, kLineControlDlab);
    m_registers.write8(kData, 1);
    m_registers.write8(kInterruptEnable, 0);
    m_registers.write8(kLineControl, kLineControl8N1);
    m_registers.write8(kFifoControl, kFifoEnable14);
    m_registers.write8(kModemControl, kModemDtrRtsOut2);
    // Presence check that leaves the data path alone: the scratch register keeps what is written.
    m_registers.write8(kScratch, 0xae);
    return m_registers.read8(kScratch) == 0xae;
}

void Uart16550::write_byte(u8 byte)
{
    while (!(m_registers.read8(kLineStatus) & kLineStatusThrEmpty))
        arch::relax();
    m_registers.write8(kData, byte);
}

void Uart16550::write(char const* chars, usize length)
{
    for (usize i = 0; i < length; ++i) {
        if (chars[i] == '\n')
            write_byte('\r');
        write_byte(static_cast<u8>(chars[i]));
    }
}

Result<void> Uart16550::enable_receive_interrupt()
{
    TRY(register_irq_handler(m_irq, irq_handler, this));
    m_registers.write8(kInterruptEnable, kInterruptReceivedData);
    drain_receiver(); // bytes typed before now raised no interrupt we saw
    return {};
}

void Uart16550::irq_handler(void* self)
{
    static_cast<Uart16550*>(self)->drain_receiver();
}

void Uart16550::drain_receiver()
{
    // Reading RBR until LSR.DR clears acknowledges the interrupt.
    while (m_registers.read8(kLineStatus) & kLineStatusDataReady) {
        u8 byte = m_registers.read8(kData);
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

bool Uart16550::read_byte(u8& byte)
{
    if (m_head == m_tail)
        return false;
    byte = m_ring[m_tail];
    m_tail = (m_tail + 1) % kRingSize;
    return true;
}

} // namespace skiff::drivers
