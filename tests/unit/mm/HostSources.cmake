# mm/ logic that runs unchanged on the host: the frame allocator, the virtual range allocator and
# the x86-64 page-table walker (over simulated physical memory).
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/mm/FrameAllocator.cpp
    ${PROJECT_SOURCE_DIR}/mm/VirtualRangeAllocator.cpp
    ${PROJECT_SOURCE_DIR}/mm/arch/x86_64/PageTable.cpp)
