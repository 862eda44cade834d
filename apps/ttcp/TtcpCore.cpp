#include <apps/ttcp/TtcpCore.h>

namespace skiff::ttcp {

namespace {

using u128 = unsigned __int128;

constexpr u64 kNanosecondsPerSecond = 1000000000;

// UDP markers: classic ttcp sends one 4-byte datagram before the data and five after it (one
// inside the timed region, four more after), so at least one end marker survives a lossy path.
constexpr usize kUdpMarkerLength = 4;
constexpr u32 kUdpEndMarkers = 5;
// A pause between the end markers lets a receiver that is still draining its queue catch up
// before the marker arrives; otherwise the marker is the datagram that gets dropped.
constexpr u64 kUdpEndMarkerGapNs = 1000000;

// ---- Output -------------------------------------------------------------------------------------

// Lines are assembled in a stack buffer and handed to the transport whole, so a console that
// prints synchronously never interleaves half lines.
class Line final : public FormatSink {
public:
    explicit Line(Role role)
    {
        append(role == Role::Transmit ? "ttcp-t: " : role == Role::Receive ? "ttcp-r: " : "ttcp: ");
    }
    void write(char const* chars, usize length) override
    {
        for (usize i = 0; i < length && m_length < sizeof(m_buffer); ++i)
            m_buffer[m_length++] = chars[i];
    }
    void append(StringView text) { write(text.chars(), text.length()); }
    void send_to(Transport& transport)
    {
        append("\n");
        transport.print({ m_buffer, m_length });
    }

private:
    char m_buffer[256];
    usize m_length { 0 };
};

template<typename... Args>
void say(Transport& transport, Role role, StringView format_string, Args const&... args)
{
    Line line(role);
    format(line, format_string, args...);
    line.send_to(transport);
}

// 128-bit division by shift and subtract. GCC compiles 128-bit shifts, adds and compares inline but
// calls libgcc's __udivti3 for `/`, and the kernel is better off not depending on libgcc for a few
// summary lines; 128 iterations per division is nothing at that rate.
u128 divide(u128 numerator, u128 denominator, u128& remainder)
{
    VERIFY(denominator != 0);
    u128 quotient = 0;
    remainder = 0;
    for (int bit = 127; bit >= 0; --bit) {
        remainder = (remainder << 1) | ((numerator >> bit) & 1);
        if (remainder >= denominator) {
            remainder -= denominator;
            quotient |= static_cast<u128>(1) << bit;
        }
    }
    return quotient;
}

void format_ratio_wide(FormatSink& sink, u128 numerator, u128 denominator, u32 decimals)
{
    if (denominator == 0)
        denominator = 1;
    u128 scale = 1;
    for (u32 i = 0; i < decimals; ++i)
        scale *= 10;
    // Round half up in the last printed digit.
    u128 remainder = 0;
    u128 scaled = divide(numerator * scale + (denominator >> 1), denominator, remainder);
    u128 whole = divide(scaled, scale, remainder);
    u64 fraction = static_cast<u64>(remainder);
    // A u64 whole part holds any rate a 64-bit byte count can produce; clamp rather than wrap.
    u64 whole64 = whole > static_cast<u128>(~u64(0)) ? ~u64(0) : static_cast<u64>(whole);
    format(sink, "{}", whole64);
    if (decimals == 0)
        return;
    char digits[24];
    for (u32 i = decimals; i > 0; --i) {
        digits[i - 1] = static_cast<char>('0' + fraction % 10);
        fraction /= 10;
    }
    sink.write(".", 1);
    sink.write(digits, decimals);
}

void format_address(FormatSink& sink, u32 address)
{
    format(sink, "{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff, address & 0xff);
}

StringView zero_copy_name(ZeroCopy mode)
{
    switch (mode) {
    case ZeroCopy::On: return "on";
    case ZeroCopy::Off: return "off";
    case ZeroCopy::Cow: return "cow";
    case ZeroCopy::Default: break;
    }
    return "default";
}

// ---- Option parsing ---------------------------------------------------------------------------

bool parse_number(StringView text, u64 maximum, u64& out)
{
    u64 value = 0;
    if (!parse_u64(text, value) || value > maximum)
        return false;
    out = value;
    return true;
}

Result<void> apply_option(Options& options, char flag, StringView value, FormatSink& diagnostics)
{
    u64 number = 0;
    switch (flag) {
    case 'l':
        // The buffer is allocated whole; 1 MiB is far past any useful I/O size.
        if (!parse_number(value, 1 << 20, number) || number == 0) {
            format(diagnostics, "-l wants a buffer length from 1 to 1048576, not '{}'", value);
            return Error::InvalidArgument;
        }
        options.buffer_length = static_cast<u32>(number);
        return {};
    case 'n':
        if (!parse_number(value, 0xffffffffu, number) || number == 0) {
            format(diagnostics, "-n wants a buffer count from 1 to 4294967295, not '{}'", value);
            return Error::InvalidArgument;
        }
        options.buffer_count = static_cast<u32>(number);
        return {};
    case 'p':
        if (!parse_number(value, 65535, number) || number == 0) {
            format(diagnostics, "-p wants a port from 1 to 65535, not '{}'", value);
            return Error::InvalidArgument;
        }
        options.port = static_cast<u16>(number);
        return {};
    case 'z':
        if (value == "on") {
            options.zero_copy = ZeroCopy::On;
        } else if (value == "off") {
            options.zero_copy = ZeroCopy::Off;
        } else if (value == "cow") {
            options.zero_copy = ZeroCopy::Cow;
        } else {
            format(diagnostics, "-z wants on, off or cow, not '{}'", value);
            return Error::InvalidArgument;
        }
        return {};
    case 'R':
        if (!parse_u64(value, number)) {
            format(diagnostics, "-R wants a seed (decimal or 0x hex), not '{}'", value);
            return Error::InvalidArgument;
        }
        options.random = true;
        options.seed = number;
        return {};
    case 'w':
        // Up to a second between datagrams; anything longer is not a throughput test.
        if (!parse_number(value, 1000000, number)) {
            format(diagnostics, "-w wants microseconds from 0 to 1000000, not '{}'", value);
            return Error::InvalidArgument;
        }
        options.udp_gap_us = static_cast<u32>(number);
        return {};
    case 'f':
        if (value.length() != 1 || StringView("kKmMgG").find(value[0]) < 0) {
            format(diagnostics, "-f wants one of k K m M g G, not '{}'", value);
            return Error::InvalidArgument;
        }
        options.rate_unit = value[0];
        return {};
    }
    VERIFY_NOT_REACHED();
}

bool takes_value(char flag)
{
    return StringView("lnpzRfw").find(flag) >= 0;
}

} // namespace

// ---- Payloads -----------------------------------------------------------------------------------

void fill_pattern(Bytes buffer)
{
    // Classic ttcp's pattern(): printable ASCII from ' ' to '~', over and over.
    u8 c = ' ';
    for (u8& byte : buffer) {
        byte = c;
        c = c == '~' ? ' ' : static_cast<u8>(c + 1);
    }
}

namespace {

// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
// a counter run through a strong mixer, so word k of the stream costs the same however far in.
constexpr u64 splitmix64(u64 x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

constexpr u64 random_word(u64 seed, u64 index)
{
    return splitmix64(seed ^ (index * 0xd1342543de82ef95ull));
}

} // namespace

void fill_random(u64 seed, u64 offset, Bytes buffer)
{
    // The stream is little-endian 64-bit words: byte `offset` is byte offset % 8 of word offset / 8.
    usize i = 0;
    u64 index = offset / 8;
    u32 skip = static_cast<u32>(offset % 8);
    while (i < buffer.size()) {
        u64 word = random_word(seed, index++) >> (8 * skip);
        for (u32 b = skip; b < 8 && i < buffer.size(); ++b) {
            buffer[i++] = static_cast<u8>(word);
            word >>= 8;
        }
        skip = 0;
    }
}

void format_ratio(FormatSink& sink, u64 numerator, u64 denominator, u32 decimals)
{
    VERIFY(decimals <= 18);
    format_ratio_wide(sink, numerator, denominator, decimals);
}

void format_rate(FormatSink& sink, u64 bytes, u64 elapsed_ns, char unit)
{
    u128 per_second = static_cast<u128>(bytes) * kNanosecondsPerSecond;
    u128 divisor = elapsed_ns ? elapsed_ns : 1;
    StringView label;
    switch (unit) {
    case 'k': per_second *= 8, divisor *= 1024, label = " Kbit"; break;
    case 'm': per_second *= 8, divisor *= 1024 * 1024, label = " Mbit"; break;
    case 'g': per_second *= 8, divisor *= 1024 * 1024 * 1024, label = " Gbit"; break;
    case 'M': divisor *= 1024 * 1024, label = " MB"; break;
    case 'G': divisor *= 1024 * 1024 * 1024, label = " GB"; break;
    default: divisor *= 1024, label = " KB"; break;
    }
    format_ratio_wide(sink, per_second, divisor, 2);
    sink.write(label.chars(), label.length());
}

StringView usage()
{
    return "Usage: ttcp -t [-options] host [< in]\n"
           "       ttcp -r [-options] [> out]\n"
           "Common options:\n"
           "  -l ##    length of the I/O buffers (default 8192)\n"
           "  -u       use UDP instead of TCP\n"
           "  -p ##    port number (default 5001)\n"
           "  -s       -t: send a pattern instead of stdin; -r: discard instead of writing stdout\n"
           "  -f X     rate unit: k,K = kilo(bit,byte); m,M = mega; g,G = giga (default K)\n"
           "  -z on|off|cow  copy elimination for this run's socket (Skiff guests; the host ignores it);\n"
           "             on: with -R, rewrite a buffer only once the stack released it; cow: rely on COW\n"
           "  -H       print the SHA-256 of everything sent or received\n"
           "  -R ##    seeded pseudo-random payload (-t) / check the payload against it (-r)\n"
           "Options specific to -t:\n"
           "  -n ##    number of buffers to send with -s or -R (default 2048)\n"
           "  -D       don't buffer TCP writes (TCP_NODELAY)\n"
           "  -w ##    UDP: wait ## microseconds after each datagram (pacing for slow receivers)\n";
}

Result<Options> parse_options(Span<StringView const> arguments, FormatSink& diagnostics)
{
    Options options;
    usize i = 0;
    for (; i < arguments.size(); ++i) {
        StringView word = arguments[i];
        if (word.length() < 2 || word[0] != '-')
            break; // the first operand
        if (word == "--") {
            ++i;
            break;
        }
        // A cluster of single-letter flags; one that takes a value ends the cluster, and its value
        // is either the rest of the word or the next word.
        for (usize j = 1; j < word.length(); ++j) {
            char flag = word[j];
            if (takes_value(flag)) {
                StringView value;
                if (j + 1 < word.length()) {
                    value = word.substring(j + 1);
                } else if (i + 1 < arguments.size()) {
                    value = arguments[++i];
                } else {
                    format(diagnostics, "-{} needs a value", flag);
                    return Error::InvalidArgument;
                }
                TRY(apply_option(options, flag, value, diagnostics));
                break;
            }
            switch (flag) {
            case 't':
            case 'r': {
                Role role = flag == 't' ? Role::Transmit : Role::Receive;
                if (options.role != Role::None && options.role != role) {
                    format(diagnostics, "-t and -r cannot both be given");
                    return Error::InvalidArgument;
                }
                options.role = role;
                break;
            }
            case 'u': options.udp = true; break;
            case 's': options.sink_source = true; break;
            case 'H': options.hash = true; break;
            case 'D': options.nodelay = true; break;
            default: format(diagnostics, "unknown option -{}", flag); return Error::InvalidArgument;
            }
        }
    }
    if (options.role == Role::None) {
        format(diagnostics, "either -t or -r must be given");
        return Error::InvalidArgument;
    }
    usize operands = arguments.size() - i;
    if (options.role == Role::Transmit) {
        if (operands != 1) {
            format(diagnostics, "-t needs exactly one host to send to");
            return Error::InvalidArgument;
        }
        options.host = arguments[i];
    } else if (operands != 0) {
        format(diagnostics, "-r takes no host, but got '{}'", arguments[i]);
        return Error::InvalidArgument;
    }
    // A UDP buffer must be longer than the 4-byte markers to count as data (classic ttcp raises it
    // to 5 silently; saying so is kinder).
    if (options.udp && options.buffer_length <= kUdpMarkerLength) {
        format(diagnostics, "-u needs -l of at least 5: datagrams of 4 bytes or fewer are start/end markers");
        return Error::InvalidArgument;
    }
    return options;
}

// ---- The transfer -------------------------------------------------------------------------------

namespace {

class Run {
public:
    // `buffer` holds `slots` I/O buffers of the run's length, one after the other.
    Run(Options const& options, Transport& transport, Bytes buffer, u32 slots)
        : m_options(options)
        , m_transport(transport)
        , m_buffer(buffer.first(options.buffer_length))
        , m_ring(buffer)
        , m_slots(slots)
    {
    }

