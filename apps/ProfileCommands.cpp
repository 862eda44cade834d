// `prof`: the LyraNET processing-time breakdown (lib/StageProfile.h), per packet and in total.

#include <apps/Apps.h>
#include <kernel/Print.h>
#include <kernel/Time.h>
#include <kernel/console/Command.h>
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

} // namespace

void register_profile_commands()
{
    profile::set_counter(read_tsc);
    console::register_command({ "prof", "prof [reset]",
        "processing time per stage (driver/protocol/socket, rx and tx), as in LyraNET Fig. 5/6", prof_command });
}

} // namespace skiff::apps
