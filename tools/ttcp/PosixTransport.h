#pragma once

// ttcp::Transport over Linux sockets and clock_gettime(): what makes apps/ttcp/TtcpCore.cpp a
// host program. Messages go to stderr so that `ttcp -r > file` keeps stdout for the data.

#include <apps/ttcp/TtcpCore.h>

namespace skiff::ttcp {

class PosixTransport final : public Transport {
public:
    PosixTransport() = default;
    ~PosixTransport() { close(); }

    Result<void> connect(StringView host, u16 port, SocketSettings const& settings) override;
    Result<void> listen(u16 port, SocketSettings const& settings) override;
    Result<Peer> accept() override;
    Result<usize> send(ReadonlyBytes data) override;
    Result<usize> recv(Bytes buffer) override;
    Result<usize> sendto(ReadonlyBytes datagram) override;
    Result<usize> recvfrom(Bytes buffer, Peer& from) override;
    void close() override;

    Result<Bytes> allocate_buffer(usize length) override;
    void free_buffer(Bytes buffer) override;

    u64 now_ns() override;
    void sleep_ns(u64 duration) override;
    void print(StringView text) override;

    bool has_standard_streams() const override { return true; }
    Result<usize> read_input(Bytes buffer) override;
    Result<void> write_output(ReadonlyBytes data) override;

    // A UDP receiver gives up waiting for the end marker after this long without a datagram.
    static constexpr int kUdpIdleSeconds = 3;

private:
    // Reports a failed system call with its errno text and turns errno into a Skiff Error.
    Error fail(char const* what);
    void note_zero_copy(SocketSettings const& settings);

    int m_socket { -1 };   // the data socket
    int m_listener { -1 }; // TCP receive, until accept()
    bool m_nodelay { false };
    Role m_role { Role::None };
    // UDP transmit destination (a sockaddr_in, kept opaque here).
    alignas(8) unsigned char m_destination[16] {};
};

} // namespace skiff::ttcp
