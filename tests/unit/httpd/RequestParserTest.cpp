// The request parser against a corpus of valid and malformed heads: every error the server
// answers from a parse (400, 414, 431, 505), a 64 KiB field line, NUL bytes, bare CR and bare LF,
// absurd Content-Length values, and every request fed whole, byte by byte and split at every point.

#include <apps/httpd/protocol/RequestParser.h>

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using namespace skiff;
using namespace skiff::http;

namespace {

struct Outcome {
    ParseStatus status { ParseStatus::NeedMore };
    u16 error { 0 };
    usize consumed { 0 };
};

ReadonlyBytes bytes(std::string const& text)
{
    return { reinterpret_cast<u8 const*>(text.data()), text.size() };
}

Outcome feed_whole(RequestParser& parser, std::string const& text)
{
    Outcome o;
    o.consumed = parser.feed(bytes(text));
    o.status = parser.status();
    o.error = parser.error_status();
    return o;
}

// Feeds in pieces of `piece` bytes until the parser stops; returns the total consumed.
Outcome feed_in_pieces(RequestParser& parser, std::string const& text, usize piece)
{
    Outcome o;
    for (usize at = 0; at < text.size() && parser.status() == ParseStatus::NeedMore; at += piece) {
        std::string chunk = text.substr(at, piece);
        usize used = parser.feed(bytes(chunk));
        o.consumed += used;
        if (used < chunk.size())
            break;
    }
    o.status = parser.status();
    o.error = parser.error_status();
    return o;
}

std::string target_of(RequestParser const& parser)
{
    auto const& r = parser.request();
    return std::string(r.target, r.target_length);
}

u16 error_for(std::string const& text)
{
    RequestParser parser;
    auto o = feed_whole(parser, text);
    EXPECT_EQ(o.status, ParseStatus::Error) << text.substr(0, 200);
    return o.error;
}

// A literal with NULs inside, all of it.
template<usize N>
std::string raw(char const (&text)[N])
{
    return std::string(text, N - 1);
}

std::vector<std::string> valid_corpus()
{
    return {
        "GET / HTTP/1.1\r\nHost: 10.0.2.15\r\n\r\n",
        "HEAD /index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        "GET /test/1M.bin HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\nUser-Agent: ApacheBench/2.3\r\n\r\n",
        "GET /about.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
        "GET /a%20b?x=1 HTTP/1.1\nHost: lf-only\n\n",
        "\r\n\r\nGET / HTTP/1.1\r\nHost: after-empty-lines\r\n\r\n",
        "GET http://example/abs HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n",
        "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Spaces:    \t \r\nX-Obs-Text: caf\xc3\xa9\r\n\r\n",
    };
}

} // namespace

