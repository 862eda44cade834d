#include <kernel/arch/x86_64/AcpiPmTimer.h>
#include <kernel/arch/x86_64/Cpu.h>
#include <kernel/arch/x86_64/Io.h>

namespace skiff::arch::pm_timer {

namespace {

constexpr u16 kPort = 0x608;
constexpr u32 kMask = 0xffffff; // 24-bit counter (the 32-bit extension is optional)

u32 read()
{
    return inl(kPort) & kMask;
}
u32 elapsed(u32 from, u32 to)
{
    return (to - from) & kMask;
}

struct Pair {
    u64 tsc;
    u32 pm;
};

bool read_tight_pair(Pair& pair)
{
    for (int attempt = 0; attempt < 64; ++attempt) {
        u32 before = read();
        u64 tsc = rdtsc();
        u32 after = read();
        if (elapsed(before, after) <= 1) {
            pair = { tsc, before };
            return true;
        }
    }
    return false;
}

} // namespace

bool present()
{
    // Absent hardware reads as all ones and never changes. 3.58 MHz advances within a few reads.
    u32 first = read();
    for (int i = 0; i < 1000; ++i) {
        u32 now = read();
        if (now != first && now != kMask)
            return true;
    }
    return false;
}

u64 measure_tsc_hz(u32 interval_us)
{
    Pair start, end;
    if (!read_tight_pair(start))
        return 0;
    u32 target = static_cast<u32>(kHz * interval_us / 1000000);
    while (elapsed(start.pm, read()) < target)
        pause();
    if (!read_tight_pair(end))
        return 0;
    u32 counts = elapsed(start.pm, end.pm);
    if (counts == 0)
        return 0;
    return (end.tsc - start.tsc) * kHz / counts;
}

} // namespace skiff::arch::pm_timer
