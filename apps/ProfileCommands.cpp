// `prof`: the LyraNET processing-time breakdown (lib/StageProfile.h), per packet and in total.

#include <apps/Apps.h>
#include <apps/UdpBench.h>
#include <kernel/Time.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <kernel/base/Sampler.h>
#include <kernel/console/Command.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <lib/StageProfile.h>
#include <mm/Memory.h>
#include <net/CopyElimination.h>
#include <net/tcp/TcpSocket.h>

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

// --- prof crossover: copy versus remap per piece size (Bröse §5) ----------------------------

constexpr u32 kMaxRounds = 4000;
u64 s_samples[kMaxRounds]; // the console runs one command at a time

u64 median(u64* samples, u32 count)
{
    for (u32 i = 1; i < count; ++i)
        for (u32 k = i; k > 0 && samples[k] < samples[k - 1]; --k)
            swap(samples[k], samples[k - 1]);
    return samples[count / 2];
}

// What TcpSocket::recv does with a received piece of `size` bytes that fits its destination page
// at the same offset, with copy elimination on: remap from the socket's threshold on, else copy.
char const* stack_choice(u32 size, u32 threshold)
{
    return size >= threshold ? "remap" : "copy";
}

// For each piece size: the cycles to copy N bytes from a received page into an application page
// (what recv does without copy elimination), and the cycles to remap a received page under the
// application's page instead (mm::remap_page: the page-table write and the TLB invalidation),
// plus that remap followed by the application's first read of the page (the TLB refill the
// remap forces). The same two frames are swapped back and forth; medians over the rounds.
int crossover_command(u32 rounds)
{
    auto buffer = mm::allocate_zero_copy_buffer(kPageSize);
    if (buffer.is_error()) {
        kprintln("prof crossover: no zero-copy buffer: {}", buffer.error());
        return 1;
    }
    u8* app = buffer.value();
    auto received = mm::allocate_frame();
    if (received.is_error()) {
        mm::free_zero_copy_buffer(app, kPageSize);
        kprintln("prof crossover: no frame: {}", received.error());
        return 1;
    }
    mm::PhysicalAddress spare = received.value();
    u8* source = mm::frame_bytes(spare);
    for (u32 i = 0; i < kPageSize; ++i) {
        source[i] = static_cast<u8>(i * 7);
        app[i] = 0;
    }
    u32 threshold = net::TcpSocketOptions {}.zero_copy_threshold;
    if (knet::is_running()) {
        knet::StackLocker locker;
        threshold = knet::stack().tcp().default_zero_copy_threshold(); // measured at boot, or `zc threshold`
    }
    constexpr u32 kSizes[] = { 64, 128, 256, 384, 512, 768, 1024, 1280, 1460, 2048, 4096 };
    kprintln("prof crossover: {} rounds per size, {} cycles ({} MHz), medians", rounds, arch::kCycleCounterName,
        time::cycle_hz() / 1000000);
    kprintln("threshold {} bytes (the stack's zero_copy_threshold for new sockets, copy elimination {})", threshold,
        net::kCopyElimination ? "compiled in" : "compiled out");
    kprintln("  {:<9} {:>6} {:>12} {:>12} {:>18} {:>6}", "", "bytes", "copy", "remap", "remap+first read", "stack");
    int status = 0;
    for (u32 size : kSizes) {
        // The payload sits after the headers in the NIC's page; use the same offset here.
        u32 offset = size + 66 <= kPageSize ? 66 : 0;
        for (u32 r = 0; r < rounds; ++r) {
            u64 start = time::cycles();
            __builtin_memcpy(app + offset, source + offset, size);
            s_samples[r] = time::cycles() - start;
        }
        u64 copy = median(s_samples, rounds);
        u64 remap_only = 0;
        for (u32 pass = 0; pass < 2 && status == 0; ++pass) {
            for (u32 r = 0; r < rounds; ++r) {
                u64 start = time::cycles();
                auto old = mm::remap_page(reinterpret_cast<uptr>(app), spare);
                if (pass == 1)
                    (void)*static_cast<u8 volatile*>(app + offset); // the application reads its data
                s_samples[r] = time::cycles() - start;
                if (old.is_error()) {
                    kprintln("prof crossover: remap failed: {}", old.error());
                    status = 1;
                    break;
                }
                spare = old.value(); // the page that was there is the next round's "received" page
            }
            if (status == 0 && pass == 0)
                remap_only = median(s_samples, rounds);
        }
        if (status)
            break;
        u64 remap_read = median(s_samples, rounds);
        kprintln("  crossover {:>6} {:>12} {:>12} {:>18} {:>6}", size, copy, remap_only, remap_read,
            stack_choice(size, threshold));
    }
    mm::unref_frame(spare);
    mm::free_zero_copy_buffer(app, kPageSize);
    return status;
}

int prof_command(Arguments const& arguments)
{
    if (arguments.count() > 1) {
        if (arguments[1] == StringView("reset")) {
            profile::reset();
            kprintln("prof: counters reset");
            return 0;
        }
        if (arguments[1] == StringView("crossover")) {
            u64 rounds = 1000;
            if (arguments.count() > 2 && (!parse_u64(arguments[2], rounds) || rounds < 1 || rounds > kMaxRounds)) {
                kprintln("usage: prof crossover [rounds 1-{}]", kMaxRounds);
                return 2;
            }
            return crossover_command(static_cast<u32>(rounds));
        }
        kprintln("usage: prof [reset | crossover [rounds]]");
        return 2;
    }
    kprintln("stage times in {} cycles ({} MHz); events are packets (driver, protocol) or calls (socket)",
        arch::kCycleCounterName, time::cycle_hz() / 1000000);
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
    // `sample -- <command line>`: profile while the command runs (a guest->host ttcp, say).
    bool run_command = arguments.count() > 2 && arguments[1] == "--";
    if (!run_command && arguments.count() > 1 && (!parse_u64(arguments[1], seconds) || seconds == 0 || seconds > 600)) {
        kprintln("usage: sample [seconds]   (1-600, default 5)\n       sample -- <command line>");
        return 2;
    }
    sampler::start();
    if (run_command) {
        // The words are views into the one line buffer: the command line is the span from the
        // first to the end of the last (so quotes in it are not supported).
        char const* start = arguments[2].chars();
        StringView last = arguments[arguments.count() - 1];
        char const* end = last.end();
        u64 started = time::monotonic_ns();
        int status = console::commands().execute(StringView(start, static_cast<usize>(end - start)), console_sink());
        seconds = max<u64>(1, (time::monotonic_ns() - started + 500000000) / 1000000000);
        if (status != 0)
            kprintln("sample: the command exited with status {}", status);
    } else {
        sched::sleep_ms(seconds * 1000);
    }
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
    register_udpbench_command();
    console::register_command({ "prof", "prof [reset | crossover [rounds]]",
        "processing time per stage (driver/protocol/socket, rx and tx), as in LyraNET Fig. 5/6; crossover: copy "
        "vs remap cycles per piece size",
        prof_command });
    console::register_command({ "sample", "sample [seconds] | sample -- <command line>",
        "statistical profile: where the CPU spends its time, by function (timer-interrupt sampling)", sample_command });
}

} // namespace skiff::apps
