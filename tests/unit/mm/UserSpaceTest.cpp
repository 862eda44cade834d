// A task's address space (mm/UserSpace.h) over simulated page tables: the kernel's half shared and
// left alone, program pages with their permissions, stacks with guard pages, demand-zero memory,
// the memory limit, the checks the kernel makes before touching user memory for a system call
// (every pointer and length), the verdict on each kind of fault, and every frame and table given
// back when the space is destroyed.

#include <mm/UserSpace.h>

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace skiff;
using namespace skiff::mm;

namespace {

struct Machine {
    static constexpr PhysicalAddress kRamBase = 32 * 1024 * 1024;
    static constexpr u64 kFrames = 1024;
    static constexpr uptr kKernelPage = 0xffffffff80200000ull;
    std::vector<u8> ram;
    std::vector<u64> bookkeeping;
    FrameAllocator frames;
    TlbOperations tlb { [](uptr) {}, [] {} };
    PageTable kernel;
    u64 baseline_used { 0 };

    Machine()
        : ram((kFrames + 1) * kFrameSize)
        , bookkeeping(FrameAllocator::bookkeeping_bytes(kFrames) / 8 + 1)
    {
        frames.initialize(kRamBase, kFrames, bookkeeping.data());
        frames.add_free_range(kRamBase, kFrames * kFrameSize);
        EXPECT_FALSE(kernel.create(frames, window(), &tlb).is_error());
        kernel.set_active(true);
        // Something of the kernel's in its half: the image, say.
        PhysicalAddress frame = frames.allocate().value();
        EXPECT_FALSE(kernel.map(kKernelPage, frame, kPageWritable).is_error());
        EXPECT_FALSE(kernel.reserve_top_level(0xffff800000000000ull).is_error());
        kernel.seal_top_level();
        baseline_used = frames.stats().used;
    }

    PhysicalWindow window()
    {
        uptr aligned = align_up(reinterpret_cast<uptr>(ram.data()), kFrameSize);
        return PhysicalWindow { aligned - kRamBase };
    }
    u8* bytes(PhysicalAddress physical) { return window().at<u8>(physical); }
};

struct Task {
    Machine& m;
    UserSpace space;
    explicit Task(Machine& machine, u64 limit = 1 << 20)
        : m(machine)
    {
        EXPECT_FALSE(space.create(m.frames, m.window(), &m.tlb, m.kernel, limit).is_error());
    }
    u8 load(uptr address)
    {
        auto translation = space.table().translate(address);
        EXPECT_FALSE(translation.is_error()) << std::hex << address;
        return translation.is_error() ? 0 : *m.bytes(translation.value().physical);
    }
};

void fill_with_index(u64 page_index, u8* bytes, void*)
{
    std::memset(bytes, static_cast<int>(0x10 + page_index), 4096);
}

} // namespace

TEST(UserSpace, SharesTheKernelHalfAndFreesOnlyItsOwnTables)
{
    Machine m;
    {
        Task task(m);
        // The kernel's page is reachable through the task's table (same root entries)...
        auto translation = task.space.table().translate(Machine::kKernelPage);
        ASSERT_FALSE(translation.is_error());
        EXPECT_EQ(translation.value().physical, m.kernel.translate(Machine::kKernelPage).value().physical);
        // ...and not to user mode.
        EXPECT_FALSE(translation.value().entry & pte::kUser);
        ASSERT_FALSE(task.space.map_program(0x401000, 2, false, true, fill_with_index, nullptr).is_error());
        task.space.destroy();
    }
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
    // The kernel's tables are intact.
    EXPECT_FALSE(m.kernel.translate(Machine::kKernelPage).is_error());
}

