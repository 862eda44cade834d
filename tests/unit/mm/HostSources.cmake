# mm/ logic that runs unchanged on the host: the frame allocator, the virtual range allocator, both
# architectures' page-table walkers, the registered zero-copy pages and a task's address space (over
# simulated physical memory).
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/mm/FrameAllocator.cpp
    ${PROJECT_SOURCE_DIR}/mm/VirtualRangeAllocator.cpp
    ${PROJECT_SOURCE_DIR}/mm/ZeroCopyPages.cpp
    ${PROJECT_SOURCE_DIR}/mm/UserSpace.cpp
    ${PROJECT_SOURCE_DIR}/mm/arch/x86_64/PageTable.cpp
    ${PROJECT_SOURCE_DIR}/mm/arch/aarch64/PageTable.cpp)
