# mm/ logic that runs unchanged on the host: the frame allocator, the virtual range allocator and
# both architectures' page-table walkers (over simulated physical memory).
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/mm/FrameAllocator.cpp
    ${PROJECT_SOURCE_DIR}/mm/VirtualRangeAllocator.cpp
    ${PROJECT_SOURCE_DIR}/mm/arch/x86_64/PageTable.cpp
    ${PROJECT_SOURCE_DIR}/mm/arch/aarch64/PageTable.cpp)
