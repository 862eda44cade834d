#include <kernel/Arch.h>
#include <kernel/Time.h>
#include <kernel/arch/x86_64/DescriptorTables.h>
#include <kernel/arch/x86_64/Pic.h>
#include <kernel/arch/x86_64/Pit.h>

namespace skiff {
namespace time {
void initialize_tsc(u64 hz);
} // namespace time

namespace arch {

void initialize_early()
{
    load_descriptor_tables();
}

void initialize_interrupts()
{
    pic::initialize();
}

void initialize_timer()
{
    // Three short channel-2 measurements; the median resists one disturbed by a host hiccup.
    u64 samples[3];
    for (auto& sample : samples)
        sample = pit::measure_tsc_hz(5000);
    if (samples[0] > samples[1])
        swap(samples[0], samples[1]);
    if (samples[1] > samples[2])
        swap(samples[1], samples[2]);
    if (samples[0] > samples[1])
        swap(samples[0], samples[1]);
    time::initialize_tsc(samples[1]);
    pit::start_periodic(time::kTickHz);
}

} // namespace arch
} // namespace skiff
