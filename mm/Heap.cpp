// The kernel heap: slabs of fixed-size objects for small blocks, whole pages for large ones.
// See mm/Heap.h for the design.

#include <mm/Heap.h>

#include <kernel/base/Arch.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Panic.h>
#include <lib/Verify.h>
#include <mm/Memory.h>

namespace skiff::mm {

namespace {

using arch::InterruptDisabler;

constexpr u32 kSlabMagic = 0x51ab51ab;
constexpr u32 kLargeMagic = 0x1a26e000;
constexpr usize kSlabHeader = 64; // keeps objects 16-byte aligned; room for the header below

struct FreeObject {
    FreeObject* next;
};

struct SlabPage {
    u32 magic;
    u16 class_index;
    u16 free_count;
    u16 capacity;
    FreeObject* free_list;
    SlabPage* next; // in its class's list of slabs with free objects
    SlabPage* prev;
};
static_assert(sizeof(SlabPage) <= kSlabHeader);

struct LargeHeader {
    u32 magic;
    u32 pages;
    u64 requested;
};
constexpr usize kLargeHeader = 16;
static_assert(sizeof(LargeHeader) == kLargeHeader);

// Sizes chosen so that each slab page wastes little: (4096 - 64) / size objects per page. The
// last two hold 4 and 2 objects, which packet-sized allocations (1518 bytes) fill well.
constexpr u32 kClassSizes[kHeapSizeClasses] = { 16, 32, 64, 128, 256, 512, 1008, 2016 };

struct SizeClass {
    SlabPage* partial { nullptr }; // slabs with at least one free object; guarded by interrupts off
    u64 pages { 0 };
    u64 live { 0 };
    u64 empty_pages { 0 }; // fully free slabs still held (at most one is kept)
};

SizeClass s_classes[kHeapSizeClasses];
HeapStats s_stats; // guarded by interrupts off

usize class_for(usize size)
{
    for (usize i = 0; i < kHeapSizeClasses; ++i)
        if (size <= kClassSizes[i])
            return i;
    return kHeapSizeClasses;
}

void unlink(SizeClass& size_class, SlabPage* slab)
{
    if (slab->prev)
        slab->prev->next = slab->next;
    else
        size_class.partial = slab->next;
    if (slab->next)
        slab->next->prev = slab->prev;
    slab->next = slab->prev = nullptr;
}

void push_partial(SizeClass& size_class, SlabPage* slab)
{
    slab->prev = nullptr;
    slab->next = size_class.partial;
    if (size_class.partial)
        size_class.partial->prev = slab;
    size_class.partial = slab;
}

SlabPage* new_slab(usize index)
{
    auto frame = allocate_frame();
    if (frame.is_error())
        return nullptr;
    auto* slab = reinterpret_cast<SlabPage*>(frame_bytes(frame.value()));
    u32 size = kClassSizes[index];
    slab->magic = kSlabMagic;
    slab->class_index = static_cast<u16>(index);
    slab->capacity = static_cast<u16>((kFrameSize - kSlabHeader) / size);
    slab->free_count = slab->capacity;
    slab->free_list = nullptr;
    u8* objects = reinterpret_cast<u8*>(slab) + kSlabHeader;
    for (i32 i = slab->capacity - 1; i >= 0; --i) {
        auto* object = reinterpret_cast<FreeObject*>(objects + static_cast<usize>(i) * size);
        object->next = slab->free_list;
        slab->free_list = object;
    }
    slab->next = slab->prev = nullptr;
    ++s_classes[index].pages;
    ++s_classes[index].empty_pages;
    ++s_stats.slab_pages;
    return slab;
}

void* allocate_small(usize index)
{
    SizeClass& size_class = s_classes[index];
    SlabPage* slab = size_class.partial;
    if (!slab) {
        slab = new_slab(index);
        if (!slab)
            return nullptr;
        push_partial(size_class, slab);
    }
    if (slab->free_count == slab->capacity)
        --size_class.empty_pages;
    FreeObject* object = slab->free_list;
    slab->free_list = object->next;
    if (--slab->free_count == 0)
        unlink(size_class, slab);
    ++size_class.live;
    s_stats.bytes_in_blocks += kClassSizes[index];
    return object;
}

void free_small(SlabPage* slab, void* pointer)
{
    VERIFY(slab->magic == kSlabMagic && slab->class_index < kHeapSizeClasses);
    SizeClass& size_class = s_classes[slab->class_index];
    u32 size = kClassSizes[slab->class_index];
    VERIFY((reinterpret_cast<uptr>(pointer) - reinterpret_cast<uptr>(slab) - kSlabHeader) % size == 0);
    auto* object = static_cast<FreeObject*>(pointer);
    object->next = slab->free_list;
    slab->free_list = object;
    if (slab->free_count++ == 0)
        push_partial(size_class, slab);
    --size_class.live;
    s_stats.bytes_in_blocks -= size;
    if (slab->free_count < slab->capacity)
        return;
    // The slab is empty: keep one per class, give the rest back.
    if (size_class.empty_pages >= 1) {
        unlink(size_class, slab);
        slab->magic = 0;
        --size_class.pages;
        --s_stats.slab_pages;
        unref_frame(reinterpret_cast<uptr>(slab) - kDirectMapBase);
    } else {
        ++size_class.empty_pages;
    }
}

} // namespace

void initialize_heap()
{
    for (auto& size_class : s_classes)
        size_class = SizeClass {};
    s_stats = HeapStats {};
}

void* kmalloc(usize size)
{
    if (size == 0)
        size = 1;
    usize index = class_for(size);
    if (index < kHeapSizeClasses) {
        InterruptDisabler disabler;
        void* pointer = allocate_small(index);
        if (!pointer) {
            ++s_stats.failures;
            return nullptr;
        }
        ++s_stats.allocations;
        ++s_stats.live_blocks;
        return pointer;
    }
    u64 pages = align_up(size + kLargeHeader, kFrameSize) / kFrameSize;
    auto area = allocate_area(pages * kFrameSize);
    InterruptDisabler disabler;
    if (area.is_error()) {
        ++s_stats.failures;
        return nullptr;
    }
    auto* header = reinterpret_cast<LargeHeader*>(area.value());
    *header = { kLargeMagic, static_cast<u32>(pages), size };
    ++s_stats.allocations;
    ++s_stats.live_blocks;
    s_stats.large_pages += pages;
    s_stats.bytes_in_blocks += pages * kFrameSize;
    return reinterpret_cast<u8*>(header) + kLargeHeader;
}

void* kcalloc(usize size)
{
    void* pointer = kmalloc(size);
    if (pointer)
        __builtin_memset(pointer, 0, size);
    return pointer;
}

void kfree(void* pointer)
{
    if (!pointer)
        return;
    uptr address = reinterpret_cast<uptr>(pointer);
    if (address >= kDirectMapBase && address < kKernelVirtualAreaBase) {
        InterruptDisabler disabler;
        auto* slab = reinterpret_cast<SlabPage*>(align_down(address, kFrameSize));
        free_small(slab, pointer);
        ++s_stats.frees;
        --s_stats.live_blocks;
        return;
    }
    auto* header = reinterpret_cast<LargeHeader*>(address - kLargeHeader);
    VERIFY(is_aligned(reinterpret_cast<uptr>(header), kFrameSize) && header->magic == kLargeMagic);
    u64 pages = header->pages;
    {
        InterruptDisabler disabler;
        header->magic = 0;
        s_stats.bytes_in_blocks -= pages * kFrameSize;
        s_stats.large_pages -= pages;
        ++s_stats.frees;
        --s_stats.live_blocks;
    }
    free_area(reinterpret_cast<uptr>(header), pages * kFrameSize);
}

HeapStats heap_stats()
{
    InterruptDisabler disabler;
    HeapStats stats = s_stats;
    for (auto const& size_class : s_classes)
        stats.cached_pages += size_class.empty_pages;
    return stats;
}

SizeClassStats heap_class_stats(usize index)
{
    VERIFY(index < kHeapSizeClasses);
    InterruptDisabler disabler;
    return { kClassSizes[index], s_classes[index].pages, s_classes[index].live };
}

} // namespace skiff::mm

// C++ allocation entry points. The kernel has no exceptions: a plain `new` that cannot be
// satisfied is a kernel bug (PANIC); code that can cope uses `new (nothrow)` and checks.
void* operator new(size_t size)
{
    void* pointer = skiff::mm::kmalloc(size);
    if (!pointer)
        PANIC("operator new: kernel heap exhausted");
    return pointer;
}
void* operator new[](size_t size)
{
    return operator new(size);
}
void* operator new(size_t size, std::nothrow_t const&) noexcept
{
    return skiff::mm::kmalloc(size);
}
void* operator new[](size_t size, std::nothrow_t const&) noexcept
{
    return skiff::mm::kmalloc(size);
}
void operator delete(void* pointer) noexcept
{
    skiff::mm::kfree(pointer);
}
void operator delete[](void* pointer) noexcept
{
    skiff::mm::kfree(pointer);
}
void operator delete(void* pointer, size_t) noexcept
{
    skiff::mm::kfree(pointer);
}
void operator delete[](void* pointer, size_t) noexcept
{
    skiff::mm::kfree(pointer);
}

// The kernel links no C++ runtime library, so the tag object `new (std::nothrow)` names lives here.
namespace std {
nothrow_t const nothrow {};
} // namespace std
