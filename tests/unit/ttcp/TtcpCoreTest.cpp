// The ttcp core against an in-memory transport: option parsing, the classic summary lines in
// fixed point, TCP and UDP transfers in both roles, and the payload checks (-H, -R).

#include <apps/ttcp/TtcpCore.h>

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

using namespace skiff;
using namespace skiff::ttcp;

namespace {

// A transport whose "network" is a byte vector (TCP) or a list of datagrams (UDP), whose clock
// advances by a fixed step per reading, and whose console is a string.
class FakeTransport final : public Transport {
public:
    // Configuration
    usize max_send { ~usize(0) }; // TCP send() accepts at most this much per call
    usize max_recv { ~usize(0) }; // TCP recv() returns at most this much per call
    u64 clock_step { 1000000 };   // now_ns() advances by this much per call
    Error connect_error { Error::None };
    std::vector<u8> inbound;                       // TCP: what recv() reads
    std::deque<std::vector<u8>> inbound_datagrams; // UDP: what recvfrom() returns; empty = TimedOut
    std::vector<u8> input;                         // what read_input() reads (without -s)

    // Observations
    std::vector<u8> wire;                   // TCP: what send() accepted
    std::vector<std::vector<u8>> datagrams; // UDP: what sendto() sent
    std::vector<u8> output;                 // what write_output() got
    std::string console;
    SocketSettings settings;
    std::string connected_host;
    u16 port { 0 };
    int buffers_live { 0 };
    int closes { 0 };
    u64 slept_ns { 0 };
    u32 ring_slots { 1 };                  // what send_ring_slots() offers
    std::vector<u64> release_waits;        // every wait_send_released(offset)
    std::vector<u8 const*> send_addresses; // where each send() read from
    usize last_buffer_length { 0 };        // allocate_buffer()'s length

