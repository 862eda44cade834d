// Range arithmetic, HTTP dates, content types, request targets and the response plan.

#include <apps/httpd/protocol/ContentType.h>
#include <apps/httpd/protocol/HttpDate.h>
#include <apps/httpd/protocol/Range.h>
#include <apps/httpd/protocol/Response.h>
#include <apps/httpd/protocol/Target.h>

#include <gtest/gtest.h>
#include <string>

using namespace skiff;
using namespace skiff::http;

namespace {

std::string show(RangeResult r)
{
    switch (r.kind) {
    case RangeKind::Whole: return "whole";
    case RangeKind::Unsatisfiable: return "416";
    case RangeKind::Satisfiable: return std::to_string(r.first) + "-" + std::to_string(r.last);
    }
    return "?";
}

std::string range(char const* value, u64 size)
{
    return show(evaluate_range(value, size));
}

Request parse(std::string const& text)
{
    RequestParser parser;
    parser.feed({ reinterpret_cast<u8 const*>(text.data()), text.size() });
    EXPECT_EQ(parser.status(), ParseStatus::Complete) << text;
    return parser.request();
}

std::string head_text(ResponseHead const& head)
{
    char buffer[1024];
    usize length = format_response_head(head, buffer, sizeof(buffer));
    return std::string(buffer, length);
}

constexpr i64 kRfcExample = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT

} // namespace

// --- ranges ---------------------------------------------------------------------------------

TEST(Range, FirstLastAndMiddleBytes)
{
    EXPECT_EQ(range("bytes=0-0", 1000), "0-0");
    EXPECT_EQ(range("bytes=999-999", 1000), "999-999");
    EXPECT_EQ(range("bytes=-1", 1000), "999-999");
    EXPECT_EQ(range("bytes=400-599", 1000), "400-599");
    EXPECT_EQ(range("bytes=0-999", 1000), "0-999");
}

TEST(Range, OpenEndsAndSuffixes)
{
    EXPECT_EQ(range("bytes=100-", 1000), "100-999");
    EXPECT_EQ(range("bytes=-100", 1000), "900-999");
    EXPECT_EQ(range("bytes=-5000", 1000), "0-999");  // a suffix longer than the file: all of it
    EXPECT_EQ(range("bytes=0-5000", 1000), "0-999"); // last clamped to the end
    EXPECT_EQ(range("bytes=0-99999999999999999999999", 1000), "0-999");
}

TEST(Range, PastTheEndIsUnsatisfiable)
{
    EXPECT_EQ(range("bytes=1000-", 1000), "416");
    EXPECT_EQ(range("bytes=1000-2000", 1000), "416");
    EXPECT_EQ(range("bytes=99999999999999999999999-", 1000), "416");
    EXPECT_EQ(range("bytes=-0", 1000), "416");
    EXPECT_EQ(range("bytes=0-", 0), "416"); // an empty file has no byte 0
    EXPECT_EQ(range("bytes=-1", 0), "416");
}

TEST(Range, WhatThisServerDoesNotDoIsTheWholeFile)
{
    EXPECT_EQ(range("bytes=0-1,5-6", 1000), "whole"); // several ranges
    EXPECT_EQ(range("items=0-1", 1000), "whole");     // another unit
    EXPECT_EQ(range("bytes=5-1", 1000), "whole");     // last before first: invalid, ignored
    EXPECT_EQ(range("bytes=a-b", 1000), "whole");
    EXPECT_EQ(range("bytes=", 1000), "whole");
    EXPECT_EQ(range("bytes=-", 1000), "whole");
    EXPECT_EQ(range("bytes 0-1", 1000), "whole");
    EXPECT_EQ(range("bytes=--5", 1000), "whole");
    EXPECT_EQ(range("", 1000), "whole");
}

TEST(Range, UnitIsCaseInsensitiveAndSpacesAreTolerated)
{
    EXPECT_EQ(range("Bytes=0-9", 1000), "0-9");
    EXPECT_EQ(range(" bytes = 10 - 19 ", 1000), "10-19");
}

// --- dates ----------------------------------------------------------------------------------

