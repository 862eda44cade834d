# The file system's archive reader and index are freestanding (lib/ only) and run unchanged on the host.
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/fs/TarReader.cpp
    ${PROJECT_SOURCE_DIR}/fs/Path.cpp
    ${PROJECT_SOURCE_DIR}/fs/FileSystem.cpp)
