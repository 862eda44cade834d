#include <apps/httpd/protocol/RequestParser.h>

namespace skiff::http {

namespace {

// Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at least one).
constexpr u32 kMaxLeadingEmptyLines = 8;

// RFC 9110 §5.6.2: tchar.
bool is_tchar(u8 c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
    }
}

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(StringView a, StringView b)
{
    if (a.length() != b.length())
        return false;
    for (usize i = 0; i < a.length(); ++i) {
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

// Calls visit(token) for each element of a comma-separated list (RFC 9110 §5.6.1), trimmed,
// empty elements skipped.
template<typename Visit>
void for_each_list_element(StringView list, Visit visit)
{
    usize start = 0;
    for (usize i = 0; i <= list.length(); ++i) {
        if (i < list.length() && list[i] != ',')
            continue;
        StringView element = list.substring(start, i - start).trimmed();
        if (!element.is_empty())
            visit(element);
        start = i + 1;
    }
}

} // namespace

void RequestParser::reset()
{
    m_request = Request {};
    m_state = State::LeadingLines;
    m_status = ParseStatus::NeedMore;
    m_error_status = 0;
    m_error_reason = nullptr;
    m_started = false;
    m_head_bytes = 0;
    m_line_bytes = 0;
    m_empty_lines = 0;
    m_leading_cr = false;
    m_closing = false;
    m_keep_alive_asked = false;
    m_version_length = 0;
    m_name_length = 0;
    m_name_too_long = false;
    m_field = Field::Ignored;
    m_value_length = 0;
    m_value_too_long = false;
}

usize RequestParser::feed(ReadonlyBytes bytes)
{
    if (m_status != ParseStatus::NeedMore)
        return 0;
    for (usize i = 0; i < bytes.size(); ++i) {
        if (!step(bytes[i]))
            return m_status == ParseStatus::Complete ? i + 1 : i;
    }
    return bytes.size();
}

bool RequestParser::fail(u16 status, char const* reason)
{
    m_status = ParseStatus::Error;
    m_error_status = status;
    m_error_reason = reason;
    return false;
}

bool RequestParser::step(u8 byte)
{
    if (++m_head_bytes > m_limits.max_head)
        return fail(431, "request head too large");
    bool in_field_line = m_state >= State::FieldStart && m_state <= State::FieldLineEnd;
    if (in_field_line && ++m_line_bytes > m_limits.max_field_line)
        return fail(431, "header field line too long");

    switch (m_state) {
    case State::LeadingLines:
        if (byte == '\n') {
            m_leading_cr = false;
            if (++m_empty_lines > kMaxLeadingEmptyLines)
                return fail(400, "too many empty lines before the request line");
            return true;
        }
        if (m_leading_cr)
            return fail(400, "bare CR before the request line");
        if (byte == '\r') {
            m_leading_cr = true; // the CR of an empty line: LF must follow
            return true;
        }
        if (!is_tchar(byte))
            return fail(400, "the request line does not start with a method");
        m_started = true;
        m_state = State::Method;
        [[fallthrough]];
    case State::Method:
        if (byte == ' ') {
            StringView method = m_request.method_view();
            m_request.method = method == "GET" ? Method::Get : method == "HEAD" ? Method::Head : Method::Other;
            m_state = State::Target;
            return true;
        }
        if (!is_tchar(byte))
            return fail(400, "a bad character in the method");
        if (m_request.method_length == Request::kMaxMethod)
            return fail(400, "method longer than 16 characters");
        m_request.method_text[m_request.method_length++] = static_cast<char>(byte);
        return true;

    case State::Target:
        if (byte == ' ') {
            if (m_request.target_length == 0)
                return fail(400, "empty request target");
            m_state = State::Version;
            return true;
        }
        if (byte == '\r' || byte == '\n')
            return fail(400, "request line without an HTTP version");
        if (byte < 0x21 || byte > 0x7e)
            return fail(400, "a bad character in the request target");
        if (m_request.target_length == min<usize>(m_limits.max_target, Request::kMaxTarget))
            return fail(414, "request target too long");
        m_request.target[m_request.target_length++] = static_cast<char>(byte);
        return true;

    case State::Version:
        if (byte == '\r' || byte == '\n') {
            if (!finish_version())
                return false;
            m_state = byte == '\r' ? State::RequestLineEnd : State::FieldStart;
            return true;
        }
        if (m_version_length == kMaxVersion || byte <= ' ' || byte > 0x7e)
            return fail(400, "malformed HTTP version");
        m_version[m_version_length++] = static_cast<char>(byte);
        return true;

    case State::RequestLineEnd:
        if (byte != '\n')
            return fail(400, "bare CR in the request line");
        m_state = State::FieldStart;
        return true;

    case State::FieldStart:
        m_line_bytes = 1;
        if (byte == '\r') {
            m_state = State::HeadEnd;
            return true;
        }
        if (byte == '\n')
            return finish_head();
        if (byte == ' ' || byte == '\t')
            return fail(400, "obsolete line folding"); // RFC 9112 §5.2: reject with 400
        if (!is_tchar(byte))
            return fail(400, "a bad character in a field name");
        if (++m_request.field_count > m_limits.max_fields)
            return fail(431, "too many header fields");
        m_name_length = 0;
        m_name_too_long = false;
        m_value_length = 0;
        m_value_too_long = false;
        m_state = State::FieldName;
        [[fallthrough]];
    case State::FieldName:
        if (byte == ':') {
            if (m_name_length == 0 && !m_name_too_long)
                return fail(400, "empty field name");
            choose_field();
            m_state = State::FieldValueLeading;
            return true;
        }
        if (byte == ' ' || byte == '\t')
            return fail(400, "whitespace between a field name and its colon"); // RFC 9112 §5.1
        if (byte == '\r' || byte == '\n')
            return fail(400, "a field line without a colon");
        if (!is_tchar(byte))
            return fail(400, "a bad character in a field name");
        if (m_name_length == kMaxName)
            m_name_too_long = true;
        else
            m_name[m_name_length++] = static_cast<char>(byte);
        return true;

    case State::FieldValueLeading:
        if (byte == ' ' || byte == '\t')
            return true;
        m_state = State::FieldValue;
        [[fallthrough]];
    case State::FieldValue:
        if (byte == '\r') {
            m_state = State::FieldLineEnd;
            return true;
        }
        if (byte == '\n') {
            m_state = State::FieldStart;
            return finish_field();
        }
        if (byte == 0)
            return fail(400, "a NUL byte in a field value"); // RFC 9110 §5.5: invalid and dangerous
        if ((byte < 0x20 && byte != '\t') || byte == 0x7f)
            return fail(400, "a control character in a field value");
        if (m_field == Field::Ignored)
            return true;
        if (m_value_length == kValueBuffer)
            m_value_too_long = true;
        else
            m_value[m_value_length++] = static_cast<char>(byte);
        return true;

    case State::FieldLineEnd:
        if (byte != '\n')
            return fail(400, "bare CR in a field line");
        m_state = State::FieldStart;
        return finish_field();

    case State::HeadEnd:
        if (byte != '\n')
            return fail(400, "bare CR at the end of the head");
        return finish_head();
    }
    return fail(400, "parser state lost");
}

bool RequestParser::finish_version()
{
    // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3); case-sensitive.
    StringView version(m_version, m_version_length);
    bool shaped = version.length() == 8 && version.starts_with("HTTP/") && version[5] >= '0' && version[5] <= '9'
        && version[6] == '.' && version[7] >= '0' && version[7] <= '9';
    if (!shaped)
        return fail(400, "malformed HTTP version");
    if (version[5] != '1')
        return fail(505, "HTTP version not supported");
    m_request.version_minor = static_cast<u8>(min(version[7] - '0', 1));
    return true;
}

void RequestParser::choose_field()
{
    m_field = Field::Ignored;
    if (m_name_too_long)
        return;
    struct Known {
        char const* name;
        Field field;
    };
    static constexpr Known kKnown[] = {
        { "host", Field::Host },
        { "connection", Field::Connection },
        { "content-length", Field::ContentLength },
        { "transfer-encoding", Field::TransferEncoding },
        { "range", Field::Range },
        { "if-range", Field::IfRange },
        { "if-modified-since", Field::IfModifiedSince },
    };
    StringView name(m_name, m_name_length);
    for (auto const& known : kKnown) {
        if (equals_ignoring_case(name, known.name)) {
            m_field = known.field;
            return;
        }
    }
}

bool RequestParser::finish_field()
{
    // Trailing whitespace is not part of the value (RFC 9112 §5: OWS on both sides).
    while (m_value_length && (m_value[m_value_length - 1] == ' ' || m_value[m_value_length - 1] == '\t'))
        --m_value_length;
    StringView value(m_value, m_value_length);
    Request& r = m_request;
    switch (m_field) {
    case Field::Ignored: break;
    case Field::Host: ++r.host_count; break;
    case Field::Connection:
        for_each_list_element(value, [&](StringView token) {
            if (equals_ignoring_case(token, "close"))
                m_closing = true;
            else if (equals_ignoring_case(token, "keep-alive"))
                m_keep_alive_asked = true;
        });
        break;
    case Field::ContentLength: {
        // RFC 9110 §8.6: digits; a list of identical values is one value; anything else is 400.
        if (m_value_too_long)
            return fail(400, "Content-Length too long to be a number");
        bool bad = false;
        bool any = false;
        for_each_list_element(value, [&](StringView element) {
            u64 number = 0;
            bool overflow = false;
            for (char c : element) {
                if (c < '0' || c > '9') {
                    bad = true;
                    return;
                }
                u64 digit = static_cast<u64>(c - '0');
                if (number > (~0ull - digit) / 10)
                    overflow = true;
                else
                    number = number * 10 + digit;
            }
            if (r.has_content_length && (overflow != r.content_length_overflow || number != r.content_length))
                bad = true;
            r.has_content_length = true;
            r.content_length = number;
            r.content_length_overflow = overflow;
            any = true;
        });
        if (bad || !any)
            return fail(400, "invalid or conflicting Content-Length");
        break;
    }
    case Field::TransferEncoding: r.has_transfer_encoding = true; break;
    case Field::Range:
        // A second Range field, or one too long to keep, is ignored as a whole (RFC 9110 §14.2
        // lets a server ignore Range).
        if (r.has_range || m_value_too_long || value.length() > Request::kMaxRange) {
            r.range_too_long = true;
            r.range_length = 0;
        } else {
            for (usize i = 0; i < value.length(); ++i)
                r.range[i] = value[i];
            r.range_length = value.length();
        }
        r.has_range = true;
        break;
    case Field::IfRange:
    case Field::IfModifiedSince: {
        bool is_range = m_field == Field::IfRange;
        char* into = is_range ? r.if_range : r.if_modified_since;
        usize& length = is_range ? r.if_range_length : r.if_modified_since_length;
        (is_range ? r.has_if_range : r.has_if_modified_since) = true;
        if (m_value_too_long || value.length() > Request::kMaxDate) {
            length = 0; // unreadable: an If-Range that cannot match, an If-Modified-Since ignored
            break;
        }
        for (usize i = 0; i < value.length(); ++i)
            into[i] = value[i];
        length = value.length();
        break;
    }
    }
    m_field = Field::Ignored;
    return true;
}

bool RequestParser::finish_head()
{
    Request& r = m_request;
    // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without a Host field, or
    // with more than one.
    if (r.host_count > 1)
        return fail(400, "more than one Host field");
    if (r.host_count == 0 && r.version_minor >= 1)
        return fail(400, "HTTP/1.1 request without a Host field");
    // RFC 9112 §6.3: both framings at once is how requests are smuggled.
    if (r.has_transfer_encoding && r.has_content_length)
        return fail(400, "both Transfer-Encoding and Content-Length");
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only when it asked for keep-alive.
    r.keep_alive = !m_closing && (r.version_minor >= 1 || m_keep_alive_asked);
    m_status = ParseStatus::Complete;
    return false;
}

} // namespace skiff::http
