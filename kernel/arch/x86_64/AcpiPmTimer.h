#pragma once

#include <lib/Types.h>

namespace skiff::arch::pm_timer {

// The ACPI power-management timer: a free-running 3.579545 MHz counter, 24 bits wide (ACPI 6.4
// §4.8.3.3). QEMU's PIIX4 (pc) and ICH9 (q35) models put it at PM base + 8 = 0x608 (the base the
// firmware programs). Its value is computed from QEMU's virtual clock whenever it is read, so
// unlike a timer interrupt it cannot be starved or coalesced by a busy host.
constexpr u64 kHz = 3579545;

bool present(); // the counter at 0x608 advances

// TSC cycles per second, from two (TSC, PM timer) pairs `interval_us` apart. Each pair is read
// "tight" — the PM timer read before and after the TSC read differ by at most one count (280 ns) —
// so anything that delays the guest between the pairs does not matter: both clocks kept running.
u64 measure_tsc_hz(u32 interval_us);

} // namespace skiff::arch::pm_timer
