#pragma once

// Time. The PIT ticks at kTickHz for scheduling and coarse timers; the TSC, calibrated against the
// PIT at boot, gives nanosecond timestamps and cycle counts. Under TCG the TSC follows QEMU's
// virtual clock, the same clock the PIT is driven from, so the calibration holds.

#include <lib/Types.h>

namespace skiff::time {

constexpr u64 kTickHz = 1000;

u64 ticks();        // timer interrupts since boot
u64 monotonic_ns(); // nanoseconds since boot, from the TSC
u64 tsc_hz();       // calibrated TSC frequency
u64 cycles_to_ns(u64 cycles);
inline u64 cycles()
{
    return __builtin_ia32_rdtsc();
}

} // namespace skiff::time