    Result<void> connect(StringView host, u16 to_port, SocketSettings const& s) override
    {
        if (connect_error != Error::None)
            return connect_error;
        connected_host.assign(host.chars(), host.length());
        port = to_port;
        settings = s;
        return {};
    }
    Result<void> listen(u16 on_port, SocketSettings const& s) override
    {
        port = on_port;
        settings = s;
        return {};
    }
    Result<Peer> accept() override { return Peer { 0x7f000001, 40000 }; }
    Result<usize> send(ReadonlyBytes data) override
    {
        send_addresses.push_back(data.data());
        usize n = std::min(data.size(), max_send);
        wire.insert(wire.end(), data.data(), data.data() + n);
        return n;
    }
    Result<usize> recv(Bytes buffer) override
    {
        usize n = std::min({ buffer.size(), max_recv, inbound.size() - m_inbound_offset });
        std::copy(inbound.begin() + m_inbound_offset, inbound.begin() + m_inbound_offset + n, buffer.data());
        m_inbound_offset += n;
        return n;
    }
    Result<usize> sendto(ReadonlyBytes datagram) override
    {
        datagrams.emplace_back(datagram.data(), datagram.data() + datagram.size());
        return datagram.size();
    }
    Result<usize> recvfrom(Bytes buffer, Peer& from) override
    {
        if (inbound_datagrams.empty())
            return Error::TimedOut;
        auto datagram = std::move(inbound_datagrams.front());
        inbound_datagrams.pop_front();
        usize n = std::min(buffer.size(), datagram.size());
        std::copy(datagram.begin(), datagram.begin() + n, buffer.data());
        from = Peer { 0x7f000001, 40001 };
        return n;
    }
    void close() override { ++closes; }
    u32 send_ring_slots(Options const&) override { return ring_slots; }
    Result<void> wait_send_released(u64 offset) override
    {
        EXPECT_LE(offset, wire.size()); // only bytes already sent can be released
        release_waits.push_back(offset);
        return {};
    }
    Result<Bytes> allocate_buffer(usize length) override
    {
        last_buffer_length = length;
        ++buffers_live;
        return Bytes(new u8[length](), length);
    }
    void free_buffer(Bytes buffer) override
    {
        --buffers_live;
        delete[] buffer.data();
    }
    u64 now_ns() override
    {
        u64 now = m_now;
        m_now += clock_step;
        return now;
    }
    void sleep_ns(u64 duration) override { slept_ns += duration; }
    void print(StringView text) override { console.append(text.chars(), text.length()); }
    bool standard_streams { true };
    bool has_standard_streams() const override { return standard_streams; }
    Result<usize> read_input(Bytes buffer) override
    {
        usize n = std::min(buffer.size(), input.size() - m_input_offset);
        std::copy(input.begin() + m_input_offset, input.begin() + m_input_offset + n, buffer.data());
        m_input_offset += n;
        return n;
    }
    Result<void> write_output(ReadonlyBytes data) override
    {
        output.insert(output.end(), data.data(), data.data() + data.size());
        return {};
    }

private:
    u64 m_now { 1000 };
    usize m_inbound_offset { 0 };
    usize m_input_offset { 0 };
};

// Splits a command line on spaces into words that stay alive for the test.
struct CommandLine {
    explicit CommandLine(std::string const& line)
    {
        usize start = 0;
        while (start < line.size()) {
            usize end = line.find(' ', start);
            if (end == std::string::npos)
                end = line.size();
            if (end > start)
                storage.push_back(line.substr(start, end - start));
            start = end + 1;
        }
        for (auto const& word : storage)
            words.emplace_back(word.c_str(), word.size());
    }
    Span<StringView const> span() const { return { words.data(), words.size() }; }
    std::vector<std::string> storage;
    std::vector<StringView> words;
};

struct StringSink final : FormatSink {
    void write(char const* chars, usize length) override { text.append(chars, length); }
    std::string text;
};

// The options hold views into the command line (the host name), so the caller keeps the
// CommandLine alive for as long as it looks at them.
Result<Options> parse(CommandLine const& command, std::string* diagnostics = nullptr)
{
    StringSink sink;
    auto result = parse_options(command.span(), sink);
    if (diagnostics)
        *diagnostics = sink.text;
    return result;
}

int run_main(std::string const& line, FakeTransport& transport)
{
    CommandLine command(line);
    return ttcp::main(command.span(), transport);
}

std::string ratio(u64 numerator, u64 denominator, u32 decimals)
{
    StringSink sink;
    format_ratio(sink, numerator, denominator, decimals);
    return sink.text;
}

std::string rate(u64 bytes, u64 ns, char unit)
{
    StringSink sink;
    format_rate(sink, bytes, ns, unit);
    return sink.text;
}

std::vector<u8> random_bytes(u64 seed, u64 offset, usize length)
{
    std::vector<u8> bytes(length);
    fill_random(seed, offset, { bytes.data(), bytes.size() });
    return bytes;
}

bool contains(std::string const& haystack, std::string const& needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

// ---- Options --------------------------------------------------------------------------------------

TEST(TtcpOptions, ReceiveDefaultsAreClassic)
{
    CommandLine command("-r");
    auto options = parse(command);
    ASSERT_FALSE(options.is_error());
    EXPECT_EQ(options.value().role, Role::Receive);
    EXPECT_EQ(options.value().buffer_length, 8192u);
    EXPECT_EQ(options.value().buffer_count, 2048u);
    EXPECT_EQ(options.value().port, 5001);
    EXPECT_FALSE(options.value().udp);
    EXPECT_FALSE(options.value().sink_source);
    EXPECT_FALSE(options.value().hash);
    EXPECT_EQ(options.value().zero_copy, ZeroCopy::Default);
    EXPECT_EQ(options.value().rate_unit, 'K');
}

TEST(TtcpOptions, ClusteredFlagsAndAttachedOrSeparateValues)
{
    CommandLine command("-tsuH -l1460 -n 10 -p7000 -z off -R 0x2a -D -fm 10.0.2.15");
    auto options = parse(command);
    ASSERT_FALSE(options.is_error());
    auto const& o = options.value();
    EXPECT_EQ(o.role, Role::Transmit);
    EXPECT_TRUE(o.sink_source);
    EXPECT_TRUE(o.udp);
    EXPECT_TRUE(o.hash);
    EXPECT_TRUE(o.nodelay);
    EXPECT_EQ(o.buffer_length, 1460u);
    EXPECT_EQ(o.buffer_count, 10u);
    EXPECT_EQ(o.port, 7000);
    EXPECT_EQ(o.zero_copy, ZeroCopy::Off);
    EXPECT_TRUE(o.random);
    EXPECT_EQ(o.seed, 42u);
    EXPECT_EQ(o.rate_unit, 'm');
    EXPECT_TRUE(o.host == "10.0.2.15");
}

TEST(TtcpOptions, ValueFlagEndsACluster)
{
    // "-sl100" is -s then -l 100, as getopt reads it.
    CommandLine command("-r -sl100");
    auto options = parse(command);
    ASSERT_FALSE(options.is_error());
    EXPECT_TRUE(options.value().sink_source);
    EXPECT_EQ(options.value().buffer_length, 100u);
}

TEST(TtcpOptions, BadCommandLinesAreRejectedWithAReason)
{
    struct Case {
        char const* line;
        char const* reason;
    } cases[] = {
        { "", "either -t or -r" },
        { "-s", "either -t or -r" },
        { "-t -r host", "cannot both" },
        { "-t", "exactly one host" },
        { "-t a b", "exactly one host" },
        { "-r host", "takes no host" },
        { "-r -l 0", "-l wants" },
        { "-r -l 2000000", "-l wants" },
        { "-r -n 0", "-n wants" },
        { "-r -p 65536", "-p wants" },
        { "-r -p x", "-p wants" },
        { "-r -z maybe", "-z wants on, off or cow" },
        { "-r -R", "-R needs a value" },
        { "-r -R seed", "-R wants a seed" },
        { "-r -f x", "-f wants" },
        { "-r -q", "unknown option -q" },
        { "-r -u -l 4", "markers" },
        { "-r -w 2000000", "-w wants" },
    };
    for (auto const& c : cases) {
        std::string reason;
        CommandLine command(c.line);
        auto options = parse(command, &reason);
        EXPECT_TRUE(options.is_error()) << c.line;
        EXPECT_TRUE(contains(reason, c.reason)) << c.line << " -> " << reason;
    }
}

TEST(TtcpOptions, UsageErrorExitsWithTwoAndPrintsUsage)
{
    FakeTransport transport;
    EXPECT_EQ(run_main("-x", transport), 2);
    EXPECT_TRUE(contains(transport.console, "ttcp: unknown option -x\n"));
    EXPECT_TRUE(contains(transport.console, "Usage: ttcp -t"));
}

// ---- Fixed point --------------------------------------------------------------------------------

TEST(TtcpFixedPoint, RatioRoundsHalfUp)
{
    EXPECT_EQ(ratio(1, 3, 2), "0.33");
    EXPECT_EQ(ratio(2, 3, 2), "0.67");
    EXPECT_EQ(ratio(1999, 1000, 2), "2.00");
    EXPECT_EQ(ratio(1994, 1000, 2), "1.99");
    EXPECT_EQ(ratio(1230000000, 1000000000, 2), "1.23");
    EXPECT_EQ(ratio(5, 1, 0), "5");
    EXPECT_EQ(ratio(1, 8, 3), "0.125");
    EXPECT_EQ(ratio(7, 0, 1), "7.0"); // a zero denominator counts as 1, never a fault
}

TEST(TtcpFixedPoint, RateInClassicUnits)
{
    // 16 MiB in 1.23 s: 13320.325 KB/s, 104.065 Mbit/s (classic ttcp's units are powers of 1024).
    EXPECT_EQ(rate(16777216, 1230000000, 'K'), "13320.33 KB");
    EXPECT_EQ(rate(16777216, 1230000000, 'k'), "106562.60 Kbit");
    EXPECT_EQ(rate(16777216, 1230000000, 'M'), "13.01 MB");
    EXPECT_EQ(rate(16777216, 1230000000, 'm'), "104.07 Mbit");
    EXPECT_EQ(rate(1ull << 40, 1000000000, 'G'), "1024.00 GB");
    EXPECT_EQ(rate(1ull << 30, 1000000000, 'g'), "8.00 Gbit");
    // bytes * 1e9 * 100 overflows 64 bits long before the result does: the 128-bit intermediate.
    EXPECT_EQ(rate(1ull << 40, 1000, 'K'), "1073741824000000.00 KB");
    // A result past 64 bits clamps rather than wrapping round to something plausible.
    EXPECT_EQ(rate(1ull << 50, 1, 'K'), "18446744073709551615.00 KB");
}

// ---- Payloads -----------------------------------------------------------------------------------

TEST(TtcpPayload, PatternIsClassicPrintableCycle)
{
    u8 buffer[200];
    fill_pattern(buffer);
    EXPECT_EQ(buffer[0], ' ');
    EXPECT_EQ(buffer[1], '!');
    EXPECT_EQ(buffer[94], '~');
    EXPECT_EQ(buffer[95], ' '); // 95 printable characters, then round again
    EXPECT_EQ(buffer[199], static_cast<u8>(' ' + 199 % 95));
}

TEST(TtcpPayload, RandomStreamIsAddressableAtAnyOffset)
{
    auto whole = random_bytes(42, 0, 1000);
    for (u64 offset : { 1u, 7u, 8u, 9u, 37u, 999u }) {
        auto piece = random_bytes(42, offset, 1000 - offset);
        EXPECT_TRUE(std::equal(piece.begin(), piece.end(), whole.begin() + offset)) << offset;
    }
    EXPECT_NE(random_bytes(42, 0, 64), random_bytes(43, 0, 64));
    // Not degenerate: most of 256 byte values appear in 4 KiB.
    auto sample = random_bytes(1, 0, 4096);
    std::vector<bool> seen(256);
    for (u8 b : sample)
        seen[b] = true;
    EXPECT_GT(std::count(seen.begin(), seen.end(), true), 240);
}

// ---- TCP ----------------------------------------------------------------------------------------

TEST(TtcpTcp, TransmitSinkSendsPatternBuffersAndPrintsClassicSummary)
{
    FakeTransport transport;
    transport.max_send = 4096; // every 8192-byte buffer takes two send() calls
    transport.clock_step = 1230000000;
    EXPECT_EQ(run_main("-t -s -p 6000 -D 10.0.2.15", transport), 0);

    EXPECT_EQ(transport.connected_host, "10.0.2.15");
    EXPECT_EQ(transport.port, 6000);
    EXPECT_TRUE(transport.settings.nodelay);
    EXPECT_FALSE(transport.settings.udp);
    ASSERT_EQ(transport.wire.size(), 16777216u);
    std::vector<u8> pattern(8192);
    fill_pattern({ pattern.data(), pattern.size() });
    for (usize offset = 0; offset < transport.wire.size(); offset += 8192)
        ASSERT_TRUE(std::equal(pattern.begin(), pattern.end(), transport.wire.begin() + offset)) << offset;

    EXPECT_TRUE(contains(transport.console, "ttcp-t: buflen=8192, nbuf=2048, port=6000  tcp  -> 10.0.2.15\n"));
    EXPECT_TRUE(contains(transport.console, "ttcp-t: 16777216 bytes in 1.23 real seconds = 13320.33 KB/sec +++\n"));
    EXPECT_TRUE(contains(transport.console, "ttcp-t: 4096 I/O calls, msec/call = 0.30, calls/sec = 3330.08\n"));
    EXPECT_FALSE(contains(transport.console, "sha256"));
    EXPECT_EQ(transport.buffers_live, 0);
    EXPECT_GE(transport.closes, 1);
}

TEST(TtcpTcp, RandomPayloadRoundTripsWithMatchingHashes)
{
    FakeTransport sender;
    sender.max_send = 3000;
    EXPECT_EQ(run_main("-t -H -R 99 -l 1460 -n 100 host", sender), 0);
    ASSERT_EQ(sender.wire.size(), 146000u);
    EXPECT_EQ(sender.wire, random_bytes(99, 0, 146000));

    FakeTransport receiver;
    receiver.inbound = sender.wire;
    receiver.max_recv = 1000; // arrives in pieces that do not line up with the sender's buffers
    EXPECT_EQ(run_main("-r -s -H -R 99 -l 4096", receiver), 0);

    char hex[Sha256Digest::kHexSize];
    std::string expected = std::string("sha256 ")
        + Sha256::hash({ sender.wire.data(), sender.wire.size() }).to_hex(hex).chars() + " (146000 bytes)\n";
    EXPECT_TRUE(contains(sender.console, "ttcp-t: " + expected)) << sender.console;
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: " + expected)) << receiver.console;
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: accept from 127.0.0.1\n"));
    EXPECT_TRUE(contains(receiver.console, "payload matches seed 99: 146000 bytes checked"));
    // 146 reads of 1000 bytes, and the one that saw the end of the stream.
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: 147 I/O calls"));
    EXPECT_TRUE(receiver.output.empty()); // -s: discarded
    EXPECT_EQ(receiver.buffers_live, 0);
}

TEST(TtcpTcp, CorruptedByteIsReportedAtItsOffset)
{
    FakeTransport receiver;
    receiver.inbound = random_bytes(5, 0, 20000);
    receiver.inbound[12345] ^= 0x01;
    EXPECT_EQ(run_main("-r -s -R 5", receiver), 1);
    EXPECT_TRUE(contains(receiver.console, "PAYLOAD MISMATCH against seed 5: first wrong byte at offset 12345"))
        << receiver.console;
}

TEST(TtcpTcp, ReceiverWithSeedButNoDataFails)
{
    FakeTransport receiver;
    EXPECT_EQ(run_main("-r -s -R 5", receiver), 1);
    EXPECT_TRUE(contains(receiver.console, "nothing arrived"));
}

TEST(TtcpTcp, WithoutSinkTheReceiverWritesOutputAndTheTransmitterReadsInput)
{
    FakeTransport sender;
    sender.input = random_bytes(3, 0, 20000);
    EXPECT_EQ(run_main("-t -l 8192 host", sender), 0);
    EXPECT_EQ(sender.wire, sender.input); // 8192 + 8192 + 3616, then end of input
    EXPECT_TRUE(contains(sender.console, "ttcp-t: 20000 bytes in"));

    FakeTransport receiver;
    receiver.inbound = sender.wire;
    EXPECT_EQ(run_main("-r", receiver), 0);
    EXPECT_EQ(receiver.output, sender.input);
}

TEST(TtcpTcp, WithoutStandardStreamsSinkIsImplied)
{
    // The guest console has no stdin or stdout: `ttcp -t host` sends the pattern, `ttcp -r` discards.
    FakeTransport sender;
    sender.standard_streams = false;
    EXPECT_EQ(run_main("-t -n 3 host", sender), 0);
    EXPECT_EQ(sender.wire.size(), 3u * 8192u);
    EXPECT_TRUE(contains(sender.console, "ttcp-t: no stdin/stdout here: -s implied\n"));

    FakeTransport receiver;
    receiver.standard_streams = false;
    receiver.inbound = sender.wire;
    EXPECT_EQ(run_main("-r", receiver), 0);
    EXPECT_TRUE(receiver.output.empty());
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: 24576 bytes in"));
}

TEST(TtcpTcp, ZeroCopyChoiceReachesTheTransport)
{
    FakeTransport transport;
    EXPECT_EQ(run_main("-r -s -z on", transport), 0);
    EXPECT_EQ(transport.settings.zero_copy, ZeroCopy::On);
    EXPECT_EQ(transport.settings.role, Role::Receive);
    EXPECT_TRUE(contains(transport.console, "zc=on"));
}

TEST(TtcpTcp, CooperativeZeroCopyCyclesARingAndWaitsForEachSlotsRelease)
{
    FakeTransport transport;
    transport.ring_slots = 3;
    EXPECT_EQ(run_main("-t -R 5 -z on -l 100 -n 7 host", transport), 0);
    EXPECT_EQ(transport.last_buffer_length, 300u);
    ASSERT_EQ(transport.send_addresses.size(), 7u);
    for (usize i = 0; i < 7; ++i)
        EXPECT_EQ(transport.send_addresses[i], transport.send_addresses[i % 3]);
    EXPECT_NE(transport.send_addresses[0], transport.send_addresses[1]);
    // Before rewriting slot k % 3, the bytes it held three buffers ago must be released.
    EXPECT_EQ(transport.release_waits, (std::vector<u64> { 100, 200, 300, 400 }));
    std::vector<u8> expected(700);
    fill_random(5, 0, Bytes(expected.data(), expected.size()));
    EXPECT_EQ(transport.wire, expected);
}

TEST(TtcpTcp, WithoutCooperationOneBufferIsRewritten)
{
    for (char const* line :
        { "-t -R 5 -z cow -l 100 -n 4 host", "-t -R 5 -l 100 -n 4 host", "-t -s -z on -l 100 -n 4 host" }) {
        FakeTransport transport;
        transport.ring_slots = 3;
        EXPECT_EQ(run_main(line, transport), 0) << line;
        EXPECT_EQ(transport.last_buffer_length, 100u) << line;
        EXPECT_TRUE(transport.release_waits.empty()) << line;
        ASSERT_EQ(transport.send_addresses.size(), 4u);
        EXPECT_EQ(transport.send_addresses[3], transport.send_addresses[0]) << line;
    }
}

TEST(TtcpTcp, ConnectFailureIsReportedAndFreesTheBuffer)
{
    FakeTransport transport;
    transport.connect_error = Error::ConnectionRefused;
    EXPECT_EQ(run_main("-t -s host", transport), 1);
    EXPECT_TRUE(contains(transport.console, "ttcp-t: transfer failed: "));
    EXPECT_FALSE(contains(transport.console, "real seconds"));
    EXPECT_EQ(transport.buffers_live, 0);
}

// ---- UDP ----------------------------------------------------------------------------------------

TEST(TtcpUdp, TransmitFramesDataWithStartAndEndMarkers)
{
    FakeTransport transport;
    EXPECT_EQ(run_main("-t -u -s -l 1000 -n 7 host", transport), 0);
    ASSERT_EQ(transport.datagrams.size(), 1u + 7u + 5u);
    EXPECT_EQ(transport.datagrams.front().size(), 4u);
    for (usize i = 1; i <= 7; ++i)
        EXPECT_EQ(transport.datagrams[i].size(), 1000u);
    for (usize i = 8; i < transport.datagrams.size(); ++i)
        EXPECT_EQ(transport.datagrams[i].size(), 4u);
    EXPECT_TRUE(transport.settings.udp);
    EXPECT_TRUE(contains(transport.console, "ttcp-t: 7000 bytes in"));
    EXPECT_GT(transport.slept_ns, 0u); // gaps between the end markers
}

TEST(TtcpUdp, GapPacesEveryDataDatagram)
{
    FakeTransport paced;
    EXPECT_EQ(run_main("-t -u -s -l 100 -n 10 -w 2500 host", paced), 0);
    FakeTransport unpaced;
    EXPECT_EQ(run_main("-t -u -s -l 100 -n 10 host", unpaced), 0);
    // Ten data datagrams, 2.5 ms after each; the end-marker gaps are the same in both runs.
    EXPECT_EQ(paced.slept_ns - unpaced.slept_ns, 10u * 2500000u);
    EXPECT_EQ(paced.datagrams.size(), unpaced.datagrams.size());
}

TEST(TtcpUdp, ReceiveCountsOnlyDatagramsBetweenMarkers)
{
    FakeTransport sender;
    EXPECT_EQ(run_main("-t -u -H -R 8 -l 1000 -n 3 host", sender), 0);

    FakeTransport receiver;
    receiver.inbound_datagrams.push_back(std::vector<u8>(500, 'x')); // before the start: not counted
    for (auto const& datagram : sender.datagrams)
        receiver.inbound_datagrams.push_back(datagram);
    EXPECT_EQ(run_main("-r -u -s -H -R 8 -l 2000", receiver), 0);
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: 3000 bytes in")) << receiver.console;
    EXPECT_TRUE(contains(receiver.console, "payload matches seed 8: 3000 bytes checked"));
    // The start marker, three datagrams and the first end marker.
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: 5 I/O calls"));
    // The remaining four end markers are still queued: the receiver stopped at the first.
    EXPECT_EQ(receiver.inbound_datagrams.size(), 4u);

    auto digest_line = [](std::string const& console) { return console.substr(console.find("sha256 "), 72); };
    EXPECT_EQ(digest_line(sender.console), digest_line(receiver.console));
}

TEST(TtcpUdp, LostEndMarkerEndsAtTheIdleLimit)
{
    FakeTransport receiver;
    receiver.inbound_datagrams.push_back(std::vector<u8>(4, 0));
    receiver.inbound_datagrams.push_back(std::vector<u8>(100, 1));
    receiver.inbound_datagrams.push_back(std::vector<u8>(100, 2));
    // Then nothing: recvfrom() says TimedOut.
    EXPECT_EQ(run_main("-r -u -s", receiver), 0);
    EXPECT_TRUE(contains(receiver.console, "no end marker"));
    EXPECT_TRUE(contains(receiver.console, "ttcp-r: 200 bytes in"));
}
