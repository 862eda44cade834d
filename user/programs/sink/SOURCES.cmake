# The service loop, shared by echo, discard and sink.
set(SKIFF_PROGRAM_EXTRA_SOURCES ${PROJECT_SOURCE_DIR}/user/services/Service.cpp)