    Result<Report> execute()
    {
        print_banner();
        SocketSettings settings;
        settings.udp = m_options.udp;
        settings.nodelay = m_options.nodelay;
        settings.zero_copy = m_options.zero_copy;
        settings.buffer_length = m_options.buffer_length;
        settings.role = m_options.role;

        if (m_options.role == Role::Transmit) {
            TRY(m_transport.connect(m_options.host, m_options.port, settings));
            if (!m_options.udp)
                say(m_transport, m_options.role, "connect");
            TRY(m_options.udp ? transmit_udp() : transmit_tcp());
        } else {
            TRY(m_transport.listen(m_options.port, settings));
            if (m_options.udp) {
                TRY(receive_udp());
            } else {
                Peer peer = TRY(m_transport.accept());
                Line line(m_options.role);
                line.append("accept from ");
                format_address(line, peer.address);
                line.send_to(m_transport);
                TRY(receive_tcp());
            }
        }
        m_transport.close();
        if (m_hashing) {
            m_report.hashed = true;
            m_report.digest = m_sha.finish();
        }
        return m_report;
    }

private:
    bool sourcing() const { return m_options.sink_source || m_options.random; }

    void print_banner()
    {
        Line line(m_options.role);
        format(line, "buflen={}, nbuf={}, port={}  {}", m_options.buffer_length, m_options.buffer_count, m_options.port,
            m_options.udp ? "udp" : "tcp");
        if (m_options.role == Role::Transmit)
            format(line, "  -> {}", m_options.host);
        if (m_options.zero_copy != ZeroCopy::Default)
            format(line, "  zc={}", zero_copy_name(m_options.zero_copy));
        if (m_options.random)
            format(line, "  seed={}", m_options.seed);
        line.send_to(m_transport);
    }

