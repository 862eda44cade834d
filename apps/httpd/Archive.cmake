# The file archives the kernel mounts at boot (kernel/fs/BootArchive.h), made by
# tools/build/make_archive.py from apps/httpd/www/ plus seeded test files, with every file's data
# on a 4 KiB boundary. Included from kernel/CMakeLists.txt (the ISO needs www.tar).
#
#   build/x86_64/www.tar        the site and test/1M.bin: what qemu/run and the ISO load by default
#                               (1.1 MiB: 16 MiB guests still boot with it)
#   build/x86_64/www-large.tar  the same plus test/16M.bin, for the web-server tests and benchmarks
#                               (17 MiB: needs --mem 48M or more; docs/httpd.md)
file(GLOB_RECURSE SKIFF_WWW_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/apps/httpd/www/*)
set(SKIFF_ARCHIVE_TOOL ${PROJECT_SOURCE_DIR}/tools/build/make_archive.py)
set(SKIFF_ARCHIVE ${CMAKE_BINARY_DIR}/www.tar)
set(SKIFF_ARCHIVE_LARGE ${CMAKE_BINARY_DIR}/www-large.tar)
add_custom_command(OUTPUT ${SKIFF_ARCHIVE}
    COMMAND ${Python3_EXECUTABLE} ${SKIFF_ARCHIVE_TOOL} --output ${SKIFF_ARCHIVE}
            --site ${PROJECT_SOURCE_DIR}/apps/httpd/www --pattern test/1M.bin:1048576:1
    DEPENDS ${SKIFF_WWW_FILES} ${SKIFF_ARCHIVE_TOOL}
    COMMENT "Making the file archive www.tar")
add_custom_command(OUTPUT ${SKIFF_ARCHIVE_LARGE}
    COMMAND ${Python3_EXECUTABLE} ${SKIFF_ARCHIVE_TOOL} --output ${SKIFF_ARCHIVE_LARGE}
            --site ${PROJECT_SOURCE_DIR}/apps/httpd/www --pattern test/1M.bin:1048576:1
            --pattern test/16M.bin:16777216:16
    DEPENDS ${SKIFF_WWW_FILES} ${SKIFF_ARCHIVE_TOOL}
    COMMENT "Making the file archive www-large.tar")
add_custom_target(skiff_archives ALL DEPENDS ${SKIFF_ARCHIVE} ${SKIFF_ARCHIVE_LARGE})
