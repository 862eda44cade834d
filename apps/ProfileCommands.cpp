// `prof`: the LyraNET processing-time breakdown (lib/StageProfile.h), per packet and in total.

#include <apps/Apps.h>
#include <kernel/Panic.h>
#include <kernel/Print.h>
#include <kernel/Sampler.h>
#include <kernel/Time.h>
#include <kernel/console/Command.h>
#include <kernel/sched/Scheduler.h>
#include <lib/StageProfile.h>

namespace skiff::apps {

namespace {

using console::Arguments;
using profile::Stage;

u64 read_tsc()
{
    return time::cycles();
}

void print_stage(Stage stage)
{
    auto t = profile::totals(stage);
    u64 per_event = t.events ? t.cycles / t.events : 0;
    u64 ns_per_event = time::cycles_to_ns(per_event);
    // Cycles per byte in hundredths, integer arithmetic only (no FPU in the kernel).
    u64 per_byte_x100 = t.bytes ? t.cycles * 100 / t.bytes : 0;
    kprintln("  {:<12} {:>10} {:>14} {:>10} {:>9} {:>6}.{:02} {:>12}", profile::stage_name(stage), t.events, t.cycles,
        per_event, ns_per_event, per_byte_x100 / 100, per_byte_x100 % 100, t.bytes);
}

int prof_command(Arguments const& arguments)
{
    if (arguments.count() > 1) {
        if (arguments[1] == StringView("reset")) {
            profile::reset();
            kprintln("prof: counters reset");
            return 0;
        }
        kprintln("usage: prof [reset]");
        return 2;
    }
    kprintln("stage times in TSC cycles ({} MHz); events are packets (driver, protocol) or calls (socket)",
        time::tsc_hz() / 1000000);
    kprintln("  {:<12} {:>10} {:>14} {:>10} {:>9} {:>9} {:>12}", "stage", "events", "cycles", "cyc/event", "ns/event",
        "cyc/byte", "bytes");
    for (u8 s = 0; s < static_cast<u8>(Stage::Count); ++s)
        print_stage(static_cast<Stage>(s));
    return 0;
}

// Samples aggregated by function: the symbol table gives each sample's function name, and names
// are unique pointers into .ksyms, so they serve as keys.
struct FunctionSamples {
    char const* name;
    u64 count;
};

int sample_command(Arguments const& arguments)
{
    u64 seconds = 5;
    if (arguments.count() > 1 && (!parse_u64(arguments[1], seconds) || seconds == 0 || seconds > 600)) {
        kprintln("usage: sample [seconds]   (1-600, default 5)");
        return 2;
    }
    sampler::start();
    sched::sleep_ms(seconds * 1000);
    sampler::stop();

    static FunctionSamples s_functions[512];
    usize functions = 0;
    u64 unknown = 0;
    usize total = sampler::sample_count();
    for (usize i = 0; i < total; ++i) {
        char const* name = symbolize(sampler::sample(i)).name;
        if (!name) {
            ++unknown;
            continue;
        }
        usize k = 0;
        while (k < functions && s_functions[k].name != name)
            ++k;
        if (k == functions) {
            if (functions == sizeof(s_functions) / sizeof(s_functions[0])) {
                ++unknown;
                continue;
            }
            s_functions[functions++] = { name, 0 };
        }
        ++s_functions[k].count;
    }
    // Most samples first (insertion sort: at most a few hundred functions).
    for (usize i = 1; i < functions; ++i)
        for (usize k = i; k > 0 && s_functions[k].count > s_functions[k - 1].count; --k)
            swap(s_functions[k], s_functions[k - 1]);
    kprintln("{} samples in {} s at {} Hz ({} dropped, {} outside known functions)", total, seconds, time::kTickHz,
        sampler::dropped(), unknown);
    kprintln("  {:>7} {:>6}  function", "samples", "%");
    for (usize i = 0; i < functions && i < 25; ++i) {
        u64 per_mille = total ? s_functions[i].count * 1000 / total : 0;
        kprintln("  {:>7} {:>3}.{}  {}", s_functions[i].count, per_mille / 10, per_mille % 10, s_functions[i].name);
    }
    return 0;
}

} // namespace

void register_profile_commands()
{
    profile::set_counter(read_tsc);
    console::register_command({ "prof", "prof [reset]",
        "processing time per stage (driver/protocol/socket, rx and tx), as in LyraNET Fig. 5/6", prof_command });
    console::register_command({ "sample", "sample [seconds]",
        "statistical profile: where the CPU spends its time, by function (timer-interrupt sampling)", sample_command });
}

} // namespace skiff::apps
