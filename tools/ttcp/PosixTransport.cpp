#include <tools/ttcp/PosixTransport.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace skiff::ttcp {

namespace {

Error error_from_errno(int number)
{
    switch (number) {
    case ECONNREFUSED: return Error::ConnectionRefused;
    case ECONNRESET: return Error::ConnectionReset;
    case ECONNABORTED: return Error::ConnectionAborted;
    case EADDRINUSE: return Error::AddressInUse;
    case EADDRNOTAVAIL: return Error::AddressNotAvailable;
    case ENETUNREACH: return Error::NetworkUnreachable;
    case EHOSTUNREACH: return Error::HostUnreachable;
    case EAGAIN:
    case ETIMEDOUT: return Error::TimedOut;
    case EPIPE: return Error::Shutdown;
    case EMSGSIZE: return Error::MessageTooLong;
    case ENOMEM:
    case ENOBUFS: return Error::NoMemory;
    case ENOTCONN: return Error::NotConnected;
    default: return Error::InvalidArgument;
    }
}

char const* role_prefix(Role role)
{
    return role == Role::Transmit ? "ttcp-t" : role == Role::Receive ? "ttcp-r" : "ttcp";
}

} // namespace

Error PosixTransport::fail(char const* what)
{
    int number = errno;
    std::fprintf(stderr, "%s: %s: %s\n", role_prefix(m_role), what, std::strerror(number));
    return error_from_errno(number);
}

void PosixTransport::note_zero_copy(SocketSettings const& settings)
{
    if (settings.zero_copy == ZeroCopy::Default)
        return;
    std::fprintf(stderr,
        "%s: -z %s ignored: copy elimination is a Skiff socket option; Linux's ordinary socket path "
        "is used here\n",
        role_prefix(m_role),
        settings.zero_copy == ZeroCopy::On ? "on" : (settings.zero_copy == ZeroCopy::Off ? "off" : "cow"));
}

Result<void> PosixTransport::connect(StringView host, u16 port, SocketSettings const& settings)
{
    m_role = settings.role;
    note_zero_copy(settings);

    char name[256];
    if (host.length() >= sizeof(name))
        return Error::InvalidArgument;
    std::memcpy(name, host.chars(), host.length());
    name[host.length()] = 0;

    addrinfo hints {};
    hints.ai_family = AF_INET;
    hints.ai_socktype = settings.udp ? SOCK_DGRAM : SOCK_STREAM;
    addrinfo* found = nullptr;
    int status = getaddrinfo(name, nullptr, &hints, &found);
    if (status != 0 || !found) {
        std::fprintf(stderr, "%s: bad hostname %s: %s\n", role_prefix(m_role), name, gai_strerror(status));
        return Error::NotFound;
    }
    sockaddr_in address {};
    std::memcpy(&address, found->ai_addr, sizeof(address));
    freeaddrinfo(found);
    address.sin_port = htons(port);

    m_socket = ::socket(AF_INET, settings.udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (m_socket < 0)
        return fail("socket");
    if (settings.udp) {
        // Unconnected sendto(), as classic ttcp does: an ICMP port unreachable from a receiver
        // that is not up yet must not turn into a failed send.
        static_assert(sizeof(m_destination) >= sizeof(sockaddr_in));
        std::memcpy(m_destination, &address, sizeof(address));
        return {};
    }
    if (settings.nodelay) {
        int one = 1;
        if (setsockopt(m_socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            return fail("setsockopt TCP_NODELAY");
    }
    if (::connect(m_socket, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0)
        return fail("connect");
    return {};
}

Result<void> PosixTransport::listen(u16 port, SocketSettings const& settings)
{
    m_role = settings.role;
    m_nodelay = settings.nodelay;
    note_zero_copy(settings);

    int fd = ::socket(AF_INET, settings.udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0)
        return fail("socket");
    (settings.udp ? m_socket : m_listener) = fd;

    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0)
        return fail("bind");

    if (settings.udp) {
        // A deep queue absorbs a burst from a fast transmitter (the kernel caps it at
        // net.core.rmem_max), and the idle limit ends a run whose end markers were lost.
        int queue = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &queue, sizeof(queue));
        timeval idle { kUdpIdleSeconds, 0 };
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle)) < 0)
            return fail("setsockopt SO_RCVTIMEO");
        return {};
    }
    if (::listen(fd, 1) < 0)
        return fail("listen");
    return {};
}

