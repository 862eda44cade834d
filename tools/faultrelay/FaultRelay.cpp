// faultrelay: a fault-injecting Ethernet relay between QEMU and a tap interface.
//
//   QEMU (-netdev dgram or stream) ◀──▶ faultrelay ◀──▶ tap (in a network namespace)
//
// Frames from QEMU (the guest's transmissions) go "to-host"; frames read from the tap go
// "to-guest". Each direction has its own FaultEngine (FaultEngine.h says what each fault does and
// in which order) and its own counters. The program is one poll() loop: read what is readable,
// hand it to the engine with the current time, write what the engines say is due, sleep until
// the next deadline. `faultrelay --help` and README.md explain the options.

#include <tools/faultrelay/FaultEngine.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <vector>

using namespace skiff::faultrelay;

namespace {

constexpr size_t kMaxFrame = 65536;
constexpr int kToHost = 0;  // QEMU -> tap
constexpr int kToGuest = 1; // tap -> QEMU
char const* const kDirectionNames[2] = { "to-host", "to-guest" };

char const kUsage[] = R"(Usage: faultrelay --tap NAME (--udp LOCAL_PORT:QEMU_PORT | --stream-listen ADDR) [options]

A relay between QEMU and a tap interface that drops, corrupts, duplicates, reorders, delays and
rate-limits Ethernet frames, seeded and logged. Frames from QEMU (the guest) travel "to-host",
frames from the tap travel "to-guest"; every fault is set per direction.

Endpoints:
  --tap NAME             tap interface to attach to (created if it does not exist; it goes away
                         with the relay unless created persistent with `ip tuntap add`). Opened
                         with IFF_TAP|IFF_NO_PI in the relay's network namespace: run the relay
                         with `ip netns exec NS`, or give --netns.
  --netns NAME           open the tap inside network namespace NAME (/run/netns/NAME) while the
                         QEMU-side socket stays in the namespace the relay was started in.
  --udp LOCAL:QEMU       one Ethernet frame per UDP datagram on 127.0.0.1: receive on port LOCAL,
                         send to port QEMU (QEMU_PORT 0: reply to whoever sent last). QEMU side:
                           -netdev dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=QEMU,
                                   remote.type=inet,remote.host=127.0.0.1,remote.port=LOCAL
  --udp-host ADDR        IPv4 address for --udp instead of 127.0.0.1.
  --stream-listen ADDR   listen on ADDR (PORT on 127.0.0.1, HOST:PORT, or unix:PATH) for QEMU's
                         stream netdev (4-byte big-endian length before each frame). QEMU side:
                           -netdev stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=PORT
                           -netdev stream,id=n0,server=off,addr.type=unix,addr.path=PATH
                         Start the relay first. One connection at a time; after QEMU disconnects
                         the relay waits for the next one.

Faults (VALUE applies to both directions; or to-host=VALUE,to-guest=VALUE):
  --drop PCT             drop PCT% of frames at random (e.g. 5, 0.5)
  --dup PCT              send a second copy of PCT% of frames
  --corrupt PCT          flip one random bit at or past byte 14 (the Ethernet header is never
                         touched; the receiver must catch it by checksum)
  --reorder PCT          hold PCT% of frames back until --reorder-gap later frames have passed or
                         --reorder-max-ms elapsed, whichever is first
  --reorder-gap K        default 3
  --reorder-max-ms T     default 20 (must be > 0)
  --delay MS             base one-way delay in milliseconds (fractions allowed)
  --jitter MS            ± uniform jitter around the delay
  --jitter-order keep|any  keep (default): jitter never reorders; any: frames may overtake
  --rate RATE            serialise at RATE bits/s (e.g. 10mbit, 512kbit, 1gbit)
  --queue BYTES          rate limiter queue before tail drop (default 256k)

Control:
  --seed N               seed of every random choice (default 1); same seed + same frames = same
                         decisions
  --log FILE             one line per frame decision: TIME DIRECTION #SEQ len=N ACTION
  --stats-every SEC      print the counters every SEC seconds as well as at exit
  --duration SEC         exit after SEC seconds (default: run until SIGINT/SIGTERM)
  --quiet                no start-up banner
  -h, --help             this text

At exit (SIGINT, SIGTERM, --duration) the counters of each direction are printed to stdout:
  faultrelay: to-host received=N forwarded=N dropped=N corrupted=N ... in_flight=N
Exit status: 0 after a clean run, 1 on a runtime error, 2 on a bad command line.
)";

