#pragma once

// An HTTP/1.1 request-head parser (RFC 9112 §2-5, RFC 9110 for the fields) fed bytes as they
// arrive, in pieces of any size down to one byte. It keeps no copy of the head: a state machine
// walks it once, keeps the few things a static file server needs (method, target, version, and
// the fields Host, Connection, Content-Length, Transfer-Encoding, Range, If-Range,
// If-Modified-Since) in fixed buffers, and counts the rest against the limits. Memory is
// constant whatever a client sends, and an oversized or malformed head is refused as early as
// its first offending byte:
//
//   400  syntax: a bad request line, a bare CR, a NUL or control byte, whitespace before a field's
//        colon, an obsolete line fold, an invalid or conflicting Content-Length, no Host in
//        HTTP/1.1 or two Hosts, Transfer-Encoding with Content-Length
//   414  a request target longer than Limits::max_target
//   431  a field line longer than Limits::max_field_line, more than Limits::max_fields fields, or
//        a head longer than Limits::max_head
//   505  an HTTP major version other than 1
//
// A bare LF ends a line like CRLF (RFC 9112 §2.2 allows it), and empty lines before the request
// line are skipped. What the head asks for that this server does not do (a method other than
// GET and HEAD, a request body) is not a parse error: the caller decides (405, 413, 501).
//
// Pure: includes only lib/ (tests/style/check_layering.py), so tests/unit/httpd feeds it directly.

#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::http {

struct Limits {
    u32 max_target { 2048 };     // bytes of request-target: 414 beyond
    u32 max_field_line { 4096 }; // bytes of one field line: 431 beyond
    u32 max_fields { 64 };       // field lines: 431 beyond
    u32 max_head { 16384 };      // bytes of the whole head, request line and empty line included: 431 beyond
};

enum class Method : u8 { Get, Head, Other };

struct Request {
    static constexpr usize kMaxTarget = 2048;
    static constexpr usize kMaxMethod = 16;
    static constexpr usize kMaxRange = 128;
    static constexpr usize kMaxDate = 64;

    Method method { Method::Other };
    char method_text[kMaxMethod + 1] {};
    usize method_length { 0 };
    char target[kMaxTarget + 1] {};
    usize target_length { 0 };
    u8 version_minor { 1 };   // HTTP/1.x (a minor above 1 is taken as 1, RFC 9110 §2.5)
    bool keep_alive { true }; // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
    u32 host_count { 0 };
    bool has_content_length { false };
    u64 content_length { 0 };
    bool content_length_overflow { false }; // digits only, but more than 64 bits: too large, not malformed
    bool has_transfer_encoding { false };
    // Range, If-Range and If-Modified-Since as sent; a value too long for its buffer is dropped
    // and *_too_long set (a server may ignore Range and a validator it cannot read).
    char range[kMaxRange + 1] {};
    usize range_length { 0 };
    bool has_range { false };
    bool range_too_long { false };
    char if_range[kMaxDate + 1] {};
    usize if_range_length { 0 };
    bool has_if_range { false };
    char if_modified_since[kMaxDate + 1] {};
    usize if_modified_since_length { 0 };
    bool has_if_modified_since { false };
    u32 field_count { 0 };

    StringView method_view() const { return { method_text, method_length }; }
    StringView target_view() const { return { target, target_length }; }
    StringView range_view() const { return { range, range_length }; }
    StringView if_range_view() const { return { if_range, if_range_length }; }
    StringView if_modified_since_view() const { return { if_modified_since, if_modified_since_length }; }
};

enum class ParseStatus : u8 { NeedMore, Complete, Error };

class RequestParser {
public:
    explicit RequestParser(Limits limits = {})
        : m_limits(limits)
    {
    }

    // Ready for the next request on the same connection.
    void reset();

    // Consumes bytes of the head, up to and including the line that ends it. Returns how many
    // were consumed: all of them while NeedMore; on Complete the rest (a body, the next pipelined
    // request) is the caller's; on Error it stops at the offending byte. Feeding after Complete or
    // Error consumes nothing.
    usize feed(ReadonlyBytes bytes);

    ParseStatus status() const { return m_status; }
    // When status() is Error: 400, 414, 431 or 505, and a short phrase saying why.
    u16 error_status() const { return m_error_status; }
    char const* error_reason() const { return m_error_reason; }
    Request const& request() const { return m_request; }
    // True once a byte of this request (not a skipped empty line) has arrived: a connection that
    // times out now gets a 408, an idle one is just closed.
    bool started() const { return m_started; }
    u32 head_bytes() const { return m_head_bytes; }

private:
    enum class State : u8 {
        LeadingLines,
        Method,
        Target,
        Version,
        RequestLineEnd, // after CR: LF must follow
        FieldStart,
        FieldName,
        FieldValueLeading,
        FieldValue,
        FieldLineEnd, // after CR in a field line
        HeadEnd,      // after CR of the empty line
    };
    enum class Field : u8 {
        Ignored,
        Host,
        Connection,
        ContentLength,
        TransferEncoding,
        Range,
        IfRange,
        IfModifiedSince
    };
    static constexpr usize kMaxName = 32;   // longer names are never ones we keep
    static constexpr usize kMaxVersion = 8; // "HTTP/1.1"
    static constexpr usize kValueBuffer = 256;

    bool step(u8 byte); // false: stop (complete or error)
    bool fail(u16 status, char const* reason);
    bool finish_version();
    bool finish_field();
    bool finish_head();
    void choose_field();

    Limits m_limits;
    Request m_request;
    State m_state { State::LeadingLines };
    ParseStatus m_status { ParseStatus::NeedMore };
    u16 m_error_status { 0 };
    char const* m_error_reason { nullptr };
    bool m_started { false };
    u32 m_head_bytes { 0 };
    u32 m_line_bytes { 0 };
    u32 m_empty_lines { 0 };
    bool m_leading_cr { false };
    bool m_closing { false };          // "Connection: close"
    bool m_keep_alive_asked { false }; // "Connection: keep-alive"
    char m_version[kMaxVersion + 1] {};
    usize m_version_length { 0 };
    char m_name[kMaxName + 1] {};
    usize m_name_length { 0 };
    bool m_name_too_long { false };
    Field m_field { Field::Ignored };
    char m_value[kValueBuffer + 1] {};
    usize m_value_length { 0 };
    bool m_value_too_long { false };
};

} // namespace skiff::http