    // The next transmit buffer's contents: the pattern once, random data every time, stdin else.
    // Returns how many bytes to send; 0 means the input is exhausted.
    Result<usize> next_transmit_buffer(u64 sent_so_far)
    {
        if (m_options.random) {
            fill_random(m_options.seed, sent_so_far, m_buffer);
            return m_buffer.size();
        }
        if (m_options.sink_source)
            return m_buffer.size();
        return m_transport.read_input(m_buffer);
    }

    void account(ReadonlyBytes payload)
    {
        if (m_hashing)
            m_sha.update(payload);
        if (m_options.random && m_options.role == Role::Receive)
            check_random(payload);
        m_report.bytes += payload.size();
    }

    // -R on the receiver: compare against the stream the transmitter was told to send, a block at
    // a time, remembering only the first difference.
    void check_random(ReadonlyBytes payload)
    {
        if (m_report.check == Report::Check::Mismatched)
            return;
        m_report.check = Report::Check::Matched;
        u8 expected[256];
        for (usize done = 0; done < payload.size();) {
            usize n = min(payload.size() - done, sizeof(expected));
            fill_random(m_options.seed, m_report.bytes + done, { expected, n });
            for (usize k = 0; k < n; ++k) {
                if (expected[k] != payload[done + k]) {
                    m_report.check = Report::Check::Mismatched;
                    m_report.first_mismatch = m_report.bytes + done + k;
                    return;
                }
            }
            done += n;
        }
    }

