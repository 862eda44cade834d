// ping: ICMP echo requests (RFC 792) through a Ping socket (lib/Abi.h), with the output a Linux
// user expects. The console's `ping ...` runs this program in the foreground.
//
//   ping <address> [-c count] [-s size] [-i interval_ms] [-W timeout_s]

#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>

namespace skiff::user {

namespace {

constexpr u64 kDefaultCount = 4;
constexpr u64 kDefaultSize = 56; // Linux's default: 64 bytes of ICMP
constexpr u64 kMaxSize = 8192;
constexpr u64 kDefaultIntervalMs = 1000;
constexpr u64 kDefaultTimeoutS = 2;

u64 integer_sqrt(u64 value)
{
    u64 root = 0;
    u64 bit = 1ull << 62;
    while (bit > value)
        bit >>= 2;
    while (bit) {
        if (value >= root + bit) {
            value -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

// Microseconds as "0.512" milliseconds.
struct Millis {
    explicit Millis(u64 microseconds)
    {
        format_to(text, sizeof(text), "{}.{:03}", microseconds / 1000, microseconds % 1000);
    }
    char text[24];
};

struct Dotted {
    explicit Dotted(u32 address)
    {
        format_to(text, sizeof(text), "{}.{}.{}.{}", address >> 24, (address >> 16) & 255, (address >> 8) & 255,
            address & 255);
    }
    char text[16];
};

// "-c 5": the value after `flag` within [low, high]; true when absent (value unchanged).
bool option_value(Span<StringView const> arguments, StringView flag, u64& value, u64 low, u64 high)
{
    for (usize i = 2; i < arguments.size(); ++i) {
        if (arguments[i] != flag)
            continue;
        return i + 1 < arguments.size() && parse_u64(arguments[i + 1], value) && value >= low && value <= high;
    }
    return true;
}

} // namespace

int main(Span<StringView const> arguments)
{
    u64 count = kDefaultCount, size = kDefaultSize, interval_ms = kDefaultIntervalMs, timeout_s = kDefaultTimeoutS;
    u32 destination = 0;
    if (arguments.size() < 2 || !parse_ipv4(arguments[1], destination)
        || !option_value(arguments, "-c", count, 1, 100000) || !option_value(arguments, "-s", size, 0, kMaxSize)
        || !option_value(arguments, "-i", interval_ms, 1, 60000) || !option_value(arguments, "-W", timeout_s, 1, 60)) {
        println("usage: ping <address> [-c count] [-s size (0-{})] [-i interval_ms] [-W timeout_s]", kMaxSize);
        return 2;
    }
    auto opened = socket(abi::SocketType::Ping);
    if (opened.is_error()) {
        println("ping: {}", opened.error());
        return 1;
    }
    i64 ping = opened.value();
    (void)set_option(ping, abi::SocketOption::ReceiveTimeout, timeout_s * 1000);
    Dotted address(destination);
    println("PING {} ({}) {}({}) bytes of data.", address.text, address.text, size, size + 28);

    u64 transmitted = 0, received = 0, errors = 0;
    u64 rtt_min = ~0ull, rtt_max = 0, rtt_sum = 0, rtt_square_sum = 0;
    u64 started = clock_ns();
    for (u64 sequence = 1; sequence <= count; ++sequence) {
        u64 sent_at = clock_ns();
        auto sent = send_to(ping, { static_cast<u8 const*>(nullptr), size }, { destination, 0 }, sequence << 16);
        ++transmitted;
        if (sent.is_error()) {
            ++errors;
            println("From {} icmp_seq={} {}", address.text, sequence, sent.error());
        } else {
            abi::PingReply echo {};
            auto reply = receive_from(ping, { reinterpret_cast<u8*>(&echo), sizeof(echo) }, nullptr, sequence << 16);
            if (reply.is_error()) {
                if (reply.error() == Error::Interrupted)
                    break;
                println("no answer from {}: icmp_seq={} ({} s)", address.text, sequence, timeout_s);
            } else {
                u64 received_at = echo.received_ns > sent_at ? echo.received_ns : clock_ns();
                u64 rtt_us = (received_at - sent_at) / 1000;
                ++received;
                rtt_min = min(rtt_min, rtt_us);
                rtt_max = max(rtt_max, rtt_us);
                rtt_sum += rtt_us;
                rtt_square_sum += rtt_us * rtt_us;
                println("{} bytes from {}: icmp_seq={} ttl={} time={} ms{}", echo.length + 8, Dotted(echo.source).text,
                    sequence, echo.ttl, Millis(rtt_us).text, echo.data_ok ? "" : " (wrong data)");
            }
        }
        if (sequence < count) {
            u64 elapsed_ms = (clock_ns() - sent_at) / 1000000;
            if (elapsed_ms < interval_ms)
                sleep_ms(interval_ms - elapsed_ms);
        }
    }
    u64 total_ms = (clock_ns() - started) / 1000000;
    u64 loss = transmitted ? (transmitted - received) * 100 / transmitted : 0;
    println("");
    println("--- {} ping statistics ---", address.text);
    if (errors)
        println("{} packets transmitted, {} received, +{} errors, {}% packet loss, time {}ms", transmitted, received,
            errors, loss, total_ms);
    else
        println(
            "{} packets transmitted, {} received, {}% packet loss, time {}ms", transmitted, received, loss, total_ms);
    if (received) {
        u64 average = rtt_sum / received;
        u64 mean_square = rtt_square_sum / received;
        u64 mdev = integer_sqrt(mean_square > average * average ? mean_square - average * average : 0);
        println("rtt min/avg/max/mdev = {}/{}/{}/{} ms", Millis(rtt_min).text, Millis(average).text,
            Millis(rtt_max).text, Millis(mdev).text);
    }
    (void)close(ping);
    return received == transmitted ? 0 : 1;
}

} // namespace skiff::user
