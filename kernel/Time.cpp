#include <kernel/Time.h>
#include <kernel/base/Interrupts.h>

namespace skiff {

namespace {

u64 volatile s_ticks = 0;
u64 s_cycle_hz = 1;
u64 s_cycles_at_boot = 0;
// ns = cycles * s_ns_per_cycle_q32 >> 32, exact to a fraction of a nanosecond per second.
u64 s_ns_per_cycle_q32 = 0;
TickHook s_tick_hook = nullptr;

void on_tick()
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

void initialize()
{
    u64 hz = arch::initialize_timer(kTickHz, on_tick);
    s_cycle_hz = hz ? hz : 1;
    s_cycles_at_boot = arch::cycle_counter();
    s_ns_per_cycle_q32 = static_cast<u64>((static_cast<unsigned __int128>(1000000000ull) << 32) / s_cycle_hz);
}

u64 ticks()
{
    return s_ticks;
}
u64 cycle_hz()
{
    return s_cycle_hz;
}

u64 cycles_to_ns(u64 cycles)
{
    return static_cast<u64>((static_cast<unsigned __int128>(cycles) * s_ns_per_cycle_q32) >> 32);
}

u64 monotonic_ns()
{
    return cycles_to_ns(arch::cycle_counter() - s_cycles_at_boot);
}

} // namespace time
} // namespace skiff
