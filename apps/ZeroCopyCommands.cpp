// Console commands for copy elimination (docs/zero-copy.md):
//
//   zc              the global switch, then the zero-copy statistics (as `zc stats`)
//   zc on|off       copy elimination for sockets opened from now on, and for the next connections
//                   of listeners that never chose for themselves (the boot-time services);
//                   ttcp's -z sets one socket's own
//   zc stats        per direction, bytes copied and bytes moved without copying (sendfile's file
//                   bytes on a line of their own); remaps (and
//                   remaps refused because the application's frame was still pinned); TLB
//                   flushes; COW faults and copies; pages pinned for send now, pieces ever pinned;
//                   the page-table work of each direction (PTE writes, invlpgs) in total and per
//                   pin / per remap; the receive threshold and where it came from
//   zc threshold N  recv remaps pieces of at least N bytes, for sockets opened from now on (by
//                   hand, instead of what was measured at boot)
//   zc bench        the copy-or-remap threshold, measured: memcpy of segment-sized pieces against
//                   one remap + invlpg (the break-even size, in bytes); and a send pin + unpin
//
// The figures are cumulative since boot: read them before and after a run and subtract. The
// network stack's counters come from net/Counters.h, the memory system's from mm::stats().

#include <apps/Apps.h>
#include <apps/NetworkCommands.h>
#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/KernelPort.h>
#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>
#include <mm/Memory.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::apps {

