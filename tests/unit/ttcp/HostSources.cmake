# The ttcp core is freestanding and runs unchanged on the host against a fake transport.
list(APPEND SKIFF_HOST_KERNEL_SOURCES ${PROJECT_SOURCE_DIR}/apps/ttcp/TtcpCore.cpp)
