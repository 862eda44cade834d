// The 8254 programmable interval timer (Intel 82C54 datasheet; QEMU hw/timer/i8254.c), driven
// from a 1.193182 MHz clock. Channel 0 (IRQ 0) is the scheduler tick; channel 2, whose gate and
// output are visible in port 0x61, measures a fixed interval to calibrate the TSC.
//
// Why the PIT and not a busy loop: under TCG the guest's instruction rate says nothing about
// time, but the PIT and the TSC both follow QEMU's virtual clock, so a PIT interval measured in
// TSC cycles gives the TSC frequency even when the host is loaded.

#include <kernel/arch/x86_64/Cpu.h>
#include <kernel/arch/x86_64/Io.h>
#include <kernel/arch/x86_64/Pit.h>

namespace skiff::arch::pit {

namespace {

constexpr u32 kInputHz = 1193182;
constexpr u16 kChannel0 = 0x40;
constexpr u16 kChannel2 = 0x42;
constexpr u16 kCommand = 0x43;
constexpr u16 kPortB = 0x61;                   // bit 0: channel 2 gate, bit 1: speaker, bit 5: channel 2 output
constexpr u8 kChannel0RateGenerator = 0x34;    // channel 0, lobyte/hibyte, mode 2
constexpr u8 kChannel2InterruptOnCount = 0xb0; // channel 2, lobyte/hibyte, mode 0

} // namespace

void start_periodic(u32 hz)
{
    u32 divisor = (kInputHz + hz / 2) / hz;
    outb(kCommand, kChannel0RateGenerator);
    outb(kChannel0, static_cast<u8>(divisor));
    outb(kChannel0, static_cast<u8>(divisor >> 8));
}

u64 measure_tsc_hz(u32 interval_us)
{
    u32 count = static_cast<u32>(static_cast<u64>(kInputHz) * interval_us / 1000000);
    // Gate low, speaker off, program mode 0 (output low until the count reaches zero), gate high.
    u8 port_b = inb(kPortB);
    outb(kPortB, static_cast<u8>((port_b & ~0x03) | 0x00));
    outb(kCommand, kChannel2InterruptOnCount);
    outb(kChannel2, static_cast<u8>(count));
    outb(kChannel2, static_cast<u8>(count >> 8));
    u64 start = rdtsc();
    outb(kPortB, static_cast<u8>((port_b & ~0x02) | 0x01));
    while (!(inb(kPortB) & 0x20))
        pause();
    u64 end = rdtsc();
    outb(kPortB, port_b);
    return (end - start) * 1000000 / interval_us;
}

} // namespace skiff::arch::pit