TEST(HttpDate, FormatsTheImfFixdate)
{
    char buffer[kHttpDateLength + 1];
    EXPECT_EQ(format_http_date(kRfcExample, buffer, sizeof(buffer)), kHttpDateLength);
    EXPECT_STREQ(buffer, "Sun, 06 Nov 1994 08:49:37 GMT");
    format_http_date(0, buffer, sizeof(buffer));
    EXPECT_STREQ(buffer, "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, ReadsAllThreeForms)
{
    i64 t = 0;
    ASSERT_TRUE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", t));
    EXPECT_EQ(t, kRfcExample);
    ASSERT_TRUE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", t));
    EXPECT_EQ(t, kRfcExample);
    ASSERT_TRUE(parse_http_date("Sun Nov  6 08:49:37 1994", t));
    EXPECT_EQ(t, kRfcExample);
    ASSERT_TRUE(parse_http_date("Thursday, 01-Jan-26 00:00:00 GMT", t));
    EXPECT_EQ(t, 1767225600);
}

TEST(HttpDate, RefusesWhatIsNotADate)
{
    i64 t = 0;
    for (char const* text : { "", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
             "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
             "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT" }) {
        EXPECT_FALSE(parse_http_date(text, t)) << text;
    }
}

// --- content types --------------------------------------------------------------------------

TEST(ContentType, ByExtension)
{
    EXPECT_TRUE(content_type_for("index.html") == "text/html; charset=utf-8");
    EXPECT_TRUE(content_type_for("css/skiff.css") == "text/css; charset=utf-8");
    EXPECT_TRUE(content_type_for("about.txt") == "text/plain; charset=utf-8");
    EXPECT_TRUE(content_type_for("img/skiff.png") == "image/png");
    EXPECT_TRUE(content_type_for("img/wave.gif") == "image/gif");
    EXPECT_TRUE(content_type_for("favicon.ico") == "image/vnd.microsoft.icon");
    EXPECT_TRUE(content_type_for("LOGO.PNG") == "image/png");
    EXPECT_TRUE(content_type_for("test/1M.bin") == "application/octet-stream");
    EXPECT_TRUE(content_type_for("README") == "application/octet-stream");
    EXPECT_TRUE(content_type_for("v1.2/README") == "application/octet-stream"); // a dot in a directory
    EXPECT_TRUE(content_type_for("archive.") == "application/octet-stream");
}

// --- targets --------------------------------------------------------------------------------

TEST(Target, DecodesOriginAndAbsoluteForms)
{
    char buffer[256];
    StringView path;
    auto decode = [&](char const* target) -> std::string {
        if (!decode_target(target, buffer, sizeof(buffer), path))
            return "(refused)";
        return std::string(path.chars(), path.length());
    };
    EXPECT_EQ(decode("/"), "/");
    EXPECT_EQ(decode("/index.html?x=1&y=2"), "/index.html");
    EXPECT_EQ(decode("/a%20b/c%2Fd"), "/a b/c/d");
    EXPECT_EQ(decode("/caf%C3%A9"), "/caf\xc3\xa9");
    EXPECT_EQ(decode("http://10.0.2.15/about.txt"), "/about.txt");
    EXPECT_EQ(decode("HTTP://host:8080"), "/");
    EXPECT_EQ(decode("/../etc/passwd"), "/../etc/passwd"); // dot segments: the file system's to refuse
    EXPECT_EQ(decode("*"), "(refused)");
    EXPECT_EQ(decode("example.com:443"), "(refused)");
    EXPECT_EQ(decode("/a%00b"), "(refused)");
    EXPECT_EQ(decode("/a%zzb"), "(refused)");
    EXPECT_EQ(decode("/a%2"), "(refused)");
    EXPECT_EQ(decode("/a%"), "(refused)");
    char tiny[4];
    EXPECT_FALSE(decode_target("/abcdef", tiny, sizeof(tiny), path));
}

// --- response plans -------------------------------------------------------------------------

TEST(Response, GetOfAFileIs200WithItsLengthTypeAndDate)
{
    FileInfo file { 1000, kRfcExample, "text/plain; charset=utf-8" };
    auto plan = plan_file_response(parse("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), file, false);
    EXPECT_EQ(plan.head.status, 200);
    EXPECT_TRUE(plan.send_body);
    EXPECT_EQ(plan.body_offset, 0u);
    EXPECT_EQ(plan.body_length, 1000u);
    std::string text = head_text(plan.head);
    EXPECT_EQ(text.substr(0, 17), "HTTP/1.1 200 OK\r\n");
    EXPECT_NE(text.find("\r\nContent-Length: 1000\r\n"), std::string::npos);
    EXPECT_NE(text.find("\r\nContent-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
    EXPECT_NE(text.find("\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), std::string::npos);
    EXPECT_NE(text.find("\r\nAccept-Ranges: bytes\r\n"), std::string::npos);
    EXPECT_EQ(text.find("Connection:"), std::string::npos);
    EXPECT_EQ(text.substr(text.size() - 4), "\r\n\r\n");
}

TEST(Response, HeadHasTheGetHeadersAndNoBody)
{
    FileInfo file { 1000, kRfcExample, "image/png" };
    auto plan = plan_file_response(parse("HEAD /a.png HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n"), file, false);
    EXPECT_EQ(plan.head.status, 200); // Range is for GET only
    EXPECT_FALSE(plan.send_body);
    EXPECT_NE(head_text(plan.head).find("Content-Length: 1000\r\n"), std::string::npos);
}

TEST(Response, ARangeIs206WithContentRange)
{
    FileInfo file { 1000, kRfcExample, "application/octet-stream" };
    auto plan = plan_file_response(parse("GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=-10\r\n\r\n"), file, false);
    EXPECT_EQ(plan.head.status, 206);
    EXPECT_EQ(plan.body_offset, 990u);
    EXPECT_EQ(plan.body_length, 10u);
    std::string text = head_text(plan.head);
    EXPECT_NE(text.find("HTTP/1.1 206 Partial Content\r\n"), std::string::npos);
    EXPECT_NE(text.find("Content-Range: bytes 990-999/1000\r\n"), std::string::npos);
    EXPECT_NE(text.find("Content-Length: 10\r\n"), std::string::npos);
}

TEST(Response, ARangePastTheEndIs416WithTheLength)
{
    FileInfo file { 1000, kRfcExample, "application/octet-stream" };
    auto plan = plan_file_response(parse("GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-\r\n\r\n"), file, false);
    EXPECT_EQ(plan.head.status, 416);
    EXPECT_TRUE(plan.body_is_message);
    EXPECT_NE(head_text(plan.head).find("Content-Range: bytes */1000\r\n"), std::string::npos);
}

TEST(Response, IfRangeMustMatchTheDateExactly)
{
    FileInfo file { 1000, kRfcExample, "text/plain" };
    auto matching = plan_file_response(parse("GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n"
                                             "If-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"),
        file, false);
    EXPECT_EQ(matching.head.status, 206);
    auto stale = plan_file_response(parse("GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n"
                                          "If-Range: Sun, 06 Nov 1994 08:49:36 GMT\r\n\r\n"),
        file, false);
    EXPECT_EQ(stale.head.status, 200);
    EXPECT_EQ(stale.body_length, 1000u);
    auto etag = plan_file_response(
        parse("GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nIf-Range: \"abc\"\r\n\r\n"), file, false);
    EXPECT_EQ(etag.head.status, 200);
}

TEST(Response, IfModifiedSinceGives304WhenNotNewer)
{
    FileInfo file { 1000, kRfcExample, "text/plain" };
    auto same = plan_file_response(
        parse("GET /f HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"), file, false);
    EXPECT_EQ(same.head.status, 304);
    EXPECT_FALSE(same.send_body);
    std::string text = head_text(same.head);
    EXPECT_EQ(text.find("Content-Length"), std::string::npos);
    EXPECT_NE(text.find("Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT"), std::string::npos);
    auto older = plan_file_response(
        parse("GET /f HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n\r\n"), file, false);
    EXPECT_EQ(older.head.status, 200);
    auto nonsense
        = plan_file_response(parse("GET /f HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: soon\r\n\r\n"), file, false);
    EXPECT_EQ(nonsense.head.status, 200);
}

TEST(Response, ConnectionFieldFollowsTheVersionAndTheServersChoice)
{
    FileInfo file { 10, 0, "text/plain" };
    auto old_keep = plan_file_response(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), file, false);
    EXPECT_NE(head_text(old_keep.head).find("Connection: keep-alive\r\n"), std::string::npos);
    auto closing = plan_file_response(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), file, true);
    EXPECT_NE(head_text(closing.head).find("Connection: close\r\n"), std::string::npos);
}

TEST(Response, ErrorHeadsCarryTheirFields)
{
    ResponseHead head;
    head.status = 405;
    head.allow_get_head = true;
    head.close = true;
    head.content_type = "text/plain; charset=utf-8";
    head.content_length = 24;
    std::string text = head_text(head);
    EXPECT_NE(text.find("HTTP/1.1 405 Method Not Allowed\r\n"), std::string::npos);
    EXPECT_NE(text.find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(text.find("Connection: close\r\n"), std::string::npos);
    for (u16 status : { 400, 404, 408, 413, 414, 431, 501, 505 })
        EXPECT_STRNE(reason_phrase(status), "Unknown") << status;
    char tiny[16];
    EXPECT_EQ(format_response_head(head, tiny, sizeof(tiny)), 0u);
}
