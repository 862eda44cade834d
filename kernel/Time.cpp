#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>

namespace skiff {

namespace {

u64 volatile s_ticks = 0;
u64 s_tsc_hz = 1;
u64 s_tsc_at_boot = 0;
// ns = cycles * s_ns_per_cycle_q32 >> 32, exact to a fraction of a nanosecond per second.
u64 s_ns_per_cycle_q32 = 0;
TickHook s_tick_hook = nullptr;

void timer_irq(void*)
{
    s_ticks = s_ticks + 1;
    if (s_tick_hook)
        s_tick_hook();
}

} // namespace

void set_tick_hook(TickHook hook)
{
    s_tick_hook = hook;
}

namespace time {

void initialize_tsc(u64 hz)
{
    s_tsc_hz = hz ? hz : 1;
    s_tsc_at_boot = arch::rdtsc();
    s_ns_per_cycle_q32 = static_cast<u64>((static_cast<unsigned __int128>(1000000000ull) << 32) / s_tsc_hz);
    register_irq_handler(0, timer_irq, nullptr);
}

u64 ticks()
{
    return s_ticks;
}
u64 tsc_hz()
{
    return s_tsc_hz;
}

u64 cycles_to_ns(u64 cycles)
{
    return static_cast<u64>((static_cast<unsigned __int128>(cycles) * s_ns_per_cycle_q32) >> 32);
}

u64 monotonic_ns()
{
    return cycles_to_ns(arch::rdtsc() - s_tsc_at_boot);
}

} // namespace time
} // namespace skiff
