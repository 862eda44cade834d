# Scheduler and timer policy that runs unchanged on the host.
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/kernel/sched/RunQueue.cpp
    ${PROJECT_SOURCE_DIR}/kernel/timer/TimerQueue.cpp)
# The ELF check of user programs (kernel/task/ElfImage.cpp).
list(APPEND SKIFF_HOST_KERNEL_SOURCES ${PROJECT_SOURCE_DIR}/kernel/task/ElfImage.cpp)
