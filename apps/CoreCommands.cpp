// Console commands of the microkernel core: ps, mem, selftest, membench.

#include <apps/Apps.h>
#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/selftest/SelfTest.h>
#include <kernel/task/Task.h>
#include <mm/Memory.h>

namespace skiff::apps {

namespace {

using console::Arguments;

// --- ps ---------------------------------------------------------------------------------------

struct ThreadRow {
    u32 id;
    char name[sched::Thread::kNameLength];
    char const* state; // a string literal
    u8 priority;
    u64 cpu_cycles;
    u64 switches;
    uptr stack_base;
    u64 stack_size;
    u64 stack_used;
    u32 task_id; // 0: a kernel thread
};

struct ThreadTable {
    static constexpr usize kMaxRows = 64;
    ThreadRow rows[kMaxRows];
    usize count { 0 };
    usize total { 0 };
};

int ps_command(Arguments const&)
{
    // Copy under interrupts-off, print afterwards.
    auto* table = new (std::nothrow) ThreadTable;
    if (!table) {
        kprintln("ps: out of memory");
        return 1;
    }
    sched::for_each_thread(
        [](sched::Thread const& thread, void* context) {
            auto* table = static_cast<ThreadTable*>(context);
            ++table->total;
            if (table->count == ThreadTable::kMaxRows)
                return;
            auto& row = table->rows[table->count++];
            row.id = thread.id();
            __builtin_memcpy(row.name, thread.name(), sizeof(row.name));
            row.state = thread.state_text();
            row.priority = thread.priority();
            row.cpu_cycles = thread.cpu_cycles();
            row.switches = thread.switches();
            row.stack_base = thread.stack_base();
            row.stack_size = thread.stack_size();
            row.stack_used = thread.stack_high_water();
            row.task_id = thread.task() ? thread.task()->id() : 0;
        },
        table);
    // MODE: `kernel` for a kernel thread, `user` for a task's (TASK: its task's id; its STACK is the
    // kernel stack its system calls and interrupts use).
    kprintln(
        "  ID  NAME                MODE    TASK  STATE    PRI   CPU ms  SWITCHES  STACK (deepest use / size at base)");
    for (usize i = table->count; i-- > 0;) {
        auto const& row = table->rows[i];
        u64 ms = time::cycles_to_ns(row.cpu_cycles) / 1000000;
        char task[12] = "-";
        if (row.task_id)
            format_to(task, sizeof(task), "{}", row.task_id);
        kprintln("{:4}  {:<18}  {:<6} {:>5}  {:<8} {:3}  {:7}  {:8}  {:5}/{}K at {:#x}", row.id, row.name,
            row.task_id ? "user" : "kernel", task, row.state, row.priority, ms, row.switches, row.stack_used,
            row.stack_size / 1024, row.stack_base);
    }
    auto stats = sched::stats();
    kprintln("{} threads, {} context switches ({} from interrupts), idle {} ms", table->total, stats.context_switches,
        stats.preemptions, time::cycles_to_ns(stats.idle_cycles) / 1000000);
    delete table;
    return 0;
}

// --- mem --------------------------------------------------------------------------------------

int mem_command(Arguments const&)
{
    auto stats = mm::stats();
    auto const& f = stats.frames;
    kprintln("frames    {} total ({} KiB): {} free, {} used, {} shared; {} allocated, {} released, {} failed", f.total,
        f.total * 4, f.free, f.used, f.shared, f.allocations, f.releases, f.failed);
    auto const& h = stats.heap;
    kprintln("heap      {} blocks live, {} bytes in blocks; {} slab pages, {} large-block pages; {} allocs, {} frees, "
             "{} failed",
        h.live_blocks, h.bytes_in_blocks, h.slab_pages, h.large_pages, h.allocations, h.frees, h.failures);
    kprint("  slabs  ");
    for (usize i = 0; i < mm::kHeapSizeClasses; ++i) {
        auto size_class = mm::heap_class_stats(i);
        kprint(" {}:{}/{}p", size_class.object_size, size_class.live_objects, size_class.pages);
    }
    kprintln("");
    auto const& p = stats.paging;
    kprintln("paging    {} maps, {} unmaps, {} remaps, {} protects; TLB flushes: {} single-page, {} full; "
             "{} table frames",
        p.maps, p.unmaps, p.remaps, p.protects, p.page_flushes, p.full_flushes, p.tables);
    auto const& x = stats.faults;
    kprintln("faults    {} page faults: {} COW copies, {} COW without copy, {} demand-zero, {} unresolved", x.faults,
        x.cow_copies, x.cow_reclaims, x.demand_zero, x.unresolved);
    kprintln("zerocopy  {} KiB in zero-copy buffers, {} frames pinned for send; kernel areas {} KiB",
        stats.zero_copy_bytes / 1024, stats.pinned_frames, stats.area_bytes / 1024);
    return 0;
}

// --- selftest --------------------------------------------------------------------------------

int selftest_command(Arguments const& arguments)
{
    auto summary = selftest::run(arguments[1]);
    return summary.failed ? 1 : 0;
}

// --- membench --------------------------------------------------------------------------------

constexpr usize kRuns = 201;

void sort(u64* values, usize count)
{
    for (usize i = 1; i < count; ++i) {
        u64 value = values[i];
        usize j = i;
        for (; j > 0 && values[j - 1] > value; --j)
            values[j] = values[j - 1];
        values[j] = value;
    }
}

void report(char const* name, u64* samples)
{
    sort(samples, kRuns);
    u64 median = samples[kRuns / 2];
    kprintln("  {:<40} {:8} {:8} {:8}", name, median, samples[0], time::cycles_to_ns(median));
}

// The architecture's ordered read of the cycle counter: the measured code neither starts before
// the first read nor finishes after the second.
u64 ordered_cycles()
{
    return arch::cycle_counter_ordered();
}

int membench_command(Arguments const&)
{
    auto* samples = static_cast<u64*>(mm::kmalloc(kRuns * sizeof(u64)));
    auto source = mm::allocate_zeroed_frame();
    auto destination = mm::allocate_zeroed_frame();
    auto spare = mm::allocate_zeroed_frame();
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    if (!samples || source.is_error() || destination.is_error() || spare.is_error() || buffer.is_error()) {
        kprintln("membench: out of memory");
        return 1;
    }
    u8* page = buffer.value();
    uptr address = reinterpret_cast<uptr>(page);
    kprintln("membench: {} runs each, {} {} MHz; cycles (median, min) and the median in ns", kRuns,
        arch::kCycleCounterName, time::cycle_hz() / 1000000);
    kprintln("  {:<40} {:>8} {:>8} {:>8}", "operation", "median", "min", "ns");

    // memcpy of one page, through the direct map.
    u8* from = mm::frame_bytes(source.value());
    u8* to = mm::frame_bytes(destination.value());
    for (usize i = 0; i < kRuns; ++i) {
        u64 start = ordered_cycles();
        __builtin_memcpy(to, from, 4096);
        samples[i] = ordered_cycles() - start;
    }
    report("memcpy 4 KiB", samples);

    // Remap of one page with its TLB flush (x86-64: invlpg; AArch64: break-before-make with one
    // TLBI): swap two frames under the buffer, back and forth.
    page[0] = 1;
    mm::PhysicalAddress other = spare.value();
    for (usize i = 0; i < kRuns; ++i) {
        u64 start = ordered_cycles();
        auto old = mm::remap_page(address, other);
        samples[i] = ordered_cycles() - start;
        other = old.value();
        *static_cast<u8 volatile*>(page); // refill the TLB, outside the measurement
    }
    report("remap 1 page + TLB flush", samples);

    // A COW fault that copies: the frame is shared (as when TCP holds it), so the write fault
    // allocates a frame, copies 4 KiB, remaps and drops a reference.
    for (usize i = 0; i < kRuns; ++i) {
        mm::PhysicalAddress original = mm::translate(address).value().physical;
        mm::ref_frame(original);
        MUST(mm::mark_copy_on_write(address)); // mapped: the buffer is ours
        u64 start = ordered_cycles();
        *static_cast<u8 volatile*>(page) = 2;
        samples[i] = ordered_cycles() - start;
        // Put the original back and drop the copy, so every run starts alike.
        mm::unref_frame(MUST(mm::remap_page(address, original))); // mapped
    }
    report("COW fault, copies (frame shared)", samples);

    // A COW fault that does not copy: sole owner, the fault only makes the page writable.
    for (usize i = 0; i < kRuns; ++i) {
        MUST(mm::mark_copy_on_write(address)); // mapped
        u64 start = ordered_cycles();
        *static_cast<u8 volatile*>(page) = 3;
        samples[i] = ordered_cycles() - start;
    }
    report("COW fault, no copy (sole owner)", samples);

    mm::free_zero_copy_buffer(page, 4096);
    mm::unref_frame(source.value());
    mm::unref_frame(destination.value());
    mm::unref_frame(other);
    mm::kfree(samples);
    return 0;
}

} // namespace

void register_core_commands()
{
    console::register_command(
        { "ps", "ps", "threads: kernel or user (and task), state, priority, CPU time, stack", ps_command });
    console::register_command(
        { "mem", "mem", "memory: frames, heap, paging and TLB flushes, COW faults, zero-copy buffers", mem_command });
    console::register_command(
        { "selftest", "selftest [prefix]", "run the in-kernel tests (mm., sched., timer., sync.)", selftest_command });
    console::register_command({ "membench", "membench",
        "cycles for memcpy 4 KiB, remap + TLB flush, COW faults with and without copy", membench_command });
}

} // namespace skiff::apps
