// In-kernel tests of mm/: they run on the real MMU, so they show what host tests cannot: that a
// flush really drops the old translation, that a write to a COW page really faults and is
// resolved, and that every frame comes back.

#include <kernel/base/Arch.h>
#include <kernel/base/Layout.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/selftest/SelfTest.h>
#include <mm/Memory.h>

namespace skiff::selftest {

namespace {

using mm::PhysicalAddress;

// Reads and writes the compiler may not fold or reorder: they must reach the MMU.
u8 peek(void const* address)
{
    return *static_cast<u8 const volatile*>(address);
}
void poke(void* address, u8 value)
{
    *static_cast<u8 volatile*>(address) = value;
}

PhysicalAddress frame_of(void const* address)
{
    auto translation = mm::translate(reinterpret_cast<uptr>(address));
    return translation.is_error() ? 0 : align_down(translation.value().physical, 4096);
}

bool frames_refcount_and_sharing(TestContext& t)
{
    auto before = mm::frame_stats();
    auto frame = mm::allocate_zeroed_frame();
    KCHECK(t, !frame.is_error());
    KCHECK_EQ(t, mm::frame_refcount(frame.value()), 1u);
    KCHECK_EQ(t, mm::frame_bytes(frame.value())[4095], 0);
    mm::ref_frame(frame.value());
    KCHECK_EQ(t, mm::frame_refcount(frame.value()), 2u);
    KCHECK_EQ(t, mm::frame_stats().shared, before.shared + 1);
    mm::unref_frame(frame.value());
    KCHECK_EQ(t, mm::frame_stats().shared, before.shared);
    KCHECK_EQ(t, mm::frame_stats().free, before.free - 1);
    mm::unref_frame(frame.value());
    KCHECK_EQ(t, mm::frame_stats().free, before.free);
    return true;
}

bool contiguous_dma_run(TestContext& t)
{
    auto region = mm::allocate_dma(5 * 4096, 16 * 4096);
    KCHECK(t, !region.is_error());
    auto const& run = region.value();
    KCHECK_EQ(t, run.physical % (16 * 4096), 0u);
    KCHECK_EQ(t, run.pages, 5u);
    for (u64 i = 0; i < run.pages; ++i) {
        KCHECK_EQ(t, frame_of(run.virtual_address + i * 4096), run.physical + i * 4096);
        KCHECK_EQ(t, mm::frame_refcount(run.physical + i * 4096), 1u);
        KCHECK_EQ(t, peek(run.virtual_address + i * 4096 + 17), 0); // zeroed
    }
    mm::free_dma(run);
    return true;
}

bool map_translate_unmap(TestContext& t)
{
    // An area of two not-yet-touched pages gives us virtual addresses with nothing behind them.
    auto area = mm::allocate_area(2 * 4096, { .demand_zero = true });
    KCHECK(t, !area.is_error());
    uptr page = area.value();
    PhysicalAddress frame = MUST(mm::allocate_zeroed_frame()); // checked just above for memory
    {
        arch::InterruptDisabler disabler;
        auto& table = mm::kernel_page_table();
        u64 flushes = table.stats().page_flushes;
        KCHECK(t, !table.map(page, frame, mm::kPageWritable | mm::kPageNoExecute).is_error());
        KCHECK_EQ(t, table.stats().page_flushes, flushes); // a new mapping needs no flush
        auto translation = table.translate(page + 0x234);
        KCHECK(t, !translation.is_error());
        KCHECK_EQ(t, translation.value().physical, frame + 0x234);
        KCHECK_EQ(t, translation.value().page_size, 4096u);
        KCHECK(t, table.map(page, frame, 0).is_error()); // already mapped
    }
    poke(reinterpret_cast<u8*>(page) + 10, 0x5a);
    KCHECK_EQ(t, mm::frame_bytes(frame)[10], 0x5a); // the same bytes through the direct map
    {
        arch::InterruptDisabler disabler;
        auto& table = mm::kernel_page_table();
        u64 flushes = table.stats().page_flushes;
        auto old = table.unmap(page);
        KCHECK(t, !old.is_error());
        KCHECK_EQ(t, old.value(), frame);
        KCHECK_EQ(t, table.stats().page_flushes, flushes + 1); // exactly one invlpg
        KCHECK(t, table.translate(page).is_error());
    }
    mm::unref_frame(frame);
    mm::free_area(area.value(), 2 * 4096, { .demand_zero = true });
    return true;
}

bool remap_swaps_frame_and_flushes(TestContext& t)
{
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    poke(bytes, 0x11); // the translation is now in the TLB
    PhysicalAddress original = frame_of(bytes);
    PhysicalAddress received = MUST(mm::allocate_zeroed_frame()); // memory checked by the buffer
    mm::frame_bytes(received)[0] = 0x22;
    u64 flushes = mm::stats().paging.page_flushes;
    auto old = mm::remap_page(reinterpret_cast<uptr>(bytes), received);
    KCHECK(t, !old.is_error());
    KCHECK_EQ(t, old.value(), original);
    KCHECK_EQ(t, mm::stats().paging.page_flushes, flushes + 1);
    KCHECK_EQ(t, peek(bytes), 0x22); // the CPU sees the new frame: the stale entry is gone
    KCHECK_EQ(t, frame_of(bytes), received);
    KCHECK_EQ(t, mm::frame_bytes(original)[0], 0x11);
    mm::unref_frame(old.value()); // remap handed its reference to us
    mm::free_zero_copy_buffer(bytes, 4096);
    return true;
}

bool flush_really_takes_effect(TestContext& t)
{
    // Change a PTE behind the TLB's back, then invlpg: the new frame must be seen after the flush.
    // (Before it, the CPU may still use the old translation; under QEMU's TCG it does.)
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    uptr page = reinterpret_cast<uptr>(bytes);
    poke(bytes, 0xa1);
    PhysicalAddress other = MUST(mm::allocate_zeroed_frame()); // memory checked by the buffer
    mm::frame_bytes(other)[0] = 0xb2;
    PhysicalAddress original;
    u8 before_flush, after_flush;
    {
        arch::InterruptDisabler disabler;
        auto& table = mm::kernel_page_table();
        table.set_active(false);                   // suppress the walker's invlpg for this one remap
        original = MUST(table.remap(page, other)); // present: allocated above
        table.set_active(true);
        before_flush = peek(bytes);
        arch::flush_tlb_page(page);
        after_flush = peek(bytes);
    }
    KCHECK_EQ(t, after_flush, 0xb2);
    KCHECK(t, before_flush == 0xa1 || before_flush == 0xb2);
    mm::unref_frame(original);
    mm::free_zero_copy_buffer(bytes, 4096);
    return true;
}

bool cow_copies_shared_page(TestContext& t)
{
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    poke(bytes, 'A');
    auto faults = mm::stats().faults;
    // TCP pins the page for a zero-copy send: refcount 2, read-only, COW.
    auto pinned = mm::pin_page(reinterpret_cast<uptr>(bytes) + 100);
    KCHECK(t, !pinned.is_error());
    KCHECK_EQ(t, mm::frame_refcount(pinned.value()), 2u);
    KCHECK(t, !(mm::translate(reinterpret_cast<uptr>(bytes)).value().entry & mm::pte::kWritable));
    poke(bytes, 'B'); // faults: the frame is shared, so the application gets a copy
    KCHECK_EQ(t, mm::stats().faults.cow_copies, faults.cow_copies + 1);
    KCHECK_EQ(t, mm::stats().faults.cow_reclaims, faults.cow_reclaims);
    KCHECK(t, frame_of(bytes) != pinned.value());
    KCHECK_EQ(t, peek(bytes), 'B');
    KCHECK_EQ(t, peek(bytes + 1), 0);                      // the rest of the page was copied
    KCHECK_EQ(t, mm::frame_bytes(pinned.value())[0], 'A'); // TCP still sends what was written
    KCHECK_EQ(t, mm::frame_refcount(pinned.value()), 1u);  // only the pin holds it now
    KCHECK(t, mm::translate(reinterpret_cast<uptr>(bytes)).value().entry & mm::pte::kWritable);
    mm::unpin_page(pinned.value()); // the ACK: the original frame is freed
    mm::free_zero_copy_buffer(bytes, 4096);
    return true;
}

bool cow_reclaims_sole_page(TestContext& t)
{
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    uptr page = reinterpret_cast<uptr>(bytes);
    poke(bytes, 1);
    PhysicalAddress frame = frame_of(bytes);
    auto faults = mm::stats().faults;
    KCHECK(t, !mm::mark_copy_on_write(page).is_error());
    poke(bytes, 2); // faults; refcount 1, so no copy: just writable again
    KCHECK_EQ(t, mm::stats().faults.cow_reclaims, faults.cow_reclaims + 1);
    KCHECK_EQ(t, mm::stats().faults.cow_copies, faults.cow_copies);
    KCHECK_EQ(t, frame_of(bytes), frame);
    KCHECK_EQ(t, peek(bytes), 2);

    // Two pins (two segments in the same page), released before any write: the page stays
    // read-only after the last one goes (protection is lifted lazily), and the next write takes
    // one fault that makes it writable again without a copy.
    auto pinned = mm::pin_page(page);
    auto pinned_again = mm::pin_page(page + 2000);
    KCHECK(t, !pinned.is_error() && !pinned_again.is_error());
    KCHECK_EQ(t, pinned.value(), pinned_again.value());
    KCHECK_EQ(t, mm::frame_refcount(frame), 3u);
    mm::unpin_page(pinned.value());
    KCHECK(t, !(mm::translate(page).value().entry & mm::pte::kWritable));
    mm::unpin_page(pinned_again.value());
    KCHECK_EQ(t, mm::frame_refcount(frame), 1u);
    KCHECK(t, !(mm::translate(page).value().entry & mm::pte::kWritable));
    u64 fault_count = mm::stats().faults.faults;
    u64 lazy = mm::stats().zero_copy.lazy_reclaims;
    poke(bytes, 3);
    KCHECK_EQ(t, mm::stats().faults.faults, fault_count + 1);
    KCHECK_EQ(t, mm::stats().zero_copy.lazy_reclaims, lazy + 1);
    KCHECK_EQ(t, frame_of(bytes), frame);
    KCHECK(t, mm::translate(page).value().entry & mm::pte::kWritable);
    poke(bytes, 4); // writable now: no fault
    KCHECK_EQ(t, mm::stats().faults.faults, fault_count + 1);
    mm::free_zero_copy_buffer(bytes, 4096);

    // Memory outside zero-copy buffers is never pinned: a stack page, a heap block.
    u8 on_stack = 0;
    KCHECK(t, mm::pin_page(reinterpret_cast<uptr>(&on_stack)).is_error());
    void* on_heap = mm::kmalloc(64);
    KCHECK(t, on_heap != nullptr);
    bool heap_refused = mm::pin_page(reinterpret_cast<uptr>(on_heap)).is_error();
    mm::kfree(on_heap);
    KCHECK(t, heap_refused);
    return true;
}

bool demand_zero_pages(TestContext& t)
{
    u64 frames_before = mm::frames_in_use_for_tests();
    auto area = mm::allocate_area(3 * 4096, { .demand_zero = true });
    KCHECK(t, !area.is_error());
    auto* bytes = reinterpret_cast<u8*>(area.value());
    KCHECK_EQ(t, mm::frames_in_use_for_tests(), frames_before); // nothing behind it yet
    u64 demand = mm::stats().faults.demand_zero;
    KCHECK_EQ(t, peek(bytes + 4096 + 5), 0);
    poke(bytes + 2 * 4096, 7);
    KCHECK_EQ(t, mm::stats().faults.demand_zero, demand + 2);
    KCHECK_EQ(t, mm::frames_in_use_for_tests(), frames_before + 2);
    KCHECK_EQ(t, peek(bytes + 2 * 4096), 7);
    KCHECK(t, mm::translate(area.value()).is_error()); // page 0 never touched
    mm::free_area(area.value(), 3 * 4096, { .demand_zero = true });
    return true;
}

bool guard_pages_under_stacks(TestContext& t)
{
    auto area = mm::allocate_area(4096, { .guard_below = true });
    KCHECK(t, !area.is_error());
    u64 entry = mm::kernel_page_table().leaf_entry(area.value() - 4096);
    KCHECK(t, !(entry & mm::pte::kPresent));
    KCHECK(t, entry & mm::pte::kGuard);
    mm::free_area(area.value(), 4096, { .guard_below = true });
    KCHECK_EQ(t, mm::kernel_page_table().leaf_entry(area.value() - 4096), 0u);
    // Every thread's stack has one, the boot thread's included.
    bool all_guarded = true;
    sched::for_each_thread(
        [](sched::Thread const& thread, void* context) {
            auto* all_guarded = static_cast<bool*>(context);
            if (!(mm::kernel_page_table().leaf_entry(thread.stack_base() - 4096) & mm::pte::kGuard))
                *all_guarded = false;
        },
        &all_guarded);
    KCHECK(t, all_guarded);
    return true;
}

bool mmio_is_uncached(TestContext& t)
{
    // The local APIC's page: mapped, never touched here.
    auto mapped = mm::map_mmio(0xfee00020, 8);
    KCHECK(t, !mapped.is_error());
    KCHECK_EQ(t, reinterpret_cast<uptr>(mapped.value()) & 0xfff, 0x20u);
    auto translation = mm::translate(reinterpret_cast<uptr>(mapped.value()));
    KCHECK(t, !translation.is_error());
    KCHECK_EQ(t, translation.value().physical, 0xfee00020u);
    KCHECK_EQ(t, translation.value().entry & mm::pte::kUncached, mm::pte::kUncached);
    mm::unmap_mmio(mapped.value(), 8);
    KCHECK(t, mm::translate(reinterpret_cast<uptr>(mapped.value())).is_error());
    return true;
}

bool zero_copy_buffers(TestContext& t)
{
    u64 bytes_before = mm::stats().zero_copy_bytes;
    auto buffer = mm::allocate_zero_copy_buffer(3 * 4096 - 100);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    KCHECK_EQ(t, reinterpret_cast<uptr>(bytes) & 0xfff, 0u);
    KCHECK_EQ(t, mm::stats().zero_copy_bytes, bytes_before + 3 * 4096);
    KCHECK(t, mm::is_zero_copy_buffer(bytes + 10, 3 * 4096 - 10));
    PhysicalAddress f0 = frame_of(bytes), f1 = frame_of(bytes + 4096), f2 = frame_of(bytes + 8192);
    KCHECK(t, f0 && f1 && f2 && f0 != f1 && f1 != f2 && f0 != f2);
    KCHECK_EQ(t, peek(bytes + 3 * 4096 - 1), 0);
    u8 on_heap = 0;
    KCHECK(t, !mm::is_zero_copy_buffer(&on_heap, 1));
    mm::free_zero_copy_buffer(bytes, 3 * 4096 - 100);
    KCHECK_EQ(t, mm::stats().zero_copy_bytes, bytes_before);
    return true;
}

bool heap_reuses_memory(TestContext& t)
{
    auto before = mm::heap_stats();
    constexpr usize kCount = 96;
    void* blocks[kCount];
    for (usize i = 0; i < kCount; ++i) {
        usize size = 8 + (i * 37) % 1900;
        blocks[i] = mm::kmalloc(size);
        KCHECK(t, blocks[i] != nullptr);
        KCHECK_EQ(t, reinterpret_cast<uptr>(blocks[i]) % 16, 0u);
        __builtin_memset(blocks[i], static_cast<int>(i), size);
    }
    void* large = mm::kmalloc(10000);
    KCHECK(t, large != nullptr);
    __builtin_memset(large, 0xee, 10000);
    for (usize i = 0; i < kCount; ++i) {
        usize size = 8 + (i * 37) % 1900;
        KCHECK_EQ(t, static_cast<u8*>(blocks[i])[size - 1], static_cast<u8>(i));
    }
    for (usize i = 0; i < kCount; i += 2)
        mm::kfree(blocks[i]);
    for (usize i = 1; i < kCount; i += 2)
        mm::kfree(blocks[i]);
    mm::kfree(large);
    auto after = mm::heap_stats();
    KCHECK_EQ(t, after.live_blocks, before.live_blocks);
    KCHECK_EQ(t, after.bytes_in_blocks, before.bytes_in_blocks);
    KCHECK_EQ(t, after.large_pages, before.large_pages);
    // Empty slabs go back to the frame allocator, at most one kept per size class.
    KCHECK(t, after.slab_pages <= before.slab_pages + mm::kHeapSizeClasses);
    return true;
}

// A zero-copy buffer freed while TCP still holds a send pin on one of its pages (a send pin outliving its buffer): the
// pin's reference keeps the frame and its bytes, read through the direct map; unpinning a page
// that is no longer mapped (or mapped to something else) only drops the reference.
bool free_while_pinned(TestContext& t)
{
    u64 frames_before = mm::frames_in_use_for_tests();
    auto buffer = mm::allocate_zero_copy_buffer(2 * 4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    poke(bytes, 'S');
    poke(bytes + 4096, 'T');
    auto first = mm::pin_page(reinterpret_cast<uptr>(bytes) + 10);
    auto second = mm::pin_page(reinterpret_cast<uptr>(bytes) + 4096);
    KCHECK(t, !first.is_error() && !second.is_error());
    poke(bytes + 4096, 'U'); // a COW copy: the second page now maps another frame
    u64 pinned = mm::stats().pinned_frames;
    mm::free_zero_copy_buffer(bytes, 2 * 4096);
    // The pinned frames live on with the bytes of pin time; the COW copy went with the buffer.
    KCHECK_EQ(t, mm::frame_refcount(first.value()), 1u);
    KCHECK_EQ(t, mm::frame_refcount(second.value()), 1u);
    KCHECK_EQ(t, mm::frame_bytes(first.value())[0], 'S');
    KCHECK_EQ(t, mm::frame_bytes(second.value())[0], 'T');
    // The region is handed out again (likely at the same address) before the pins go.
    auto again = mm::allocate_zero_copy_buffer(2 * 4096);
    KCHECK(t, !again.is_error());
    poke(again.value(), 'N');
    mm::unpin_page(first.value());
    mm::unpin_page(second.value());
    KCHECK_EQ(t, mm::stats().pinned_frames, pinned - 2);
    KCHECK_EQ(t, peek(again.value()), 'N'); // the new buffer's pages were not touched
    poke(again.value() + 4096, 'M');        // and are writable
    mm::free_zero_copy_buffer(again.value(), 2 * 4096);
    KCHECK_EQ(t, mm::frames_in_use_for_tests(), frames_before);
    return true;
}

// The receive remap hands the application's old frame to a NIC ring: never one still pinned.
bool remap_refuses_pinned_frame(TestContext& t)
{
    auto buffer = mm::allocate_zero_copy_buffer(4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    poke(bytes, 'P');
    auto pinned = mm::pin_page(reinterpret_cast<uptr>(bytes));
    KCHECK(t, !pinned.is_error());
    PhysicalAddress received = MUST(mm::allocate_zeroed_frame()); // memory checked by the buffer
    auto refused = mm::remap_page(reinterpret_cast<uptr>(bytes), received);
    KCHECK(t, refused.is_error() && refused.error() == Error::Busy);
    KCHECK_EQ(t, frame_of(bytes), pinned.value()); // nothing changed
    mm::unpin_page(pinned.value());
    auto old = mm::remap_page(reinterpret_cast<uptr>(bytes), received); // sole owner now
    KCHECK(t, !old.is_error());
    KCHECK_EQ(t, old.value(), pinned.value());
    mm::unref_frame(old.value());
    mm::free_zero_copy_buffer(bytes, 4096);
    return true;
}

// The steady state of `ttcp -t -s`: the same buffer sent again and again. Only the first send of
// each page changes the page table (write-protect + invlpg); every later pin and unpin is a
// reference count, however many sends there are.
bool pin_steady_state(TestContext& t)
{
    constexpr u64 kPages = 16;
    auto buffer = mm::allocate_zero_copy_buffer(kPages * 4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    uptr base = reinterpret_cast<uptr>(bytes);
    for (u64 i = 0; i < kPages; ++i)
        poke(bytes + i * 4096, static_cast<u8>(i));
    auto before = mm::stats();
    // The first send: each page protected once.
    for (u64 i = 0; i < kPages; ++i)
        mm::unpin_page(MUST(mm::pin_page(base + i * 4096))); // a zero-copy buffer page
    auto first = mm::stats();
    KCHECK_EQ(t, first.zero_copy.send_pte_writes, before.zero_copy.send_pte_writes + kPages);
    KCHECK_EQ(t, first.zero_copy.send_invlpgs, before.zero_copy.send_invlpgs + kPages);
    KCHECK_EQ(t, first.paging.page_flushes, before.paging.page_flushes + kPages);
    // 2000 more sends of the whole buffer, three segments per page, each acknowledged after the
    // next send took its pins (as TCP does with a window of data in flight).
    PhysicalAddress held[kPages * 3];
    u64 count = 0;
    for (u32 send = 0; send < 2000; ++send) {
        PhysicalAddress pins[kPages * 3];
        for (u64 i = 0; i < kPages * 3; ++i) {
            auto pinned = mm::pin_page(base + (i / 3) * 4096 + (i % 3) * 1448);
            KCHECK(t, !pinned.is_error());
            pins[i] = pinned.value();
        }
        for (u64 i = 0; i < count; ++i)
            mm::unpin_page(held[i]);
        for (u64 i = 0; i < kPages * 3; ++i)
            held[i] = pins[i];
        count = kPages * 3;
    }
    for (u64 i = 0; i < count; ++i)
        mm::unpin_page(held[i]);
    auto after = mm::stats();
    KCHECK_EQ(t, after.zero_copy.send_pte_writes, first.zero_copy.send_pte_writes);
    KCHECK_EQ(t, after.zero_copy.send_invlpgs, first.zero_copy.send_invlpgs);
    KCHECK_EQ(t, after.paging.page_flushes, first.paging.page_flushes);
    KCHECK_EQ(t, after.paging.full_flushes, first.paging.full_flushes);
    KCHECK_EQ(t, after.paging.protects, first.paging.protects);
    KCHECK_EQ(t, after.faults.faults, first.faults.faults);
    KCHECK_EQ(t, after.zero_copy.pins, first.zero_copy.pins + 2000 * kPages * 3);
    KCHECK_EQ(t, after.pinned_frames, before.pinned_frames);
    // Still protected; the bytes of the first send are where they were.
    for (u64 i = 0; i < kPages; ++i) {
        KCHECK(t, !(mm::translate(base + i * 4096).value().entry & mm::pte::kWritable));
        KCHECK_EQ(t, peek(bytes + i * 4096), static_cast<u8>(i));
    }
    mm::free_zero_copy_buffer(bytes, kPages * 4096);
    return true;
}

// release_zero_copy_buffer: the application says it will write. Pages no send holds become
// writable without a fault; a page a send still holds stays protected and a write to it copies.
bool release_lifts_protection(TestContext& t)
{
    auto buffer = mm::allocate_zero_copy_buffer(2 * 4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    uptr base = reinterpret_cast<uptr>(bytes);
    poke(bytes, 'a');
    poke(bytes + 4096, 'b');
    mm::unpin_page(MUST(mm::pin_page(base))); // sent and acknowledged
    auto held = mm::pin_page(base + 4096);    // still in flight
    KCHECK(t, !held.is_error());
    auto before = mm::stats();
    KCHECK_EQ(t, mm::release_zero_copy_buffer(bytes, 2 * 4096), 1u);
    KCHECK(t, mm::translate(base).value().entry & mm::pte::kWritable);
    KCHECK(t, !(mm::translate(base + 4096).value().entry & mm::pte::kWritable));
    poke(bytes, 'c'); // no fault
    KCHECK_EQ(t, mm::stats().faults.faults, before.faults.faults);
    poke(bytes + 4096, 'd'); // the held page: a private copy
    auto after = mm::stats();
    KCHECK_EQ(t, after.faults.faults, before.faults.faults + 1);
    KCHECK_EQ(t, after.zero_copy.cow_copies, before.zero_copy.cow_copies + 1);
    KCHECK_EQ(t, after.zero_copy.released_pages, before.zero_copy.released_pages + 1);
    KCHECK_EQ(t, mm::frame_bytes(held.value())[0], 'b');
    KCHECK_EQ(t, peek(bytes + 4096), 'd');
    mm::unpin_page(held.value());
    mm::free_zero_copy_buffer(bytes, 2 * 4096);
    return true;
}

// remap_pages on the real MMU: every page shows its new frame after the batch, one invlpg each,
// issued after all the PTE writes.
bool remap_pages_batch(TestContext& t)
{
    constexpr u32 kPages = 3;
    auto buffer = mm::allocate_zero_copy_buffer(kPages * 4096);
    KCHECK(t, !buffer.is_error());
    u8* bytes = buffer.value();
    mm::PageExchange batch[kPages];
    PhysicalAddress original[kPages];
    for (u32 i = 0; i < kPages; ++i) {
        poke(bytes + i * 4096, 'o'); // the old translations are in the TLB
        original[i] = frame_of(bytes + i * 4096);
        PhysicalAddress received = MUST(mm::allocate_zeroed_frame()); // memory checked by the buffer
        mm::frame_bytes(received)[0] = static_cast<u8>('0' + i);
        batch[i] = { reinterpret_cast<uptr>(bytes) + i * 4096, received };
    }
    auto before = mm::stats();
    KCHECK_EQ(t, mm::remap_pages(batch), kPages);
    auto after = mm::stats();
    KCHECK_EQ(t, after.zero_copy.receive_pte_writes, before.zero_copy.receive_pte_writes + kPages);
    KCHECK_EQ(t, after.zero_copy.receive_invlpgs, before.zero_copy.receive_invlpgs + kPages);
    KCHECK_EQ(t, after.zero_copy.remap_batches, before.zero_copy.remap_batches + 1);
    for (u32 i = 0; i < kPages; ++i) {
        KCHECK_EQ(t, peek(bytes + i * 4096), static_cast<u8>('0' + i));
        KCHECK_EQ(t, batch[i].frame, original[i]);
        mm::unref_frame(batch[i].frame);
    }
    mm::free_zero_copy_buffer(bytes, kPages * 4096);
    return true;
}

constexpr TestCase kTests[] = {
    { "mm.frame_refcounts", frames_refcount_and_sharing },
    { "mm.contiguous_dma_run", contiguous_dma_run },
    { "mm.map_translate_unmap", map_translate_unmap },
    { "mm.remap_swaps_frame", remap_swaps_frame_and_flushes },
    { "mm.flush_takes_effect", flush_really_takes_effect },
    { "mm.cow_copies_shared_page", cow_copies_shared_page },
    { "mm.cow_reclaims_sole_page", cow_reclaims_sole_page },
    { "mm.demand_zero", demand_zero_pages },
    { "mm.guard_pages", guard_pages_under_stacks },
    { "mm.mmio_uncached", mmio_is_uncached },
    { "mm.zero_copy_buffers", zero_copy_buffers },
    { "mm.free_while_pinned", free_while_pinned },
    { "mm.remap_refuses_pinned_frame", remap_refuses_pinned_frame },
    { "mm.pin_steady_state", pin_steady_state },
    { "mm.release_lifts_protection", release_lifts_protection },
    { "mm.remap_pages_batch", remap_pages_batch },
    { "mm.heap_reuse", heap_reuses_memory },
};

} // namespace

Span<TestCase const> memory_tests()
{
    return kTests;
}

} // namespace skiff::selftest
