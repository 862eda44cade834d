// The 8259A programmable interrupt controller pair (Intel 8259A datasheet; QEMU hw/intc/i8259.c).
// Master at 0x20/0x21 handles IRQ 0-7 with the slave cascaded on IRQ 2; slave at 0xa0/0xa1 handles
// IRQ 8-15. Lines are edge-triggered on QEMU's pc and q35 machines.

#include <kernel/arch/x86_64/Io.h>
#include <kernel/arch/x86_64/Pic.h>

namespace skiff::arch::pic {

namespace {

constexpr u16 kMasterCommand = 0x20;
constexpr u16 kMasterData = 0x21;
constexpr u16 kSlaveCommand = 0xa0;
constexpr u16 kSlaveData = 0xa1;
constexpr u8 kIcw1InitWithIcw4 = 0x11;
constexpr u8 kIcw4Mode8086 = 0x01;
constexpr u8 kOcw2EndOfInterrupt = 0x20;
constexpr u8 kOcw3ReadInService = 0x0b;
constexpr u8 kOcw3ReadRequests = 0x0a;
constexpr u8 kCascadeIrq = 2;

u16 s_mask = 0xffff; // bit n set: IRQ n masked

void write_mask()
{
    outb(kMasterData, static_cast<u8>(s_mask));
    outb(kSlaveData, static_cast<u8>(s_mask >> 8));
}

} // namespace

void initialize()
{
    // ICW1-ICW4 to each controller: edge-triggered, cascaded, vector bases 32 and 40, 8086 mode.
    outb(kMasterCommand, kIcw1InitWithIcw4);
    io_wait();
    outb(kSlaveCommand, kIcw1InitWithIcw4);
    io_wait();
    outb(kMasterData, kVectorBase);
    io_wait();
    outb(kSlaveData, kVectorBase + 8);
    io_wait();
    outb(kMasterData, 1 << kCascadeIrq); // slave on IRQ 2
    io_wait();
    outb(kSlaveData, kCascadeIrq); // slave identity
    io_wait();
    outb(kMasterData, kIcw4Mode8086);
    io_wait();
    outb(kSlaveData, kIcw4Mode8086);
    io_wait();
    s_mask = 0xffff & ~(1u << kCascadeIrq);
    write_mask();
}

void mask(u8 irq)
{
    s_mask |= static_cast<u16>(1u << irq);
    write_mask();
}

void unmask(u8 irq)
{
    s_mask &= static_cast<u16>(~(1u << irq));
    write_mask();
}

void end_of_interrupt(u8 irq)
{
    if (irq >= 8)
        outb(kSlaveCommand, kOcw2EndOfInterrupt);
    outb(kMasterCommand, kOcw2EndOfInterrupt);
}

bool is_spurious(u8 irq)
{
    if (irq != 7 && irq != 15)
        return false;
    u16 port = irq == 7 ? kMasterCommand : kSlaveCommand;
    outb(port, kOcw3ReadInService);
    bool in_service = inb(port) & 0x80;
    if (!in_service && irq == 15)
        outb(kMasterCommand, kOcw2EndOfInterrupt); // the master did see the cascade line
    return !in_service;
}

u16 requests()
{
    outb(kMasterCommand, kOcw3ReadRequests);
    outb(kSlaveCommand, kOcw3ReadRequests);
    return static_cast<u16>(inb(kMasterCommand) | inb(kSlaveCommand) << 8);
}

} // namespace skiff::arch::pic
