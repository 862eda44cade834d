#include <kernel/base/Sampler.h>

namespace skiff::sampler {

namespace {

// Written only by the timer interrupt while s_running; read by the console after stop().
uptr s_samples[kMaxSamples];
usize volatile s_count = 0;
u64 volatile s_dropped = 0;
bool volatile s_running = false;

} // namespace

void start()
{
    s_running = false;
    s_count = 0;
    s_dropped = 0;
    s_running = true;
}

void stop()
{
    s_running = false;
}
bool running()
{
    return s_running;
}

void record(uptr instruction_pointer)
{
    if (!s_running)
        return;
    if (s_count == kMaxSamples) {
        s_dropped = s_dropped + 1;
        return;
    }
    s_samples[s_count] = instruction_pointer;
    s_count = s_count + 1;
}

usize sample_count()
{
    return s_count;
}
uptr sample(usize index)
{
    return index < s_count ? s_samples[index] : 0;
}
u64 dropped()
{
    return s_dropped;
}

} // namespace skiff::sampler