    Result<void> send_all(ReadonlyBytes data)
    {
        while (!data.is_empty()) {
            usize sent = TRY(m_transport.send(data));
            ++m_report.calls;
            VERIFY(sent > 0 && sent <= data.size());
            data = data.slice(sent);
        }
        return {};
    }

    Result<void> transmit_tcp()
    {
        if (m_options.sink_source && !m_options.random)
            fill_pattern(m_buffer);
        u64 start = m_transport.now_ns();
        for (u64 count = 0; !sourcing() || count < m_options.buffer_count; ++count) {
            if (m_slots > 1) {
                // The ring (-R with the completion report): this slot last held the stream's bytes
                // up to (slots - 1) buffers ago; rewrite it once the stack has let them go.
                u64 length = m_options.buffer_length;
                m_buffer = m_ring.slice(static_cast<usize>(count % m_slots) * length, length);
                if (count >= m_slots) {
                    TRY(m_transport.wait_send_released(m_report.bytes - (m_slots - 1) * length));
                    m_transport.prepare_rewrite(m_buffer);
                }
            }
            usize length = TRY(next_transmit_buffer(m_report.bytes));
            if (length == 0)
                break;
            ReadonlyBytes data = m_buffer.first(length);
            TRY(send_all(data));
            account(data);
        }
        m_report.elapsed_ns = m_transport.now_ns() - start;
        return {};
    }