Result<Peer> PosixTransport::accept()
{
    VERIFY(m_listener >= 0);
    sockaddr_in peer {};
    socklen_t length = sizeof(peer);
    int fd;
    do {
        fd = ::accept(m_listener, reinterpret_cast<sockaddr*>(&peer), &length);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return fail("accept");
    ::close(m_listener);
    m_listener = -1;
    m_socket = fd;
    if (m_nodelay) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return Peer { ntohl(peer.sin_addr.s_addr), ntohs(peer.sin_port) };
}

Result<usize> PosixTransport::send(ReadonlyBytes data)
{
    for (;;) {
        // MSG_NOSIGNAL: a receiver that goes away is an error to report, not a SIGPIPE.
        ssize_t n = ::send(m_socket, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0)
            return static_cast<usize>(n);
        if (errno != EINTR)
            return fail("send");
    }
}

Result<usize> PosixTransport::recv(Bytes buffer)
{
    for (;;) {
        ssize_t n = ::recv(m_socket, buffer.data(), buffer.size(), 0);
        if (n >= 0)
            return static_cast<usize>(n);
        if (errno != EINTR)
            return fail("recv");
    }
}

Result<usize> PosixTransport::sendto(ReadonlyBytes datagram)
{
    for (;;) {
        ssize_t n = ::sendto(m_socket, datagram.data(), datagram.size(), 0,
            reinterpret_cast<sockaddr const*>(m_destination), sizeof(sockaddr_in));
        if (n >= 0)
            return static_cast<usize>(n);
        if (errno == ENOBUFS) {
            // Classic ttcp: the interface queue is full; wait 18 ms and try again.
            sleep_ns(18000000);
            continue;
        }
        // An ICMP error from an earlier datagram surfaces here once; carry on, as classic ttcp does.
        if (errno == EINTR || errno == ECONNREFUSED)
            continue;
        return fail("sendto");
    }
}

Result<usize> PosixTransport::recvfrom(Bytes buffer, Peer& from)
{
    for (;;) {
        sockaddr_in peer {};
        socklen_t length = sizeof(peer);
        ssize_t n = ::recvfrom(m_socket, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&peer), &length);
        if (n >= 0) {
            from = Peer { ntohl(peer.sin_addr.s_addr), ntohs(peer.sin_port) };
            return static_cast<usize>(n);
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return Error::TimedOut; // the SO_RCVTIMEO idle limit; the core decides what it means
        if (errno != EINTR)
            return fail("recvfrom");
    }
}

void PosixTransport::close()
{
    if (m_socket >= 0)
        ::close(m_socket);
    if (m_listener >= 0)
        ::close(m_listener);
    m_socket = -1;
    m_listener = -1;
}

Result<Bytes> PosixTransport::allocate_buffer(usize length)
{
    // Page aligned, like the guest's buffers, so both ends do their I/O from the same kind of memory.
    usize rounded = (length + 4095) & ~usize(4095);
    void* memory = std::aligned_alloc(4096, rounded);
    if (!memory)
        return Error::NoMemory;
    std::memset(memory, 0, rounded);
    return Bytes(static_cast<u8*>(memory), length);
}

void PosixTransport::free_buffer(Bytes buffer)
{
    std::free(buffer.data());
}

u64 PosixTransport::now_ns()
{
    timespec now {};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<u64>(now.tv_sec) * 1000000000u + static_cast<u64>(now.tv_nsec);
}

void PosixTransport::sleep_ns(u64 duration)
{
    timespec request { static_cast<time_t>(duration / 1000000000u), static_cast<long>(duration % 1000000000u) };
    while (nanosleep(&request, &request) < 0 && errno == EINTR) { }
}

void PosixTransport::print(StringView text)
{
    std::fwrite(text.chars(), 1, text.length(), stderr);
    std::fflush(stderr);
}

Result<usize> PosixTransport::read_input(Bytes buffer)
{
    // Fill the whole buffer unless stdin ends, so a pipe's small reads still make full-size writes.
    usize filled = 0;
    while (filled < buffer.size()) {
        ssize_t n = ::read(0, buffer.data() + filled, buffer.size() - filled);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("read stdin");
        }
        filled += static_cast<usize>(n);
    }
    return filled;
}

Result<void> PosixTransport::write_output(ReadonlyBytes data)
{
    while (!data.is_empty()) {
        ssize_t n = ::write(1, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("write stdout");
        }
        data = data.slice(static_cast<usize>(n));
    }
    return {};
}

} // namespace skiff::ttcp
