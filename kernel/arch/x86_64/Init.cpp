#include <kernel/Time.h>
#include <kernel/arch/x86_64/AcpiPmTimer.h>
#include <kernel/arch/x86_64/DescriptorTables.h>
#include <kernel/arch/x86_64/Pic.h>
#include <kernel/arch/x86_64/Pit.h>
#include <kernel/base/Arch.h>

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
    // The TSC against the ACPI PM timer, a counter read on demand that a busy host cannot starve;
    // the PIT's channel 2 is the fallback on a machine without one. With the PIT, anything that
    // disturbs a measurement (TCG translating the polling loop, the host descheduling QEMU) only
    // makes the interval look longer, so the smallest of several is kept.
    u64 hz = pm_timer::present() ? pm_timer::measure_tsc_hz(10000) : 0;
    if (!hz) {
        (void)pit::measure_tsc_hz(200); // warm-up: the loop's translation happens here
        hz = ~0ull;
        for (int sample = 0; sample < 5; ++sample)
            hz = min(hz, pit::measure_tsc_hz(2000));
    }
    time::initialize_tsc(hz);
    pit::start_periodic(time::kTickHz);
}

} // namespace arch
} // namespace skiff
