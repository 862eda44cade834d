# The web server's protocol unit (apps/httpd/protocol/: request parser, ranges, dates, content
# types, targets, response heads) includes only lib/ and runs unchanged on the host.
list(APPEND SKIFF_HOST_KERNEL_SOURCES
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/RequestParser.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/Range.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/HttpDate.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/ContentType.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/Target.cpp
    ${PROJECT_SOURCE_DIR}/apps/httpd/protocol/Response.cpp)
