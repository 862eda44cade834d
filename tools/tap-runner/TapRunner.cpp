// skiff-tap-runner: Skiff's network stack (net/, unchanged) as a Linux program on a tap device.
//
//   skiff-tap-runner --tap skiff0 [--cmdline "ip=10.0.2.15/24 gw=10.0.2.2"] [--max-seconds N]
//                    [--loss P] [--dup P] [--reorder P] [--seed S]
//
// Services: UDP echo on port 7; TCP echo on 7, discard on 9, a ttcp-style sink on 5001 (what
// `iperf -c` and `ttcp -t` send to) and a source on 5002 (sends until the peer closes, at most
// --source-bytes). Prints "ready" on stdout once the interface is up, runs until
// SIGTERM/SIGINT or --max-seconds, then prints the stack's non-zero counters on stderr.
// Run it only inside a network namespace (tests/net/host/ does): it uses a tap interface that
// must already exist there.

#include "HostPort.h"
#include "TapDevice.h"

#include <net/NetStack.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <poll.h>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace skiff;
using namespace skiff::net;

namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int)
{
    g_stop = 1;
}

u64 monotonic_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<u64>(ts.tv_sec) * 1000000000ull + static_cast<u64>(ts.tv_nsec);
}

struct Options {
    std::string tap { "skiff0" };
    std::string cmdline { "ip=10.0.2.15/24 gw=10.0.2.2" };
    unsigned max_seconds { 600 };
    FaultConfig faults;
    unsigned long long source_bytes { 1ull << 30 };
    bool zero_copy { false };
};

bool parse_options(int argc, char** argv, Options& o)
{
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> char const* { return i + 1 < argc ? argv[++i] : nullptr; };
        char const* v = nullptr;
        if (arg == "--tap" && (v = value()))
            o.tap = v;
        else if (arg == "--cmdline" && (v = value()))
            o.cmdline = v;
        else if (arg == "--max-seconds" && (v = value()))
            o.max_seconds = static_cast<unsigned>(std::atoi(v));
        else if (arg == "--loss" && (v = value()))
            o.faults.loss_percent = static_cast<unsigned>(std::atoi(v));
        else if (arg == "--dup" && (v = value()))
            o.faults.duplicate_percent = static_cast<unsigned>(std::atoi(v));
        else if (arg == "--reorder" && (v = value()))
            o.faults.reorder_percent = static_cast<unsigned>(std::atoi(v));
        else if (arg == "--source-bytes" && (v = value()))
            o.source_bytes = std::strtoull(v, nullptr, 0);
        else if (arg == "--zero-copy")
            o.zero_copy = true;
        else if (arg == "--seed" && (v = value()))
            o.faults.seed = std::strtoull(v, nullptr, 0);
        else
            return false;
    }
    return true;
}

void serve_udp_echo(UdpSocket& socket)
{
    static u8 buffer[65536];
    for (;;) {
        SocketAddress from;
        auto received = socket.recvfrom({ buffer, sizeof buffer }, &from);
        if (received.is_error())
            return;
        (void)socket.sendto({ buffer, received.value() }, from);
    }
}

enum class Service { Echo, Discard, Sink, Source };

struct Connection {
    TcpSocket* socket;
    Service service;
    std::vector<u8> pending; // echo: bytes received and not yet sent back
    unsigned long long sourced { 0 };
    bool peer_closed { false };
};

struct Listener {
    TcpSocket* socket;
    Service service;
};

