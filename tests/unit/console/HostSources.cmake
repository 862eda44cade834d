# Kernel console logic that runs unchanged on the host.
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/kernel/console/LineEditor.cpp
    ${PROJECT_SOURCE_DIR}/kernel/console/Command.cpp)
