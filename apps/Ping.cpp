// ping from the guest: ICMP echo requests (RFC 792) with the output a Linux user expects.
//
//   ping <address> [-c count] [-s size] [-i interval_ms] [-W timeout_s]

#include <apps/NetworkCommands.h>
#include <kernel/Time.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/Network.h>
#include <kernel/net/Sockets.h>
#include <kernel/sched/Scheduler.h>

namespace skiff::apps {

namespace {

constexpr u64 kDefaultCount = 4;
constexpr u64 kDefaultSize = 56; // Linux's default: 64 bytes of ICMP
constexpr u64 kMaxSize = 8192;
constexpr u64 kDefaultIntervalMs = 1000;
constexpr u64 kDefaultTimeoutS = 2;

u16 s_next_identifier = 0x5300; // console thread only

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

bool option_value(console::Arguments const& arguments, StringView flag, u64& value, u64 low, u64 high)
{
    StringView text = arguments.option(flag);
    if (text.is_empty())
        return !arguments.has_flag(flag);
    return parse_u64(text, value) && value >= low && value <= high;
}

int ping_command(console::Arguments const& arguments)
{
    u64 count = kDefaultCount, size = kDefaultSize, interval_ms = kDefaultIntervalMs, timeout_s = kDefaultTimeoutS;
    auto target = arguments.count() >= 2 ? net::Ipv4Address::parse(arguments[1])
                                         : Result<net::Ipv4Address>(Error::InvalidArgument);
    if (target.is_error() || !option_value(arguments, "-c", count, 1, 100000)
        || !option_value(arguments, "-s", size, 0, kMaxSize) || !option_value(arguments, "-i", interval_ms, 1, 60000)
        || !option_value(arguments, "-W", timeout_s, 1, 60)) {
        kprintln("usage: ping <address> [-c count] [-s size (0-{})] [-i interval_ms] [-W timeout_s]", kMaxSize);
        return 2;
    }
    if (!network_ready())
        return 1;
    net::Ipv4Address destination = target.value();
    IpText address(destination);
    u16 identifier = s_next_identifier++;
    kprintln("PING {} ({}) {}({}) bytes of data.", address.c_str(), address.c_str(), size, size + 28);

    u64 transmitted = 0, received = 0, errors = 0;
    u64 rtt_min = ~0ull, rtt_max = 0, rtt_sum = 0, rtt_square_sum = 0;
    u64 started = time::monotonic_ns();
    for (u64 sequence = 1; sequence <= count; ++sequence) {
        u64 sent_at = time::monotonic_ns();
        auto sent
            = knet::send_echo_request(destination, identifier, static_cast<u16>(sequence), static_cast<u16>(size));
        ++transmitted;
        if (sent.is_error()) {
            ++errors;
            kprintln("From {} icmp_seq={} {}", address.c_str(), sequence, sent.error());
        } else {
            auto reply = knet::wait_echo_reply(identifier, static_cast<u16>(sequence), timeout_s * 1000);
            if (reply.is_error()) {
                kprintln("no answer from {}: icmp_seq={} ({} s)", address.c_str(), sequence, timeout_s);
            } else {
                auto const& echo = reply.value();
                u64 received_at = echo.received_ns > sent_at ? echo.received_ns : time::monotonic_ns();
                u64 rtt_us = (received_at - sent_at) / 1000;
                ++received;
                rtt_min = min(rtt_min, rtt_us);
                rtt_max = max(rtt_max, rtt_us);
                rtt_sum += rtt_us;
                rtt_square_sum += rtt_us * rtt_us;
                kprintln("{} bytes from {}: icmp_seq={} ttl={} time={} ms{}", echo.length + 8,
                    IpText(echo.source).c_str(), sequence, echo.ttl, Millis(rtt_us).text,
                    echo.data_ok ? "" : " (wrong data)");
            }
        }
        if (sequence < count) {
            u64 elapsed_ms = (time::monotonic_ns() - sent_at) / 1000000;
            if (elapsed_ms < interval_ms)
                sched::sleep_ms(interval_ms - elapsed_ms);
        }
    }
    u64 total_ms = (time::monotonic_ns() - started) / 1000000;
    u64 loss = transmitted ? (transmitted - received) * 100 / transmitted : 0;
    kprintln("");
    kprintln("--- {} ping statistics ---", address.c_str());
    if (errors)
        kprintln("{} packets transmitted, {} received, +{} errors, {}% packet loss, time {}ms", transmitted, received,
            errors, loss, total_ms);
    else
        kprintln(
            "{} packets transmitted, {} received, {}% packet loss, time {}ms", transmitted, received, loss, total_ms);
    if (received) {
        u64 average = rtt_sum / received;
        u64 mean_square = rtt_square_sum / received;
        u64 mdev = integer_sqrt(mean_square > average * average ? mean_square - average * average : 0);
        kprintln("rtt min/avg/max/mdev = {}/{}/{}/{} ms", Millis(rtt_min).text, Millis(average).text,
            Millis(rtt_max).text, Millis(mdev).text);
    }
    return received == transmitted ? 0 : 1;
}

} // namespace

void register_ping_command()
{
    console::register_command({ "ping", "ping <address> [-c N] [-s size] [-i ms] [-W s]",
        "send ICMP echo requests and show the replies (default 4)", ping_command });
}

} // namespace skiff::apps