    Result<void> send_datagram(ReadonlyBytes datagram)
    {
        ++m_report.calls;
        usize sent = TRY(m_transport.sendto(datagram));
        if (sent != datagram.size())
            return Error::MessageTooLong;
        return {};
    }

    Result<void> transmit_udp()
    {
        u8 marker[kUdpMarkerLength] = { 'S', 'K', 'I', 'F' };
        if (m_options.sink_source && !m_options.random)
            fill_pattern(m_buffer);
        u64 start = m_transport.now_ns();
        TRY(send_datagram(ReadonlyBytes(marker, sizeof(marker))));
        for (u64 count = 0; !sourcing() || count < m_options.buffer_count; ++count) {
            usize length = TRY(next_transmit_buffer(m_report.bytes));
            if (length == 0)
                break;
            // A short read from stdin of 4 bytes or fewer would read as a marker; pad it out.
            ReadonlyBytes data = m_buffer.first(max(length, kUdpMarkerLength + 1));
            TRY(send_datagram(data));
            account(data);
            // UDP has no flow control: a receiver slower than the sender (an NE2000's 16 KiB
            // on-card ring fills in ten frames) drops the rest of a burst. -w spaces them out.
            if (m_options.udp_gap_us)
                m_transport.sleep_ns(u64(m_options.udp_gap_us) * 1000);
        }
        TRY(send_datagram(ReadonlyBytes(marker, sizeof(marker))));
        m_report.elapsed_ns = m_transport.now_ns() - start;
        for (u32 i = 1; i < kUdpEndMarkers; ++i) {
            m_transport.sleep_ns(kUdpEndMarkerGapNs);
            TRY(send_datagram(ReadonlyBytes(marker, sizeof(marker))));
        }
        return {};
    }

    Result<void> deliver(ReadonlyBytes payload)
    {
        account(payload);
        if (!m_options.sink_source)
            TRY(m_transport.write_output(payload));
        return {};
    }

    Result<void> receive_tcp()
    {
        u64 start = m_transport.now_ns();
        for (;;) {
            Bytes received = TRY(m_transport.recv_placed(m_buffer));
            ++m_report.calls;
            if (received.is_empty())
                break;
            TRY(deliver(received));
        }
        m_report.elapsed_ns = m_transport.now_ns() - start;
        return {};
    }

    Result<void> receive_udp()
    {
        bool going = false;
        u64 start = 0;
        u64 last_data = 0;
        for (;;) {
            Peer from;
            auto received = m_transport.recvfrom(m_buffer, from);
            if (received.is_error()) {
                if (received.error() != Error::TimedOut)
                    return received.error();
                if (!going)
                    continue; // still waiting for a transmitter
                // The data stopped and no end marker came: it was lost. Time to the last datagram.
                say(m_transport, m_options.role, "no end marker after the data stopped; ending there");
                m_report.elapsed_ns = last_data - start;
                return {};
            }
            usize length = received.value();
            if (!going && length > kUdpMarkerLength)
                continue; // data from before the start marker: not this run's to count
            ++m_report.calls;
            if (length <= kUdpMarkerLength) {
                if (going)
                    break; // the end marker
                going = true;
                start = m_transport.now_ns();
                last_data = start;
                continue;
            }
            TRY(deliver(m_buffer.first(length)));
            last_data = m_transport.now_ns();
        }
        m_report.elapsed_ns = m_transport.now_ns() - start;
        return {};
    }

