// Console commands for copy elimination (DESIGN §5, docs/zero-copy.md):
//
//   zc              the global switch, then the zero-copy statistics (as `zc stats`)
//   zc on|off       copy elimination for sockets opened from now on, and for the next connections
//                   of listeners that never chose for themselves (the boot-time services);
//                   ttcp's -z sets one socket's own
//   zc stats        per direction, bytes copied and bytes moved without copying; remaps (and
//                   remaps refused because the application's frame was still pinned); TLB
//                   flushes; COW faults and copies; pages pinned for send now, pieces ever pinned
//
// The figures are cumulative since boot: read them before and after a run and subtract. The
// network stack's counters come from net/Counters.h, the memory system's from mm::stats().

#include <apps/Apps.h>
#include <apps/NetworkCommands.h>
#include <kernel/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/Network.h>
#include <mm/Memory.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::apps {

namespace {

using console::Arguments;

void print_zero_copy_stats()
{
    net::NetCounters counters;
    {
        knet::StackLocker locker;
        counters = knet::stack().counters();
    }
    auto memory = mm::stats();
    // One `key=value` group per line, so a test can read any of them with one pattern.
    kprintln("zc send: copied_bytes={} zero_copy_bytes={} pieces_pinned={}", counters.tcp_copied_bytes,
        counters.tcp_sent_zero_copy_bytes, counters.tcp_zero_copy_pieces);
    kprintln("zc recv: copied_bytes={} zero_copy_bytes={} remaps={} remaps_refused={}",
        counters.tcp_received_copied_bytes, counters.tcp_remapped_bytes, counters.tcp_remapped_pages,
        counters.tcp_remap_refused);
    kprintln("zc mm: tlb_flushes={} tlb_full_flushes={} page_remaps={} cow_faults={} cow_copies={} pinned_now={} "
             "zc_buffer_bytes={}",
        memory.paging.page_flushes, memory.paging.full_flushes, memory.paging.remaps,
        memory.faults.cow_copies + memory.faults.cow_reclaims, memory.faults.cow_copies, memory.pinned_frames,
        memory.zero_copy_bytes);
}

int zc_command(Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    StringView word = arguments[1];
    if (word == "on" || word == "off") {
        bool on = word == "on";
        {
            knet::StackLocker locker;
            knet::stack().tcp().set_default_zero_copy(on);
        }
        kprintln("zc: copy elimination {} for new sockets", on ? "on" : "off");
        return 0;
    }
    if (!word.is_empty() && word != "stats") {
        kprintln("usage: zc [on|off|stats]");
        return 1;
    }
    if (word.is_empty()) {
        bool on;
        {
            knet::StackLocker locker;
            on = knet::stack().tcp().default_zero_copy();
        }
        kprintln("zc: copy elimination {} for new sockets", on ? "on" : "off");
    }
    print_zero_copy_stats();
    return 0;
}

} // namespace

void register_zero_copy_commands()
{
    console::register_command({ "zc", "zc [on|off|stats]",
        "copy elimination: the global switch, and bytes copied / not copied, remaps, TLB flushes, COW, pins",
        zc_command });
}

} // namespace skiff::apps
