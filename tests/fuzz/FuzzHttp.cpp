// Fuzz target `http`: the web server's request parser and what the server does with a parsed
// request (apps/httpd/protocol/, fs/Path.h), on arbitrary bytes. The input is split into pieces at
// points chosen by its first byte, fed piece by piece, and the outcome must be the same as feeding
// it whole (the parser is fed as TCP delivers: any split). A complete request then goes through
// target decoding, path normalisation, the range and date readers and the response plan and head,
// as the server would; the head must fit and end in an empty line.

#include <apps/httpd/protocol/HttpDate.h>
#include <apps/httpd/protocol/Range.h>
#include <apps/httpd/protocol/RequestParser.h>
#include <apps/httpd/protocol/Response.h>
#include <apps/httpd/protocol/Target.h>
#include <fs/Path.h>

#include <cstdlib>

using namespace skiff;
using namespace skiff::http;

namespace {

void require(bool condition)
{
    if (!condition)
        std::abort(); // a difference the fuzzer must report as a crash
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size)
{
    if (size == 0)
        return 0;
    u8 piece = static_cast<u8>(data[0] % 17 + 1); // 1..17 bytes per piece
    ReadonlyBytes input(data + 1, size - 1);

    RequestParser whole;
    usize whole_used = whole.feed(input);
    require(whole_used <= input.size());

    RequestParser pieces;
    usize used = 0;
    while (used < input.size() && pieces.status() == ParseStatus::NeedMore) {
        usize count = min<usize>(piece, input.size() - used);
        usize taken = pieces.feed(input.slice(used, count));
        used += taken;
        if (taken < count)
            break;
    }
    require(pieces.status() == whole.status());
    require(used == whole_used);
    require(pieces.error_status() == whole.error_status());
    require(pieces.head_bytes() <= Limits {}.max_head);
    if (whole.status() == ParseStatus::Error)
        require(whole.error_status() == 400 || whole.error_status() == 414 || whole.error_status() == 431
            || whole.error_status() == 505);
    if (whole.status() != ParseStatus::Complete)
        return 0;

    Request const& request = whole.request();
    require(request.target_length <= Request::kMaxTarget);
    char decoded[Request::kMaxTarget + 1];
    StringView path;
    if (decode_target(request.target_view(), decoded, sizeof(decoded), path)) {
        char normalized[Request::kMaxTarget + 16];
        StringView clean;
        if (fs::normalize_path(path, normalized, sizeof(normalized), clean, fs::DotDot::Resolve))
            require(clean.length() < sizeof(normalized) && (clean.is_empty() || clean[0] != '/'));
    }
    // A file whose size the input chooses, for the range and the plan.
    u64 file_size = static_cast<u64>(data[0]) * 4099 + input.size();
    RangeResult range = evaluate_range(request.range_view(), file_size);
    if (range.kind == RangeKind::Satisfiable)
        require(range.first <= range.last && range.last < file_size);
    i64 since = 0;
    if (parse_http_date(request.if_modified_since_view(), since)) {
        char date[kHttpDateLength + 1];
        usize length = format_http_date(since, date, sizeof(date));
        i64 again = 0;
        require(length == kHttpDateLength && parse_http_date({ date, length }, again) && again == since);
    }
    FilePlan plan = plan_file_response(request, { file_size, 784111777, "text/plain" }, !request.keep_alive);
    if (plan.send_body && !plan.body_is_message)
        require(plan.body_offset <= file_size && plan.body_length <= file_size - plan.body_offset);
    char head[2048];
    usize length = format_response_head(plan.head, head, sizeof(head));
    require(length >= 4 && head[length - 4] == '\r' && head[length - 3] == '\n' && head[length - 2] == '\r'
        && head[length - 1] == '\n');
    return 0;
}