// Serves one connection; returns false once it is finished and closed.
bool serve(Connection& c, Options const& options, unsigned long long& sink_bytes, u8 const* source_block)
{
    static u8 buffer[65536];
    constexpr size_t kSourceBlock = 65536;
    TcpSocket& s = *c.socket;
    for (int rounds = 0; rounds < 64; ++rounds) {
        if (c.service == Service::Echo && c.pending.size() > (1u << 20))
            break; // back-pressure: stop reading until the echo drains
        auto n = s.recv({ buffer, sizeof buffer });
        if (n.is_error()) {
            if (n.error() != Error::WouldBlock) {
                s.close();
                return false;
            }
            break;
        }
        if (n.value() == 0) {
            c.peer_closed = true;
            break;
        }
        if (c.service == Service::Echo)
            c.pending.insert(c.pending.end(), buffer, buffer + n.value());
        else
            sink_bytes += n.value();
    }
    if (c.service == Service::Echo) {
        while (!c.pending.empty()) {
            auto sent = s.send({ c.pending.data(), c.pending.size() });
            if (sent.is_error())
                break;
            c.pending.erase(c.pending.begin(), c.pending.begin() + static_cast<long>(sent.value()));
        }
    }
    if (c.service == Service::Source && !c.peer_closed) {
        while (c.sourced < options.source_bytes) {
            size_t want = std::min<unsigned long long>(kSourceBlock, options.source_bytes - c.sourced);
            auto sent = s.send({ source_block, want });
            if (sent.is_error())
                break;
            c.sourced += sent.value();
        }
        if (c.sourced >= options.source_bytes)
            c.peer_closed = true;
    }
    if (s.state() == TcpState::Closed) {
        s.close();
        return false;
    }
    if (c.peer_closed && c.pending.empty()) {
        s.close(); // FIN after everything was queued
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    Options options;
    if (!parse_options(argc, argv, options)) {
        std::fprintf(stderr,
            "usage: %s --tap NAME [--cmdline \"ip=A/P gw=G\"] [--max-seconds N] [--loss P] [--dup P] [--reorder P] "
            "[--seed S]\n",
            argv[0]);
        return 2;
    }
    auto config = NetConfig::parse({ options.cmdline.c_str(), options.cmdline.size() });
    if (config.is_error()) {
        std::fprintf(stderr, "bad --cmdline: %s\n", error_name(config.error()));
        return 2;
    }
    int fd = TapDevice::open_tap(options.tap.c_str());
    if (fd < 0) {
        std::perror("open tap");
        return 1;
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    HostPort port(options.faults.seed ^ 0x5eed);
    // The source service's data, in a zero-copy buffer: with --zero-copy its sends pin it.
    u8* source_block = port.allocate_zero_copy_buffer(65536);
    auto* stack = new NetStack(port);
    PoolSizes sizes;
    sizes.transmit = 1024;
    sizes.receive = 1024;
    MUST(stack->initialize(sizes));
    // A locally administered MAC (the 0x02 bit), QEMU-like.
    TapDevice device(fd, { { 0x52, 0x54, 0x00, 0x5c, 0x1f, 0x01 } }, options.faults);
    MUST(stack->attach(device, config.value()));
    device.set_link_up(true);

    UdpSocket* echo = MUST(stack->udp().open());
    MUST(echo->bind({ {}, 7 }));

    std::vector<Listener> listeners;
    for (auto [port_number, service] : { std::pair { 7, Service::Echo }, std::pair { 9, Service::Discard },
             std::pair { 5001, Service::Sink }, std::pair { 5002, Service::Source } }) {
        TcpSocket* listener = MUST(stack->tcp().open());
        listener->set_buffer_sizes(1u << 20, 1u << 20);
        // Copy elimination only where the sent bytes stay untouched until acknowledged (the
        // source's constant block): the host port cannot write-protect pages as the kernel does.
        listener->set_zero_copy(options.zero_copy && service == Service::Source);
        MUST(listener->bind({ {}, static_cast<u16>(port_number) }));
        MUST(listener->listen(16));
        listeners.push_back({ listener, service });
    }
    std::vector<Connection> connections;
    unsigned long long sink_bytes = 0;

    std::printf("ready\n");
    std::fflush(stdout);

    u64 start = monotonic_ns();
    u64 end = start + static_cast<u64>(options.max_seconds) * 1000000000ull;
    while (!g_stop) {
        u64 now = monotonic_ns();
        if (now >= end)
            break;
        u64 deadline = std::min<u64>(stack->next_deadline(), now + 10000000ull);
        int timeout_ms = deadline > now ? static_cast<int>((deadline - now + 999999) / 1000000) : 0;
        pollfd p { fd, POLLIN, 0 };
        ::poll(&p, 1, timeout_ms);
        now = monotonic_ns();
        device.flush_held(now);
        device.poll_rx(256);
        stack->poll(now);
        serve_udp_echo(*echo);
        for (Listener& l : listeners) {
            for (;;) {
                auto accepted = l.socket->accept();
                if (accepted.is_error())
                    break;
                connections.push_back({ accepted.value(), l.service, {}, 0, false });
            }
        }
        for (size_t i = 0; i < connections.size();) {
            if (serve(connections[i], options, sink_bytes, source_block))
                ++i;
            else
                connections.erase(connections.begin() + static_cast<long>(i));
        }
        stack->poll(monotonic_ns()); // send what serving queued without waiting for the next wake
    }
    std::fprintf(stderr, "%-28s %llu\n", "tcp_sink_bytes", sink_bytes);
    for (Connection& c : connections)
        c.socket->abort();
    for (Listener& l : listeners)
        l.socket->close();

    stack->counters().for_each([](char const* name, u64 value) {
        if (value)
            std::fprintf(stderr, "%-28s %llu\n", name, static_cast<unsigned long long>(value));
    });
    FaultCounters const& rx = device.rx_faults();
    FaultCounters const& tx = device.tx_faults();
    if (rx.dropped + rx.duplicated + rx.reordered + tx.dropped + tx.duplicated + tx.reordered)
        std::fprintf(stderr, "faults rx drop/dup/reorder %llu/%llu/%llu tx %llu/%llu/%llu\n",
            static_cast<unsigned long long>(rx.dropped), static_cast<unsigned long long>(rx.duplicated),
            static_cast<unsigned long long>(rx.reordered), static_cast<unsigned long long>(tx.dropped),
            static_cast<unsigned long long>(tx.duplicated), static_cast<unsigned long long>(tx.reordered));
    echo->close();
    stack->shutdown();
    delete stack;
    ::close(fd);
    return 0;
}