struct Options {
    std::string tap;
    std::string netns;
    int udp_local_port { -1 };
    int udp_qemu_port { -1 };
    std::string udp_host { "127.0.0.1" };
    std::string stream_listen;
    FaultConfig config[2];
    uint64_t seed { 1 };
    std::string log_path;
    double stats_every { 0 };
    double duration { 0 };
    bool quiet { false };
};

[[noreturn]] void usage_error(char const* format, char const* argument)
{
    std::fprintf(stderr, "faultrelay: ");
    std::fprintf(stderr, format, argument);
    std::fprintf(stderr, "\n(see faultrelay --help)\n");
    std::exit(2);
}

// "5" -> both directions; "to-host=5,to-guest=1" -> each its own. `apply` parses one value.
template<typename Apply>
void per_direction(char const* option, std::string const& text, Options& options, Apply apply)
{
    if (text.find('=') == std::string::npos) {
        for (FaultConfig& config : options.config)
            if (!apply(text, config))
                usage_error("bad value for %s", option);
        return;
    }
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        size_t equals = item.find('=');
        if (equals == std::string::npos)
            usage_error("expected to-host=VALUE or to-guest=VALUE in %s", option);
        std::string name = item.substr(0, equals);
        int direction = name == "to-host" ? kToHost : name == "to-guest" ? kToGuest : -1;
        if (direction < 0 || !apply(item.substr(equals + 1), options.config[direction]))
            usage_error("bad value for %s (directions are to-host and to-guest)", option);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
}

bool parse_unsigned(std::string const& text, uint64_t& out)
{
    if (text.empty())
        return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (*end || errno || text[0] == '-')
        return false;
    out = value;
    return true;
}

bool parse_seconds(std::string const& text, double& out)
{
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !(value > 0) || value > 1e7)
        return false;
    out = value;
    return true;
}

Options parse_options(int argc, char** argv)
{
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string option = argv[i];
        if (option == "-h" || option == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (option == "--quiet") {
            options.quiet = true;
            continue;
        }
        if (i + 1 >= argc)
            usage_error("%s needs a value, or is unknown", option.c_str());
        std::string value = argv[++i];
        char const* name = argv[i - 1];
        if (option == "--tap") {
            if (value.empty() || value.size() >= IFNAMSIZ)
                usage_error("bad interface name for %s", name);
            options.tap = value;
        } else if (option == "--netns") {
            options.netns = value;
        } else if (option == "--udp") {
            unsigned local = 0, qemu = 0;
            char tail = 0;
            if (std::sscanf(value.c_str(), "%u:%u%c", &local, &qemu, &tail) != 2 || local == 0 || local > 65535
                || qemu > 65535)
                usage_error("%s wants LOCAL_PORT:QEMU_PORT", name);
            options.udp_local_port = static_cast<int>(local);
            options.udp_qemu_port = static_cast<int>(qemu);
        } else if (option == "--udp-host") {
            options.udp_host = value;
        } else if (option == "--stream-listen") {
            options.stream_listen = value;
        } else if (option == "--drop") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_percent_ppm(v, c.drop_ppm); });
        } else if (option == "--dup") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_percent_ppm(v, c.duplicate_ppm); });
        } else if (option == "--corrupt") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_percent_ppm(v, c.corrupt_ppm); });
        } else if (option == "--reorder") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_percent_ppm(v, c.reorder_ppm); });
        } else if (option == "--reorder-gap") {
            per_direction(name, value, options, [](std::string const& v, FaultConfig& c) {
                uint64_t gap;
                if (!parse_unsigned(v, gap) || gap > 1000000)
                    return false;
                c.reorder_gap = static_cast<uint32_t>(gap);
                return true;
            });
        } else if (option == "--reorder-max-ms") {
            per_direction(name, value, options, [](std::string const& v, FaultConfig& c) {
                uint64_t ns;
                if (!parse_milliseconds_ns(v, ns) || ns == 0)
                    return false;
                c.reorder_max_ns = ns;
                return true;
            });
        } else if (option == "--delay") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_milliseconds_ns(v, c.delay_ns); });
        } else if (option == "--jitter") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_milliseconds_ns(v, c.jitter_ns); });
        } else if (option == "--jitter-order") {
            per_direction(name, value, options, [](std::string const& v, FaultConfig& c) {
                if (v != "keep" && v != "any")
                    return false;
                c.keep_order = v == "keep";
                return true;
            });
        } else if (option == "--rate") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_rate_bits(v, c.rate_bits_per_second); });
        } else if (option == "--queue") {
            per_direction(name, value, options,
                [](std::string const& v, FaultConfig& c) { return parse_bytes(v, c.queue_bytes); });
        } else if (option == "--seed") {
            if (!parse_unsigned(value, options.seed))
                usage_error("bad value for %s", name);
        } else if (option == "--log") {
            options.log_path = value;
        } else if (option == "--stats-every") {
            if (!parse_seconds(value, options.stats_every))
                usage_error("bad value for %s", name);
        } else if (option == "--duration") {
            if (!parse_seconds(value, options.duration))
                usage_error("bad value for %s", name);
        } else {
            usage_error("unknown option %s", name);
        }
    }
    if (options.tap.empty())
        usage_error("%s", "--tap NAME is required");
    if ((options.udp_local_port > 0) == !options.stream_listen.empty())
        usage_error("%s", "give exactly one of --udp and --stream-listen");
    return options;
}

