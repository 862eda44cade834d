#pragma once

// The kernel heap: kmalloc/kfree and operator new/delete.
//
// Small blocks (up to 2016 bytes) come from slabs: one 4 KiB frame per slab, reached through the
// direct map, holding objects of one size class. Freed objects go back to their own slab, so
// blocks of different sizes never interleave and a long-running kernel does not fragment: a slab
// that empties is returned to the frame allocator (one empty slab per class is kept to avoid
// thrashing). Larger blocks get whole pages in the kernel virtual area, mapped on demand.
// Every block is 16-byte aligned.

#include <lib/Types.h>

namespace skiff::mm {

struct HeapStats {
    u64 bytes_in_blocks { 0 }; // what live blocks occupy (their class size, or whole pages)
    u64 slab_pages { 0 };      // frames holding slabs
    u64 large_pages { 0 };     // pages of large blocks
    u64 cached_pages { 0 };    // of the slab pages, empty ones kept for the next allocation (one per
                               // size class at most): memory no block holds, not given back
    u64 live_blocks { 0 };
    u64 allocations { 0 };
    u64 frees { 0 };
    u64 failures { 0 };
};

void initialize_heap();
void* kmalloc(usize size); // nullptr when out of memory
void* kcalloc(usize size); // zeroed
void kfree(void* pointer);
HeapStats heap_stats();

struct SizeClassStats {
    u32 object_size;
    u64 pages;
    u64 live_objects;
};
constexpr usize kHeapSizeClasses = 8;
SizeClassStats heap_class_stats(usize index);

} // namespace skiff::mm
