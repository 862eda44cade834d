# The ttcp core, shared with the host tool (tools/ttcp/) and the unit tests.
set(SKIFF_PROGRAM_EXTRA_SOURCES ${PROJECT_SOURCE_DIR}/apps/ttcp/TtcpCore.cpp)
