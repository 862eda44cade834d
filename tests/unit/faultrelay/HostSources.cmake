# The relay's fault decisions are pure logic: the unit tests link them directly.
list(APPEND SKIFF_HOST_KERNEL_SOURCES ${PROJECT_SOURCE_DIR}/tools/faultrelay/FaultEngine.cpp)
