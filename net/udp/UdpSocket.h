#pragma once

// A UDP socket with BSD semantics (bind, connect, sendto, recvfrom; POSIX.1-2017 for the
// details): an unbound socket is bound to an ephemeral port on first send; a connected socket
// only receives from its peer and may send without an address; each datagram is received whole
// or truncated to the caller's buffer (the rest is discarded, as recvfrom does).

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/socket/Socket.h>

namespace skiff::net {

class UdpLayer;

class UdpSocket final : public Socket {
public:
    static constexpr u32 kMaxQueuedDatagrams = 64;

    Result<void> bind(SocketAddress local);
    Result<void> connect(SocketAddress remote);
    Result<usize> sendto(ReadonlyBytes data, SocketAddress destination);
    Result<usize> send(ReadonlyBytes data);
    // Returns the datagram's length (which may exceed out.size(): then it was truncated).
    Result<usize> recvfrom(Bytes out, SocketAddress* from = nullptr);
    void close();

    u32 poll_events() const override;
    SocketAddress local() const { return m_local; }
    SocketAddress remote() const { return m_remote; }
    bool is_connected() const { return m_connected; }
    u32 queued() const { return m_queue.size(); }

private:
    friend class UdpLayer;
    bool m_open { false };
    bool m_bound { false };
    bool m_connected { false };
    SocketAddress m_local;
    SocketAddress m_remote;
    PacketQueue m_queue;
    UdpLayer* m_layer { nullptr };
};

} // namespace skiff::net
