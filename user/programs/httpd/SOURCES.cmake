# The HTTP protocol unit (request parser, ranges, dates, content types, targets, response heads),
# shared with the host unit tests, and the path normaliser the file system uses.
set(SKIFF_PROGRAM_EXTRA_SOURCES
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/RequestParser.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/Range.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/HttpDate.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/ContentType.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/Target.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/Response.cpp
    ${PROJECT_SOURCE_DIR}/fs/Path.cpp)