TEST(UserSpace, ProgramPagesCarryTheirPermissionsAndUserAccessAtEveryLevel)
{
    Machine m;
    Task task(m);
    ASSERT_FALSE(task.space.map_program(0x401000, 2, false, true, fill_with_index, nullptr).is_error());
    ASSERT_FALSE(task.space.map_program(0x403000, 1, true, false, fill_with_index, nullptr).is_error());
    EXPECT_EQ(task.load(0x401000), 0x10);
    EXPECT_EQ(task.load(0x402fff), 0x11);
    auto text = task.space.table().translate(0x401000).value().entry;
    EXPECT_TRUE(text & pte::kUser);
    EXPECT_FALSE(text & pte::kWritable);
    EXPECT_FALSE(text & pte::kNoExecute);
    auto data = task.space.table().translate(0x403000).value().entry;
    EXPECT_TRUE((data & pte::kWritable) && (data & pte::kNoExecute));
    // Every intermediate entry on the way has U/S (or ring 3 could not reach the page).
    u64 table_frame = task.space.table().root();
    for (int level = 4; level > 1; --level) {
        u64 entry = m.window().at<u64>(table_frame)[(0x401000ull >> (12 + 9 * (level - 1))) & 511];
        EXPECT_TRUE(entry & pte::kUser) << "level " << level;
        table_frame = entry & pte::kAddressMask;
    }
    EXPECT_EQ(task.space.resident_pages(), 3u);
    EXPECT_EQ(task.space.reserved_bytes(), 3u * 4096);
    // Overlapping an existing region, or outside the program area: refused.
    EXPECT_EQ(
        task.space.map_program(0x402000, 1, false, false, fill_with_index, nullptr).error(), Error::InvalidArgument);
    EXPECT_EQ(
        task.space.map_program(0x1000, 1, false, false, fill_with_index, nullptr).error(), Error::InvalidArgument);
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, FaultsAreNamedByWhatTheyHit)
{
    Machine m;
    Task task(m);
    ASSERT_FALSE(task.space.map_program(0x401000, 1, false, true, fill_with_index, nullptr).is_error());
    ASSERT_FALSE(task.space.map_program(0x402000, 1, true, false, fill_with_index, nullptr).is_error());
    uptr top = task.space.map_stack(0, 8 * 4096).value();
    EXPECT_EQ(top, kUserTop);
    using F = UserSpace::Fault;
    EXPECT_EQ(task.space.resolve_fault(0, false, false), F::NullPage);
    EXPECT_EQ(task.space.resolve_fault(0x8, true, false), F::NullPage);
    EXPECT_EQ(task.space.resolve_fault(0x401010, true, false), F::ReadOnly);
    EXPECT_EQ(task.space.resolve_fault(0x402010, false, true), F::NotExecutable);
    EXPECT_EQ(task.space.resolve_fault(0x500000, false, false), F::NotMapped);
    EXPECT_EQ(task.space.resolve_fault(top - 9 * 4096 + 100, true, false), F::Guard);
    // The stack's pages come on first touch, zeroed.
    EXPECT_EQ(task.space.resident_pages(), 2u);
    EXPECT_EQ(task.space.resolve_fault(top - 8, true, false), F::Resolved);
    EXPECT_EQ(task.space.resident_pages(), 3u);
    EXPECT_EQ(task.load(top - 8), 0);
    // Present and allowed: nothing to resolve.
    EXPECT_EQ(task.space.resolve_fault(top - 8, true, false), F::Spurious);
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, AnonymousMemoryIsDemandZeroAndUnmappedOnlyWhole)
{
    Machine m;
    Task task(m);
    uptr base = task.space.map_anonymous(3 * 4096 + 1).value();
    EXPECT_TRUE(base >= kUserAnonymousBase && base < kUserAnonymousBase + kUserAnonymousSize);
    EXPECT_EQ(task.space.reserved_bytes(), 4u * 4096);
    EXPECT_EQ(task.space.resident_pages(), 0u);
    EXPECT_EQ(task.space.resolve_fault(base + 5000, true, false), UserSpace::Fault::Resolved);
    EXPECT_EQ(task.space.resident_pages(), 1u);
    using K = UserSpace::RegionKind;
    EXPECT_EQ(task.space.unmap(base, 4096, K::Anonymous).error(), Error::InvalidArgument); // a part
    EXPECT_EQ(task.space.unmap(base + 4096, 3 * 4096, K::Anonymous).error(), Error::InvalidArgument);
    EXPECT_EQ(task.space.unmap(base, 4 * 4096, K::Program).error(), Error::InvalidArgument); // wrong kind
    EXPECT_FALSE(task.space.unmap(base, 4 * 4096, K::Anonymous).is_error());
    EXPECT_EQ(task.space.unmap(base, 4 * 4096, K::Anonymous).error(), Error::InvalidArgument); // twice
    EXPECT_EQ(task.space.resident_pages(), 0u);
    EXPECT_EQ(task.space.reserved_bytes(), 0u);
    EXPECT_EQ(task.space.resolve_fault(base + 5000, false, false), UserSpace::Fault::NotMapped);
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, TheMemoryLimitCountsEveryRegion)
{
    Machine m;
    Task task(m, 16 * 4096);
    ASSERT_FALSE(task.space.map_program(0x401000, 4, false, true, fill_with_index, nullptr).is_error());
    ASSERT_FALSE(task.space.map_stack(0, 4 * 4096).is_error()); // the guard page is free
    EXPECT_EQ(task.space.map_anonymous(9 * 4096).error(), Error::LimitReached);
    uptr base = task.space.map_anonymous(8 * 4096).value();
    EXPECT_EQ(task.space.map_anonymous(1).error(), Error::LimitReached);
    EXPECT_EQ(task.space.map_anonymous(~0ull).error(), Error::LimitReached);
    EXPECT_EQ(task.space.map_stack(1, 4096).error(), Error::LimitReached);
    EXPECT_FALSE(task.space.unmap(base, 8 * 4096, UserSpace::RegionKind::Anonymous).is_error());
    EXPECT_FALSE(task.space.map_stack(1, 4096).is_error());
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, SystemCallPointersAreCheckedBeforeTheKernelTouchesThem)
{
    Machine m;
    Task task(m);
    ASSERT_FALSE(task.space.map_program(0x401000, 1, false, true, fill_with_index, nullptr).is_error());
    ASSERT_FALSE(task.space.map_program(0x402000, 2, true, false, fill_with_index, nullptr).is_error());
    uptr anonymous = task.space.map_anonymous(2 * 4096).value();
    uptr top = task.space.map_stack(0, 4 * 4096).value();
    // Ranges no task owns: null, the kernel's half, non-canonical, wrapping around, off the end.
    EXPECT_EQ(task.space.prepare_access(0, 16, false).error(), Error::Fault);
    EXPECT_EQ(task.space.prepare_access(0xffffffff80200000ull, 16, false).error(), Error::Fault);
    EXPECT_EQ(task.space.prepare_access(0x0000800000000000ull, 16, false).error(), Error::Fault);
    EXPECT_EQ(task.space.prepare_access(0x402000, ~0ull, false).error(), Error::Fault);
    EXPECT_EQ(task.space.prepare_access(kUserTop - 16, 64, false).error(), Error::Fault);
    EXPECT_FALSE(is_user_range(0x402000, ~0ull - 0x1000));
    EXPECT_FALSE(is_user_range(kUserTop, 1));
    EXPECT_TRUE(is_user_range(kUserTop - 1, 1));
    EXPECT_TRUE(is_user_range(0, 0));
    // Mapped and allowed: fine, reads of text, writes of data.
    EXPECT_FALSE(task.space.prepare_access(0x401000, 4096, false).is_error());
    EXPECT_FALSE(task.space.prepare_access(0x402100, 2 * 4096 - 0x100, true).is_error());
    // A write into text, a range running from data into nothing, the guard page: refused.
    EXPECT_EQ(task.space.prepare_access(0x401000, 1, true).error(), Error::Fault);
    EXPECT_EQ(task.space.prepare_access(0x403000, 4097, false).error(), Error::Fault);
    EXPECT_EQ(task.space.prepare_access(top - 5 * 4096, 8, false).error(), Error::Fault);
    // Demand-zero pages are faulted in by the check, so the access itself cannot fault.
    EXPECT_EQ(task.space.resident_pages(), 3u);
    EXPECT_FALSE(task.space.prepare_access(anonymous + 100, 5000, true).is_error());
    EXPECT_FALSE(task.space.prepare_access(top - 4096, 4096, true).is_error());
    EXPECT_EQ(task.space.resident_pages(), 6u);
    EXPECT_TRUE(task.space.table().leaf_entry(anonymous + 4096) & pte::kPresent);
    // A length of zero touches nothing, whatever the pointer.
    EXPECT_FALSE(task.space.prepare_access(0, 0, true).is_error());
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, OutOfFramesIsAnErrorNotACrash)
{
    Machine m;
    Task task(m, 4096ull * 4096);
    uptr base = task.space.map_anonymous(2000 * 4096).value();
    // More pages than the simulated machine has frames: the check fails cleanly part-way.
    EXPECT_EQ(task.space.prepare_access(base, 2000 * 4096, true).error(), Error::NoMemory);
    EXPECT_EQ(task.space.resolve_fault(base + 1999 * 4096, true, false), UserSpace::Fault::OutOfMemory);
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, TablesAreFreedWithTheSpace)
{
    Machine m;
    for (int round = 0; round < 20; ++round) {
        Task task(m);
        ASSERT_FALSE(task.space.map_program(0x401000, 3, false, true, fill_with_index, nullptr).is_error());
        uptr top = task.space.map_stack(0, 4 * 4096).value();
        (void)task.space.resolve_fault(top - 1, true, false);
        (void)task.space.map_stack(5, 4096).value();
        uptr anonymous = task.space.map_anonymous(4096).value();
        (void)task.space.resolve_fault(anonymous, true, false);
        task.space.destroy();
        ASSERT_EQ(m.frames.stats().used, m.baseline_used) << "round " << round;
    }
}

