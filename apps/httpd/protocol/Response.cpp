#include <apps/httpd/protocol/HttpDate.h>
#include <apps/httpd/protocol/Range.h>
#include <apps/httpd/protocol/Response.h>
#include <lib/Format.h>

namespace skiff::http {

char const* reason_phrase(u16 status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

usize format_response_head(ResponseHead const& head, char* out, usize capacity)
{
    BufferSink sink(out, capacity);
    format(sink, "HTTP/1.1 {} {}\r\nServer: Skiff\r\n", head.status, reason_phrase(head.status));
    if (!head.content_type.is_empty())
        format(sink, "Content-Type: {}\r\n", head.content_type);
    if (head.has_content_length)
        format(sink, "Content-Length: {}\r\n", head.content_length);
    if (head.content_range) {
        if (head.status == 416)
            format(sink, "Content-Range: bytes */{}\r\n", head.complete_length);
        else
            format(sink, "Content-Range: bytes {}-{}/{}\r\n", head.range_first, head.range_last, head.complete_length);
    }
    if (head.accept_ranges)
        format(sink, "Accept-Ranges: bytes\r\n");
    if (head.has_last_modified) {
        char date[kHttpDateLength + 1];
        format_http_date(head.last_modified, date, sizeof(date));
        format(sink, "Last-Modified: {}\r\n", date);
    }
    if (head.allow_get_head)
        format(sink, "Allow: GET, HEAD\r\n");
    if (head.no_store)
        format(sink, "Cache-Control: no-store\r\n");
    if (!head.location.is_empty())
        format(sink, "Location: {}\r\n", head.location);
    if (head.close)
        format(sink, "Connection: close\r\n");
    else if (head.keep_alive_field)
        format(sink, "Connection: keep-alive\r\n");
    format(sink, "\r\n");
    return sink.truncated() ? 0 : sink.length();
}

FilePlan plan_file_response(Request const& request, FileInfo const& file, bool close)
{
    FilePlan plan;
    ResponseHead& head = plan.head;
    head.content_type = file.content_type;
    head.has_last_modified = true;
    head.last_modified = file.mtime;
    head.accept_ranges = true;
    head.close = close;
    head.keep_alive_field = !close && request.version_minor == 0;
    bool get = request.method == Method::Get;

    // RFC 9110 §13.1.3: If-Modified-Since, for GET and HEAD; a date we cannot read is ignored.
    i64 since = 0;
    if (request.has_if_modified_since && parse_http_date(request.if_modified_since_view(), since)
        && file.mtime <= since) {
        head.status = 304;
        head.has_content_length = false;
        head.content_type = {};
        head.accept_ranges = false;
        return plan;
    }

    // RFC 9110 §14.2: Range only for GET; §13.1.5: If-Range with a date matches only that exact
    // Last-Modified, and otherwise the whole file is sent (an entity tag never matches: none is
    // sent).
    bool use_range = get && request.has_range && !request.range_too_long;
    if (use_range && request.has_if_range) {
        char date[kHttpDateLength + 1];
        usize length = format_http_date(file.mtime, date, sizeof(date));
        use_range = request.if_range_view() == StringView(date, length);
    }
    RangeResult range = use_range ? evaluate_range(request.range_view(), file.size) : RangeResult {};
    switch (range.kind) {
    case RangeKind::Satisfiable:
        head.status = 206;
        head.content_range = true;
        head.range_first = range.first;
        head.range_last = range.last;
        head.complete_length = file.size;
        head.content_length = range.length();
        plan.send_body = true;
        plan.body_offset = range.first;
        plan.body_length = range.length();
        return plan;
    case RangeKind::Unsatisfiable:
        head.status = 416;
        head.content_range = true;
        head.complete_length = file.size;
        head.content_type = "text/plain; charset=utf-8";
        plan.send_body = true;
        plan.body_is_message = true;
        return plan; // the caller sets content_length to its message's
    case RangeKind::Whole: break;
    }
    head.status = 200;
    head.content_length = file.size;
    plan.send_body = get;
    plan.body_offset = 0;
    plan.body_length = get ? file.size : 0;
    return plan;
}

} // namespace skiff::http