uint64_t monotonic_ns()
{
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(now.tv_nsec);
}

void set_nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The QEMU side: a UDP socket, or a listening stream socket and at most one connection.
class QemuSide {
public:
    bool open(Options const& options)
    {
        if (options.udp_local_port > 0)
            return open_udp(options);
        return open_listener(options.stream_listen);
    }

    // The descriptors poll() should watch for input, in order: listener or UDP, then connection.
    void add_poll(std::vector<pollfd>& fds) const
    {
        fds.push_back({ m_fd, POLLIN, 0 });
        if (m_connection >= 0)
            fds.push_back({ m_connection, POLLIN, 0 });
    }

    // Read whatever arrived; complete frames are appended to `frames`.
    void on_readable(std::vector<pollfd> const& fds, size_t first, std::vector<Frame>& frames)
    {
        if (m_udp) {
            if (fds[first].revents & POLLIN)
                receive_datagrams(frames);
            return;
        }
        if (m_connection >= 0 && fds.size() > first + 1 && (fds[first + 1].revents & (POLLIN | POLLHUP | POLLERR)))
            receive_stream(frames);
        if (fds[first].revents & POLLIN)
            accept_connection();
    }

    bool send(Frame const& frame)
    {
        if (m_udp) {
            if (!m_have_peer)
                return false;
            return sendto(
                       m_fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr const*>(&m_peer), sizeof m_peer)
                == static_cast<ssize_t>(frame.size());
        }
        if (m_connection < 0)
            return false;
        uint8_t header[4];
        uint32_t length = htonl(static_cast<uint32_t>(frame.size()));
        std::memcpy(header, &length, 4);
        return write_all(header, 4) && write_all(frame.data(), frame.size());
    }

