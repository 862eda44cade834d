#pragma once

// Time. The architecture's periodic timer ticks at kTickHz for scheduling and coarse timers; its
// cycle counter (the TSC on x86-64, calibrated against the ACPI PM timer or the PIT; the generic
// timer's count on AArch64, whose rate CNTFRQ_EL0 states) gives nanosecond timestamps and cycle
// counts. Under TCG both follow QEMU's virtual clock.

#include <kernel/base/Arch.h>
#include <lib/Types.h>

namespace skiff {
// Called on every timer tick (kTickHz) from the timer interrupt: the scheduler's time slices.
using TickHook = void (*)();
void set_tick_hook(TickHook hook);
} // namespace skiff

namespace skiff::time {

constexpr u64 kTickHz = 1000;

// Starts the tick and the clock (arch::initialize_timer), from kernel_main.
void initialize();
u64 ticks();        // timer interrupts since boot
u64 monotonic_ns(); // nanoseconds since boot, from the cycle counter
u64 cycle_hz();     // the cycle counter's rate
u64 cycles_to_ns(u64 cycles);
inline u64 cycles()
{
    return arch::cycle_counter();
}

} // namespace skiff::time
