# Host-only helpers for the network stack's unit tests: the host port, the simulated wire.
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/HostPort.cpp
    ${CMAKE_CURRENT_LIST_DIR}/SimWire.cpp)