TEST(RequestParser, ParsesAGetWithItsFields)
{
    RequestParser parser;
    std::string text = "GET /index.html HTTP/1.1\r\nHost: 10.0.2.15\r\nRange: bytes=0-9\r\n"
                       "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";
    auto o = feed_whole(parser, text);
    ASSERT_EQ(o.status, ParseStatus::Complete) << parser.error_reason();
    EXPECT_EQ(o.consumed, text.size());
    auto const& r = parser.request();
    EXPECT_EQ(r.method, Method::Get);
    EXPECT_EQ(target_of(parser), "/index.html");
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(r.host_count, 1u);
    EXPECT_TRUE(r.has_range);
    EXPECT_TRUE(r.range_view() == "bytes=0-9");
    EXPECT_TRUE(r.if_modified_since_view() == "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(r.field_count, 3u);
    EXPECT_TRUE(parser.started());
}

TEST(RequestParser, KeepAliveFollowsTheVersionAndConnection)
{
    struct Case {
        char const* text;
        bool keep_alive;
    };
    Case cases[] = {
        { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true },
        { "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false },
        { "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, CLOSE\r\n\r\n", false },
        { "GET / HTTP/1.0\r\n\r\n", false }, { "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true },
        { "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false },
        { "GET / HTTP/1.9\r\nHost: x\r\n\r\n", true }, // a later 1.x minor is read as 1.1
    };
    for (auto const& c : cases) {
        RequestParser parser;
        ASSERT_EQ(feed_whole(parser, c.text).status, ParseStatus::Complete) << c.text;
        EXPECT_EQ(parser.request().keep_alive, c.keep_alive) << c.text;
    }
}

TEST(RequestParser, MethodsOtherThanGetAndHeadAreNotParseErrors)
{
    for (char const* method : { "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "BREW" }) {
        RequestParser parser;
        std::string text = std::string(method) + " / HTTP/1.1\r\nHost: x\r\n\r\n";
        ASSERT_EQ(feed_whole(parser, text).status, ParseStatus::Complete) << method;
        EXPECT_EQ(parser.request().method, Method::Other) << method; // methods are case-sensitive
        EXPECT_TRUE(parser.request().method_view() == method);
    }
    RequestParser head;
    ASSERT_EQ(feed_whole(head, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").status, ParseStatus::Complete);
    EXPECT_EQ(head.request().method, Method::Head);
}

TEST(RequestParser, EveryValidRequestParsesTheSameWholeByteByByteAndSplitAnywhere)
{
    for (auto const& text : valid_corpus()) {
        RequestParser whole;
        auto reference = feed_whole(whole, text);
        ASSERT_EQ(reference.status, ParseStatus::Complete) << text << whole.error_reason();
        EXPECT_EQ(reference.consumed, text.size()) << text;

        RequestParser bytewise;
        auto o = feed_in_pieces(bytewise, text, 1);
        EXPECT_EQ(o.status, ParseStatus::Complete) << text;
        EXPECT_EQ(o.consumed, text.size());
        EXPECT_EQ(target_of(bytewise), target_of(whole));
        EXPECT_EQ(bytewise.request().keep_alive, whole.request().keep_alive);
        EXPECT_EQ(bytewise.request().content_length, whole.request().content_length);

        for (usize split = 1; split < text.size(); ++split) {
            RequestParser parser;
            usize first = parser.feed(bytes(text.substr(0, split)));
            ASSERT_EQ(first, split);
            usize second = parser.feed(bytes(text.substr(split)));
            ASSERT_EQ(parser.status(), ParseStatus::Complete) << "split at " << split << " of " << text;
            EXPECT_EQ(first + second, text.size());
            EXPECT_EQ(target_of(parser), target_of(whole));
        }
    }
}

TEST(RequestParser, StopsAtTheEndOfTheHeadLeavingPipelinedRequests)
{
    std::string one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    std::string two = "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n";
    std::string three = "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    std::string stream = one + two + three;
    RequestParser parser;
    usize at = 0;
    std::vector<std::string> targets;
    while (at < stream.size()) {
        usize used = parser.feed(bytes(stream.substr(at)));
        ASSERT_EQ(parser.status(), ParseStatus::Complete);
        targets.push_back(target_of(parser));
        at += used;
        bool last = !parser.request().keep_alive;
        parser.reset();
        if (last)
            break;
    }
    EXPECT_EQ(targets, (std::vector<std::string> { "/a", "/b", "/c" }));
    EXPECT_EQ(at, stream.size());
    EXPECT_EQ(parser.feed(bytes("")), 0u);
    EXPECT_FALSE(parser.started());
}

TEST(RequestParser, ConsumesNothingOnceDone)
{
    RequestParser parser;
    feed_whole(parser, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(parser.feed(bytes("GET / HTTP/1.1\r\n")), 0u);
    RequestParser failed;
    feed_whole(failed, "GET / HTTP/9.9\r\n");
    EXPECT_EQ(failed.feed(bytes("more")), 0u);
}

TEST(RequestParser, AcceptsBareLfAndSkipsEmptyLinesBeforeTheRequest)
{
    RequestParser parser;
    ASSERT_EQ(feed_whole(parser, "\n\r\nGET /x HTTP/1.1\nHost: a\nRange: bytes=1-2\n\n").status, ParseStatus::Complete);
    EXPECT_EQ(target_of(parser), "/x");
    EXPECT_TRUE(parser.request().range_view() == "bytes=1-2");
    EXPECT_EQ(error_for(std::string(9, '\n') + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(RequestParser, AnIdleConnectionHasNotStartedARequest)
{
    RequestParser parser;
    parser.feed(bytes("\r\n"));
    EXPECT_FALSE(parser.started()); // an empty line: still idle (no 408 when it times out)
    parser.feed(bytes("G"));
    EXPECT_TRUE(parser.started());
}

// --- the request line -----------------------------------------------------------------------

TEST(RequestParser, MalformedRequestLinesAre400)
{
    for (char const* text : {
             "GET /\r\n\r\n",                      // HTTP/0.9: no version
             "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", // two spaces: empty target
             "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
             "GET / http/1.1\r\nHost: x\r\n\r\n", // the version is case-sensitive
             "GET / HTTP/1.1x\r\nHost: x\r\n\r\n",
             "GET / HTTP/1\r\nHost: x\r\n\r\n",
             "GET / HTTP/A.1\r\nHost: x\r\n\r\n",
             "G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
             " GET / HTTP/1.1\r\nHost: x\r\n\r\n",
             "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n",
             "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", // raw non-ASCII in the target
             "THISMETHODISWAYTOOLONG / HTTP/1.1\r\nHost: x\r\n\r\n",
         }) {
        EXPECT_EQ(error_for(text), 400) << text;
    }
}

TEST(RequestParser, OtherMajorVersionsAre505)
{
    EXPECT_EQ(error_for("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
    EXPECT_EQ(error_for("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
    EXPECT_EQ(error_for("GET / HTTP/0.9\r\n\r\n"), 505);
    EXPECT_EQ(error_for("GET / HTTP/3.0\r\n"), 505); // known at the end of the request line
}

TEST(RequestParser, ALongTargetIs414AsSoonAsItIsTooLong)
{
    std::string target = "/" + std::string(5000, 'a');
    RequestParser parser;
    auto o = feed_whole(parser, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(o.status, ParseStatus::Error);
    EXPECT_EQ(o.error, 414);
    EXPECT_EQ(o.consumed, 4u + 2048u); // stopped at the first byte past the limit
    RequestParser at_limit;
    EXPECT_EQ(feed_whole(at_limit, "GET /" + std::string(2047, 'b') + " HTTP/1.1\r\nHost: x\r\n\r\n").status,
        ParseStatus::Complete);
}

// --- fields ---------------------------------------------------------------------------------

TEST(RequestParser, A64KiBFieldLineIs431WithoutReadingItAll)
{
    std::string text = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'v') + "\r\n\r\n";
    RequestParser parser;
    auto o = feed_in_pieces(parser, text, 1460);
    EXPECT_EQ(o.status, ParseStatus::Error);
    EXPECT_EQ(o.error, 431);
    EXPECT_LT(o.consumed, 26u + 4096u); // the request line, Host, then one line's limit
}

TEST(RequestParser, TooManyFieldsOrTooLargeAHeadIs431)
{
    std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 64; ++i)
        many += "X-" + std::to_string(i) + ": y\r\n";
    EXPECT_EQ(error_for(many + "\r\n"), 431);
    std::string big = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 20; ++i)
        big += "X-" + std::to_string(i) + ": " + std::string(1000, 'z') + "\r\n";
    EXPECT_EQ(error_for(big + "\r\n"), 431);
}

TEST(RequestParser, NulAndControlBytesAre400)
{
    EXPECT_EQ(error_for(raw("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n")), 400);
    EXPECT_EQ(error_for(raw("GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
    EXPECT_EQ(error_for(raw("G\0T / HTTP/1.1\r\n\r\n")), 400);
    EXPECT_EQ(error_for(raw("GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n")), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\nX-A: bell\x07\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\nX-A: del\x7f\r\n\r\n"), 400);
}

TEST(RequestParser, BareCrIs400)
{
    EXPECT_EQ(error_for("GET / HTTP/1.1\rHost: x\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\n\rX"), 400);
    EXPECT_EQ(error_for("\rGET / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
}

TEST(RequestParser, FieldSyntaxErrorsAre400)
{
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400); // RFC 9112 §5.1
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n"), 400);
}

TEST(RequestParser, HostIsRequiredOnceInHttp11)
{
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(error_for("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
    RequestParser old;
    EXPECT_EQ(feed_whole(old, "GET / HTTP/1.0\r\n\r\n").status, ParseStatus::Complete);
}

TEST(RequestParser, ContentLengthMustBeOneNumber)
{
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::string(300, '9') + "\r\n\r\n"), 400);
    EXPECT_EQ(error_for("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), 400);

    RequestParser same;
    ASSERT_EQ(
        feed_whole(same, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n").status, ParseStatus::Complete);
    EXPECT_EQ(same.request().content_length, 5u);
    // Absurd but well-formed: more than 64 bits of digits. Not a syntax error: the server says 413.
    RequestParser absurd;
    ASSERT_EQ(
        feed_whole(absurd, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n").status,
        ParseStatus::Complete);
    EXPECT_TRUE(absurd.request().content_length_overflow);
    RequestParser large;
    ASSERT_EQ(feed_whole(large, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n").status,
        ParseStatus::Complete);
    EXPECT_EQ(large.request().content_length, 1000000000000u);
    RequestParser chunked;
    ASSERT_EQ(feed_whole(chunked, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").status,
        ParseStatus::Complete);
    EXPECT_TRUE(chunked.request().has_transfer_encoding);
}

TEST(RequestParser, ARangeTooLongOrRepeatedIsDropped)
{
    RequestParser parser;
    ASSERT_EQ(
        feed_whole(parser, "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=" + std::string(200, '1') + "-\r\n\r\n").status,
        ParseStatus::Complete);
    EXPECT_TRUE(parser.request().range_too_long);
    RequestParser twice;
    ASSERT_EQ(feed_whole(twice, "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n").status,
        ParseStatus::Complete);
    EXPECT_TRUE(twice.request().range_too_long);
}

TEST(RequestParser, FieldNamesAreCaseInsensitive)
{
    RequestParser parser;
    ASSERT_EQ(feed_whole(parser, "GET / HTTP/1.1\r\nHOST: x\r\nrAnGe: bytes=5-\r\nCONNECTION: CLOSE\r\n\r\n").status,
        ParseStatus::Complete);
    EXPECT_TRUE(parser.request().range_view() == "bytes=5-");
    EXPECT_FALSE(parser.request().keep_alive);
}

TEST(RequestParser, MalformedHeadsFailTheSameWayWholeOrByteByByte)
{
    std::vector<std::string> corpus = {
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        "GET /" + std::string(3000, 'x') + " HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(5000, 'y') + "\r\n\r\n",
        raw("GET / HTTP/1.1\r\nHost: x\r\nX: \0\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\rX",
    };
    for (auto const& text : corpus) {
        RequestParser whole;
        auto reference = feed_whole(whole, text);
        RequestParser bytewise;
        auto o = feed_in_pieces(bytewise, text, 1);
        EXPECT_EQ(o.status, ParseStatus::Error);
        EXPECT_EQ(o.error, reference.error) << text.substr(0, 60);
        EXPECT_EQ(o.consumed, reference.consumed);
    }
}

TEST(RequestParser, RandomBytesNeverCrashAndStayWithinTheLimits)
{
    std::mt19937 random(9112);
    for (int round = 0; round < 3000; ++round) {
        std::string text = round % 2 ? "GET / HTTP/1.1\r\n" : "";
        usize length = random() % 600;
        for (usize i = 0; i < length; ++i) {
            // Mostly header-ish characters, with control bytes mixed in.
            static char const kAlphabet[] = "GETHOST: /\r\n\t abc-=,0123456789";
            text += random() % 8 ? kAlphabet[random() % (sizeof(kAlphabet) - 1)] : static_cast<char>(random());
        }
        RequestParser parser;
        auto o = feed_in_pieces(parser, text, 1 + random() % 64);
        EXPECT_LE(o.consumed, text.size());
        EXPECT_LE(parser.head_bytes(), 16384u);
        if (o.status == ParseStatus::Error) {
            EXPECT_TRUE(o.error == 400 || o.error == 414 || o.error == 431 || o.error == 505) << o.error;
            EXPECT_NE(parser.error_reason(), nullptr);
        }
    }
}