namespace {

using console::Arguments;

// Events per call in thousandths, printed as {}.{:03} (integer arithmetic: no FPU in the kernel).
u64 per_call_x1000(u64 events, u64 calls)
{
    return calls ? events * 1000 / calls : 0;
}

void print_zero_copy_stats()
{
    net::NetCounters counters;
    u32 threshold;
    {
        knet::StackLocker locker;
        counters = knet::stack().counters();
        threshold = knet::stack().tcp().default_zero_copy_threshold();
    }
    auto memory = mm::stats();
    auto const& zc = memory.zero_copy;
    // One `key=value` group per line, so a test can read any of them with one pattern.
    kprintln("zc send: copied_bytes={} zero_copy_bytes={} pieces_pinned={}", counters.tcp_copied_bytes,
        counters.tcp_sent_zero_copy_bytes, counters.tcp_zero_copy_pieces);
    auto files = knet::send_file_stats();
    kprintln("zc sendfile: bytes={} copied_bytes={} pieces={} calls={}", files.zero_copy_bytes, files.copied_bytes,
        counters.tcp_sendfile_pieces, files.calls);
    kprintln("zc recv: copied_bytes={} zero_copy_bytes={} remaps={} remaps_refused={}",
        counters.tcp_received_copied_bytes, counters.tcp_remapped_bytes, counters.tcp_remapped_pages,
        counters.tcp_remap_refused);
    kprintln("zc mm: tlb_flushes={} tlb_full_flushes={} page_remaps={} cow_faults={} cow_copies={} pinned_now={} "
             "zc_buffer_bytes={}",
        memory.paging.page_flushes, memory.paging.full_flushes, memory.paging.remaps,
        memory.faults.cow_copies + memory.faults.cow_reclaims, memory.faults.cow_copies, memory.pinned_frames,
        memory.zero_copy_bytes);
    // The page-table work of copy elimination (mm/ZeroCopyPages.h): a send protects a page the
    // first time it takes it and never again until a write or a release lifts the protection.
    kprintln("zc send pages: pins={} unpins={} pte_writes={} invlpgs={} lazy_reclaims={} cow_copies={} released={} "
             "protected_now={}",
        zc.pins, zc.unpins, zc.send_pte_writes, zc.send_invlpgs, zc.lazy_reclaims, zc.cow_copies, zc.released_pages,
        zc.protected_pages);
    kprintln("zc recv pages: remaps={} batches={} refused={} pte_writes={} invlpgs={} full_flushes={}", zc.remaps,
        zc.remap_batches, zc.remaps_refused, zc.receive_pte_writes, zc.receive_invlpgs, zc.receive_full_flushes);
    u64 per_pin[] = { per_call_x1000(zc.send_pte_writes, zc.pins), per_call_x1000(zc.send_invlpgs, zc.pins) };
    u64 per_remap[]
        = { per_call_x1000(zc.receive_pte_writes, zc.remaps), per_call_x1000(zc.receive_invlpgs, zc.remaps) };
    kprintln("zc per call: send pte_writes/pin={}.{:03} invlpgs/pin={}.{:03}  recv pte_writes/remap={}.{:03} "
             "invlpgs/remap={}.{:03}",
        per_pin[0] / 1000, per_pin[0] % 1000, per_pin[1] / 1000, per_pin[1] % 1000, per_remap[0] / 1000,
        per_remap[0] % 1000, per_remap[1] / 1000, per_remap[1] % 1000);
    auto const& origin = knet::zero_copy_threshold();
    if (origin.bytes == threshold && origin.measured)
        kprintln("zc threshold: {} bytes, measured at boot: remap {} cycles, copy {} cycles/KiB (+{}) -> {} bytes{}",
            threshold, origin.remap_cycles, origin.copy_cycles_per_kib, origin.copy_fixed_cycles, origin.bytes,
            threshold > net::kPageSize ? " (above a page: recv copies)" : "");
    else if (origin.bytes == threshold)
        kprintln("zc threshold: {} bytes, set by hand (zc threshold)", threshold);
    else
        kprintln("zc threshold: {} bytes, the stack's built-in default (not measured)", threshold);
}

// The architecture's ordered read of the cycle counter: the measured code neither starts before
// the first read nor finishes after the second.
u64 ordered_cycles()
{
    return arch::cycle_counter_ordered();
}

constexpr u32 kBenchRuns = 101;

u64 median_of(u64* samples)
{
    for (u32 i = 1; i < kBenchRuns; ++i) {
        u64 value = samples[i];
        u32 j = i;
        for (; j > 0 && samples[j - 1] > value; --j)
            samples[j] = samples[j - 1];
        samples[j] = value;
    }
    return samples[kBenchRuns / 2];
}

// What recv weighs for each piece (TcpSocket::recv, zero_copy_threshold): copying `n` bytes
// against swapping the page in. Copies are measured at the sizes TCP actually moves (a
// timestamped full segment is 1448 bytes), from a receive-pool-like frame into a zero-copy
// buffer page at the payload's usual offset, so the cost per byte includes memcpy's start-up.
int zc_bench()
{
    static u64 samples[kBenchRuns];
    u32 threshold;
    {
        knet::StackLocker locker;
        threshold = knet::stack().tcp().default_zero_copy_threshold();
    }
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    auto source = mm::allocate_zeroed_frame();
    auto spare = mm::allocate_zeroed_frame();
    if (buffer.is_error() || source.is_error() || spare.is_error()) {
        kprintln("zc bench: out of memory");
        return 1;
    }
    u8* page = buffer.value();
    uptr address = reinterpret_cast<uptr>(page);
    u8 const* from = mm::frame_bytes(source.value());
    mm::PhysicalAddress other = spare.value();
    for (u32 i = 0; i < kBenchRuns; ++i) {
        u64 start = ordered_cycles();
        auto old = mm::remap_page(address, other);
        samples[i] = ordered_cycles() - start;
        other = old.value();              // the frame swapped out goes in next time
        *static_cast<u8 volatile*>(page); // refill the TLB, outside the measurement
    }
    u64 remap = median_of(samples);
    kprintln("zc bench: {} runs each, {} {} MHz, median cycles", kBenchRuns, arch::kCycleCounterName,
        time::cycle_hz() / 1000000);
    kprintln("  remap 1 page + TLB flush: {} cycles", remap);
    constexpr u32 kSizes[] = { 128, 256, 512, 768, 1024, 1448, 2048, 4096 - 68 };
    u32 break_even = 0;
    for (u32 size : kSizes) {
        for (u32 i = 0; i < kBenchRuns; ++i) {
            u64 start = ordered_cycles();
            __builtin_memcpy(page + 68, from + 68, size);
            samples[i] = ordered_cycles() - start;
        }
        u64 copy = median_of(samples);
        kprintln("  memcpy {:4} bytes: {:5} cycles ({}.{:02} cycles/byte){}", size, copy, copy / size,
            copy * 100 / size % 100, copy >= remap ? "  >= remap" : "");
        if (!break_even && copy >= remap)
            break_even = size;
    }
    if (break_even)
        kprintln("  a copy costs as much as a remap from about {} bytes (recv's default threshold: {} bytes)",
            break_even, threshold);
    else
        kprintln("  every copy measured is cheaper than a remap");
    // The send side: what a zero-copy send pays per piece instead of copying it. The first pin of
    // the page write-protects it; every later one, as when the same buffer is sent again, is a
    // reference count only.
    for (u32 i = 0; i < kBenchRuns; ++i) {
        u64 start = ordered_cycles();
        auto pinned = mm::pin_page(address + 68);
        if (!pinned.is_error())
            mm::unpin_page(pinned.value());
        samples[i] = ordered_cycles() - start;
    }
    kprintln("  send: pin + unpin of a page already protected: {} cycles (the first send of a page adds a "
             "PTE write + invlpg)",
        median_of(samples));
    mm::free_zero_copy_buffer(page, 4096);
    mm::unref_frame(source.value());
    mm::unref_frame(other);
    return 0;
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
    if (word == "bench")
        return zc_bench();
    if (word == "threshold") {
        u64 bytes = 0;
        if (arguments.count() != 3 || !parse_u64(arguments[2], bytes) || bytes < 1 || bytes > net::kPageSize + 1) {
            kprintln("usage: zc threshold N  (1-{} bytes; {} never remaps)", net::kPageSize + 1, net::kPageSize + 1);
            return 1;
        }
        {
            knet::StackLocker locker;
            knet::stack().tcp().set_default_zero_copy_threshold(static_cast<u32>(bytes));
        }
        knet::ZeroCopyThreshold by_hand;
        by_hand.bytes = static_cast<u32>(bytes);
        knet::set_zero_copy_threshold(by_hand);
        kprintln("zc: recv remaps pieces of {} bytes or more, for new sockets (set by hand)", bytes);
        return 0;
    }
    if (!word.is_empty() && word != "stats") {
        kprintln("usage: zc [on|off|stats|threshold N|bench]");
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
    console::register_command({ "zc", "zc [on|off|stats|threshold N|bench]",
        "copy elimination: the global switch, bytes copied / not copied, page-table work, the receive threshold",
        zc_command });
}

} // namespace skiff::apps