TEST(UserSpace, ZeroCopyBuffersArePinnedAndProtectedInTheTasksOwnTable)
{
    Machine m;
    Task task(m);
    ZeroCopyStats shared {};
    uptr buffer = task.space.allocate_zero_copy(2 * 4096, &shared).value();
    EXPECT_TRUE(buffer >= kUserZeroCopyBase);
    EXPECT_TRUE(task.space.is_zero_copy(buffer, 2 * 4096));
    EXPECT_FALSE(task.space.is_zero_copy(buffer, 3 * 4096));
    EXPECT_EQ(shared.registered_pages, 2u);
    EXPECT_EQ(task.space.reserved_bytes(), 2u * 4096);
    // The pages are the task's (user bit) and writable until a send pins them.
    u64 entry = task.space.table().leaf_entry(buffer);
    EXPECT_TRUE((entry & pte::kUser) && (entry & pte::kWritable));
    PhysicalAddress frame = task.space.zero_copy()->pin(buffer + 100).value();
    entry = task.space.table().leaf_entry(buffer);
    EXPECT_FALSE(entry & pte::kWritable);
    EXPECT_TRUE(entry & pte::kUser); // still the task's, read-only now
    // A write while the send holds it: the task gets a private copy, the send keeps the frame.
    EXPECT_EQ(task.space.resolve_fault(buffer + 8, true, false), UserSpace::Fault::Resolved);
    EXPECT_NE(task.space.table().translate(buffer).value().physical & ~0xfffull, frame);
    EXPECT_EQ(shared.cow_copies, 1u);
    task.space.zero_copy()->unpin(frame);
    // A receive into the second page after a pin and the ACK: prepare_access reclaims it first.
    PhysicalAddress second = task.space.zero_copy()->pin(buffer + 4096).value();
    task.space.zero_copy()->unpin(second);
    EXPECT_FALSE(task.space.table().leaf_entry(buffer + 4096) & pte::kWritable);
    EXPECT_FALSE(task.space.prepare_access(buffer + 4096, 100, true).is_error());
    EXPECT_TRUE(task.space.table().leaf_entry(buffer + 4096) & pte::kWritable);
    EXPECT_EQ(shared.lazy_reclaims, 1u);
    EXPECT_EQ(task.space.release_zero_copy(buffer + 1, 4096).error(), Error::InvalidArgument);
    EXPECT_FALSE(task.space.free_zero_copy(buffer, 2 * 4096).is_error());
    EXPECT_EQ(shared.registered_pages, 0u);
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(UserSpace, RingPagesAreReadOnlyToTheTaskAndExchangedWhole)
{
    Machine m;
    Task task(m);
    PhysicalAddress frames[4];
    uptr ring = task.space.map_ring(4, false, frames).value();
    EXPECT_TRUE(ring >= kUserRingBase && ring < kUserRingBase + kUserRingSize);
    u64 entry = task.space.table().leaf_entry(ring);
    EXPECT_TRUE((entry & pte::kUser) && !(entry & pte::kWritable) && (entry & pte::kNoExecute));
    EXPECT_EQ(task.space.prepare_access(ring, 16, true).error(), Error::Fault);
    // A received frame's page goes in, the slot's old page comes out (its reference the caller's).
    PhysicalAddress received = m.frames.allocate().value();
    EXPECT_EQ(task.space.exchange_ring_page(ring + 4096, received).value(), frames[1]);
    EXPECT_EQ(task.space.table().translate(ring + 4096).value().physical, received);
    m.frames.unref(frames[1]);
    // A page someone else holds is not exchanged.
    m.frames.ref(received);
    PhysicalAddress other = m.frames.allocate().value();
    EXPECT_EQ(task.space.exchange_ring_page(ring + 4096, other).error(), Error::Busy);
    m.frames.unref(received);
    m.frames.unref(other);
    EXPECT_EQ(task.space.exchange_ring_page(ring + 100, received).error(), Error::InvalidArgument);
    EXPECT_FALSE(task.space.unmap(ring, 4 * 4096, UserSpace::RegionKind::Ring).is_error());
    task.space.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}
