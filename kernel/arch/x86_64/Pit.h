#pragma once

#include <lib/Types.h>

namespace skiff::arch {
constexpr u8 kTimerIrq = 0; // PIT channel 0
}

namespace skiff::arch::pit {

void start_periodic(u32 hz);         // channel 0, IRQ 0
u64 measure_tsc_hz(u32 interval_us); // TSC cycles per second over one channel-2 interval

} // namespace skiff::arch::pit