    bool connected() const { return m_udp ? m_have_peer : m_connection >= 0; }

private:
    bool open_udp(Options const& options)
    {
        m_udp = true;
        m_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in local {};
        local.sin_family = AF_INET;
        local.sin_port = htons(static_cast<uint16_t>(options.udp_local_port));
        if (inet_pton(AF_INET, options.udp_host.c_str(), &local.sin_addr) != 1) {
            std::fprintf(stderr, "faultrelay: --udp-host %s is not an IPv4 address\n", options.udp_host.c_str());
            return false;
        }
        int size = 4 << 20;
        setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        setsockopt(m_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        if (m_fd < 0 || bind(m_fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
            std::fprintf(stderr, "faultrelay: UDP port %d: %s\n", options.udp_local_port, std::strerror(errno));
            return false;
        }
        m_peer = local;
        if (options.udp_qemu_port > 0) {
            m_peer.sin_port = htons(static_cast<uint16_t>(options.udp_qemu_port));
            m_have_peer = true;
        }
        m_learn_peer = options.udp_qemu_port == 0;
        set_nonblocking(m_fd);
        return true;
    }

    bool open_listener(std::string const& address)
    {
        if (address.rfind("unix:", 0) == 0) {
            std::string path = address.substr(5);
            sockaddr_un local {};
            local.sun_family = AF_UNIX;
            if (path.empty() || path.size() >= sizeof local.sun_path) {
                std::fprintf(stderr, "faultrelay: bad unix socket path '%s'\n", path.c_str());
                return false;
            }
            std::memcpy(local.sun_path, path.c_str(), path.size());
            unlink(path.c_str());
            m_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (m_fd < 0 || bind(m_fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
                std::fprintf(stderr, "faultrelay: %s: %s\n", path.c_str(), std::strerror(errno));
                return false;
            }
        } else {
            std::string host = "127.0.0.1";
            std::string port = address;
            size_t colon = address.rfind(':');
            if (colon != std::string::npos) {
                host = address.substr(0, colon);
                port = address.substr(colon + 1);
            }
            uint64_t number;
            sockaddr_in local {};
            local.sin_family = AF_INET;
            if (!parse_unsigned(port, number) || number == 0 || number > 65535
                || inet_pton(AF_INET, host.c_str(), &local.sin_addr) != 1) {
                std::fprintf(stderr, "faultrelay: --stream-listen wants PORT, HOST:PORT or unix:PATH\n");
                return false;
            }
            local.sin_port = htons(static_cast<uint16_t>(number));
            m_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int one = 1;
            setsockopt(m_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (m_fd < 0 || bind(m_fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
                std::fprintf(stderr, "faultrelay: %s: %s\n", address.c_str(), std::strerror(errno));
                return false;
            }
        }
        if (listen(m_fd, 1) < 0) {
            std::fprintf(stderr, "faultrelay: listen: %s\n", std::strerror(errno));
            return false;
        }
        set_nonblocking(m_fd);
        return true;
    }

    void receive_datagrams(std::vector<Frame>& frames)
    {
        // Bounded per call, so a flood in one direction cannot starve the other.
        for (int i = 0; i < 64; ++i) {
            sockaddr_in from {};
            socklen_t from_length = sizeof from;
            ssize_t n = recvfrom(m_fd, m_buffer, sizeof m_buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
            if (n < 0)
                return;
            if (m_learn_peer) {
                m_peer = from;
                m_have_peer = true;
            }
            frames.emplace_back(m_buffer, m_buffer + n);
        }
    }

    void accept_connection()
    {
        int connection = accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0)
            return;
        if (m_connection >= 0) {
            // One QEMU at a time: a second connection is refused by closing it.
            close(connection);
            return;
        }
        m_connection = connection;
        m_stream.clear();
    }

    void receive_stream(std::vector<Frame>& frames)
    {
        ssize_t n = recv(m_connection, m_buffer, sizeof m_buffer, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(m_connection);
            m_connection = -1;
            m_stream.clear();
            return;
        }
        if (n < 0)
            return;
        m_stream.insert(m_stream.end(), m_buffer, m_buffer + n);
        size_t at = 0;
        while (m_stream.size() - at >= 4) {
            uint32_t length;
            std::memcpy(&length, m_stream.data() + at, 4);
            length = ntohl(length);
            if (length > kMaxFrame) {
                std::fprintf(stderr, "faultrelay: stream frame of %u bytes: dropping the connection\n", length);
                close(m_connection);
                m_connection = -1;
                m_stream.clear();
                return;
            }
            if (m_stream.size() - at - 4 < length)
                break;
            frames.emplace_back(
                m_stream.begin() + static_cast<long>(at + 4), m_stream.begin() + static_cast<long>(at + 4 + length));
            at += 4 + length;
        }
        m_stream.erase(m_stream.begin(), m_stream.begin() + static_cast<long>(at));
    }

    bool write_all(uint8_t const* data, size_t length)
    {
        while (length) {
            ssize_t n = ::send(m_connection, data, length, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                pollfd wait { m_connection, POLLOUT, 0 };
                poll(&wait, 1, 1000);
                continue;
            }
            if (n <= 0)
                return false;
            data += n;
            length -= static_cast<size_t>(n);
        }
        return true;
    }

    bool m_udp { false };
    int m_fd { -1 };
    int m_connection { -1 };
    bool m_have_peer { false };
    bool m_learn_peer { false };
    sockaddr_in m_peer {};
    std::vector<uint8_t> m_stream;
    uint8_t m_buffer[kMaxFrame + 4];
};

int open_tap(std::string const& name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "faultrelay: /dev/net/tun: %s\n", std::strerror(errno));
        return -1;
    }
    ifreq request {};
    // IFF_TAP: Ethernet frames, not IP packets; IFF_NO_PI: no 4-byte packet-information prefix,
    // so a read() returns exactly one frame and a write() takes exactly one.
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(request.ifr_name, name.c_str(), name.size());
    if (ioctl(fd, TUNSETIFF, &request) < 0) {
        std::fprintf(stderr, "faultrelay: TUNSETIFF %s: %s\n", name.c_str(), std::strerror(errno));
        close(fd);
        return -1;
    }
    set_nonblocking(fd);
    return fd;
}

bool enter_netns(std::string const& name)
{
    std::string path = name.find('/') == std::string::npos ? "/run/netns/" + name : name;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        std::fprintf(stderr, "faultrelay: network namespace %s: %s\n", path.c_str(), std::strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

struct DirectionState {
    FaultEngine* engine { nullptr };
    uint64_t io_dropped { 0 }; // due but could not be written (no QEMU connected, write error)
};

void print_counters(DirectionState const (&directions)[2], double elapsed_s, char const* when)
{
    std::printf("faultrelay: counters %s %.3f s\n", when, elapsed_s);
    for (int d = 0; d < 2; ++d) {
        FaultCounters const& c = directions[d].engine->counters();
        std::printf("faultrelay: %s received=%" PRIu64 " forwarded=%" PRIu64 " dropped=%" PRIu64 " corrupted=%" PRIu64
                    " corrupt_skipped=%" PRIu64 " duplicated=%" PRIu64 " held=%" PRIu64 " delayed=%" PRIu64
                    " rate_dropped=%" PRIu64 " io_dropped=%" PRIu64 " in_flight=%zu bytes_in=%" PRIu64
                    " bytes_out=%" PRIu64 "\n",
            kDirectionNames[d], c.received, c.forwarded, c.dropped, c.corrupted, c.corrupt_skipped, c.duplicated,
            c.held, c.delayed, c.rate_dropped, directions[d].io_dropped, directions[d].engine->in_flight(),
            c.received_bytes, c.forwarded_bytes);
    }
    std::fflush(stdout);
}

void describe_config(int direction, FaultConfig const& c)
{
    if (c.is_transparent()) {
        std::printf("faultrelay: %s: no faults\n", kDirectionNames[direction]);
        return;
    }
    std::printf("faultrelay: %s: drop %.4g%% dup %.4g%% corrupt %.4g%% reorder %.4g%% (gap %u, max %.3g ms) "
                "delay %.3g ms ± %.3g ms (%s order) rate %s",
        kDirectionNames[direction], c.drop_ppm / 1e4, c.duplicate_ppm / 1e4, c.corrupt_ppm / 1e4, c.reorder_ppm / 1e4,
        c.reorder_gap, c.reorder_max_ns / 1e6, c.delay_ns / 1e6, c.jitter_ns / 1e6, c.keep_order ? "keep" : "any",
        c.rate_bits_per_second ? "" : "unlimited\n");
    if (c.rate_bits_per_second)
        std::printf("%.6g Mbit/s, queue %" PRIu64 " bytes\n", c.rate_bits_per_second / 1e6, c.queue_bytes);
}

} // namespace

int main(int argc, char** argv)
{
    Options options = parse_options(argc, argv);

    // Signals arrive through a descriptor, so the poll() loop sees them like any input and the
    // counters are printed from ordinary code, not from a handler.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

    QemuSide qemu;
    if (!qemu.open(options))
        return 1;
    // The QEMU-side socket now exists in the namespace we started in; the tap may live elsewhere.
    if (!options.netns.empty() && !enter_netns(options.netns))
        return 1;
    int tap = open_tap(options.tap);
    if (tap < 0)
        return 1;

    FILE* log = nullptr;
    if (!options.log_path.empty()) {
        log = std::fopen(options.log_path.c_str(), "w");
        if (!log) {
            std::fprintf(stderr, "faultrelay: --log %s: %s\n", options.log_path.c_str(), std::strerror(errno));
            return 1;
        }
        std::setvbuf(log, nullptr, _IOFBF, 1 << 16);
    }

    uint64_t start = monotonic_ns();
    // Each direction draws from its own stream, derived from the one seed.
    SplitMix64 seeder(options.seed);
    FaultEngine to_host(options.config[kToHost], seeder.next());
    FaultEngine to_guest(options.config[kToGuest], seeder.next());
    DirectionState directions[2];
    directions[kToHost].engine = &to_host;
    directions[kToGuest].engine = &to_guest;
    for (int d = 0; d < 2; ++d) {
        if (!log)
            continue;
        char const* name = kDirectionNames[d];
        directions[d].engine->set_logger([log, name, start](FaultEvent const& event) {
            std::fprintf(log, "%.6f %s #%" PRIu64 " len=%u %s\n", static_cast<double>(event.now_ns - start) / 1e9, name,
                event.sequence, event.length, event.describe().c_str());
        });
    }

    if (!options.quiet) {
        std::printf("faultrelay: tap %s, QEMU side %s, seed %" PRIu64 "\n", options.tap.c_str(),
            options.udp_local_port > 0 ? "udp" : options.stream_listen.c_str(), options.seed);
        describe_config(kToHost, options.config[kToHost]);
        describe_config(kToGuest, options.config[kToGuest]);
        std::fflush(stdout);
    }

    uint64_t end = options.duration > 0 ? start + static_cast<uint64_t>(options.duration * 1e9) : FaultEngine::kNever;
    uint64_t stats_interval = static_cast<uint64_t>(options.stats_every * 1e9);
    uint64_t next_stats = stats_interval ? start + stats_interval : FaultEngine::kNever;
    std::vector<uint8_t> tap_buffer(kMaxFrame);
    std::vector<Frame> arrived;
    std::vector<Frame> due;
    int status = 0;
    bool running = true;

    while (running) {
        uint64_t now = monotonic_ns();
        uint64_t wake = std::min({ to_host.next_deadline(), to_guest.next_deadline(), end, next_stats });
        int timeout_ms = -1;
        if (wake != FaultEngine::kNever)
            timeout_ms
                = wake <= now ? 0 : static_cast<int>(std::min<uint64_t>((wake - now + 999'999) / 1'000'000, 60'000));

        std::vector<pollfd> fds;
        fds.push_back({ signal_fd, POLLIN, 0 });
        fds.push_back({ tap, POLLIN, 0 });
        qemu.add_poll(fds);
        if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
            std::fprintf(stderr, "faultrelay: poll: %s\n", std::strerror(errno));
            status = 1;
            break;
        }
        now = monotonic_ns();

        if (fds[0].revents & POLLIN) {
            signalfd_siginfo info;
            if (read(signal_fd, &info, sizeof info) > 0)
                running = false;
        }
        if (fds[1].revents & POLLIN) {
            for (int i = 0; i < 64; ++i) {
                ssize_t n = read(tap, tap_buffer.data(), tap_buffer.size());
                if (n <= 0)
                    break;
                to_guest.submit(Frame(tap_buffer.begin(), tap_buffer.begin() + n), now);
            }
        }
        arrived.clear();
        qemu.on_readable(fds, 2, arrived);
        for (Frame& frame : arrived)
            to_host.submit(std::move(frame), now);

        due.clear();
        to_host.poll(now, due);
        for (Frame const& frame : due)
            if (write(tap, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size()))
                ++directions[kToHost].io_dropped;
        due.clear();
        to_guest.poll(now, due);
        for (Frame const& frame : due)
            if (!qemu.send(frame))
                ++directions[kToGuest].io_dropped;

        if (now >= next_stats) {
            print_counters(directions, static_cast<double>(now - start) / 1e9, "at");
            if (log)
                std::fflush(log);
            next_stats += stats_interval;
        }
        if (now >= end)
            running = false;
    }

    print_counters(directions, static_cast<double>(monotonic_ns() - start) / 1e9, "at exit after");
    if (log)
        std::fclose(log);
    close(tap);
    return status;
}