    Options const& m_options;
    Transport& m_transport;
    Bytes m_buffer; // the I/O buffer in use: the ring's first, or its current slot
    Bytes m_ring;
    u32 m_slots { 1 };
    Report m_report;
    bool m_hashing { m_options.hash };
    Sha256 m_sha;
};

void print_summary(Options const& options, Transport& transport, Report const& report)
{
    Line bytes_line(options.role);
    format(bytes_line, "{} bytes in ", report.bytes);
    // Seconds with two decimals, as "%.2f" prints them.
    format_ratio(bytes_line, report.elapsed_ns, kNanosecondsPerSecond, 2);
    bytes_line.append(" real seconds = ");
    format_rate(bytes_line, report.bytes, report.elapsed_ns, options.rate_unit);
    bytes_line.append("/sec +++");
    bytes_line.send_to(transport);

    // Classic ttcp multiplies by 1024 where it means 1000 in msec/call; this prints milliseconds.
    Line calls_line(options.role);
    format(calls_line, "{} I/O calls, msec/call = ", report.calls);
    format_ratio_wide(calls_line, report.elapsed_ns, static_cast<u128>(report.calls ? report.calls : 1) * 1000000, 2);
    calls_line.append(", calls/sec = ");
    format_ratio_wide(calls_line, static_cast<u128>(report.calls) * kNanosecondsPerSecond, report.elapsed_ns, 2);
    calls_line.send_to(transport);

    if (report.hashed) {
        char hex[Sha256Digest::kHexSize];
        say(transport, options.role, "sha256 {} ({} bytes)", report.digest.to_hex(hex), report.bytes);
    }
    if (report.check == Report::Check::Matched)
        say(transport, options.role, "payload matches seed {}: {} bytes checked", options.seed, report.bytes);
    else if (report.check == Report::Check::Mismatched)
        say(transport, options.role, "PAYLOAD MISMATCH against seed {}: first wrong byte at offset {}", options.seed,
            report.first_mismatch);
    else if (options.random && options.role == Role::Receive)
        say(transport, options.role, "PAYLOAD MISMATCH against seed {}: nothing arrived to check", options.seed);
}

} // namespace

Result<Report> run(Options const& options, Transport& transport)
{
    // Only a TCP transmitter that rewrites its buffer for every send (-R) needs a ring, and only
    // one that cooperates with the stack (-z on) uses one; -z cow leaves the rewrites to COW.
    bool rewrites = options.role == Role::Transmit && !options.udp && options.random;
    u32 slots = rewrites && options.zero_copy == ZeroCopy::On ? max(1u, transport.send_ring_slots(options)) : 1;
    Bytes buffer = TRY(transport.allocate_buffer(usize { options.buffer_length } * slots));
    Run transfer(options, transport, buffer, slots);
    auto report = transfer.execute();
    if (report.is_error())
        transport.close();
    transport.free_buffer(buffer);
    if (report.is_error())
        return report.error();
    print_summary(options, transport, report.value());
    return report;
}

int main(Span<StringView const> arguments, Transport& transport)
{
    Line diagnostics(Role::None);
    auto options = parse_options(arguments, diagnostics);
    if (options.is_error()) {
        diagnostics.send_to(transport);
        transport.print(usage());
        return 2;
    }
    bool uses_streams
        = !options.value().sink_source && !(options.value().random && options.value().role == Role::Transmit);
    if (uses_streams && !transport.has_standard_streams()) {
        options.value().sink_source = true;
        say(transport, options.value().role, "no stdin/stdout here: -s implied");
    }
    auto report = run(options.value(), transport);
    if (report.is_error()) {
        say(transport, options.value().role, "transfer failed: {}", report.error());
        return 1;
    }
    bool payload_wrong = options.value().random && options.value().role == Role::Receive
        && report.value().check != Report::Check::Matched;
    return payload_wrong ? 1 : 0;
}

} // namespace skiff::ttcp
