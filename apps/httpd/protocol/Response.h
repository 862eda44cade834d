#pragma once

// What to answer a parsed GET or HEAD for a file (RFC 9110 §13.2.2 evaluates the preconditions
// in this order): If-Modified-Since (304), then If-Range and Range (206, 416, or the whole file
// with 200); and the response head itself, status line and fields, formatted into a buffer.
// Pure, like the parser: the server passes what it found in the file system.

#include <apps/httpd/protocol/RequestParser.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::http {

char const* reason_phrase(u16 status);

struct ResponseHead {
    u16 status { 200 };
    StringView content_type; // none when empty
    bool has_content_length { true };
    u64 content_length { 0 };     // of the body a GET would carry (HEAD sends the same value, no body)
    bool content_range { false }; // 206: "bytes first-last/complete"; 416: "bytes */complete"
    u64 range_first { 0 };
    u64 range_last { 0 };
    u64 complete_length { 0 };
    bool has_last_modified { false };
    i64 last_modified { 0 };
    bool accept_ranges { false };    // "Accept-Ranges: bytes" (file responses)
    bool close { false };            // "Connection: close", and the server closes after the body
    bool keep_alive_field { false }; // "Connection: keep-alive" (an HTTP/1.0 client that asked)
    bool allow_get_head { false };   // 405: "Allow: GET, HEAD"
    bool no_store { false };         // generated pages: "Cache-Control: no-store"
    StringView location;             // 301
};

// The head, ending with the empty line. Returns its length, or 0 if it does not fit.
usize format_response_head(ResponseHead const& head, char* out, usize capacity);

struct FileInfo {
    u64 size { 0 };
    i64 mtime { 0 };
    StringView content_type;
};

struct FilePlan {
    ResponseHead head;
    bool send_body { false }; // false for HEAD, 304
    u64 body_offset { 0 };    // for 200 and 206: the bytes of the file to send
    u64 body_length { 0 };
    bool body_is_message { false }; // 416: a short text instead of file bytes
};

// The answer to `request` (GET or HEAD) for an existing file. `close` is whether the connection
// ends after this response (the caller knows more than the request: the server may be shedding).
FilePlan plan_file_response(Request const& request, FileInfo const& file, bool close);

} // namespace skiff::http
