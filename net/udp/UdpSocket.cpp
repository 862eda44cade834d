#include <net/NetStack.h>
#include <net/udp/UdpSocket.h>

namespace skiff::net {

Result<void> UdpSocket::bind(SocketAddress local)
{
    if (!m_open)
        return Error::BadState;
    if (m_bound)
        return Error::InvalidArgument; // POSIX: EINVAL, already bound
    if (local.port == 0) {
        local.port = TRY(m_layer->ephemeral_port());
    } else if (m_layer->port_in_use(local.port, local.address)) {
        return Error::AddressInUse;
    }
    if (!local.address.is_any() && !m_layer->m_stack.is_local_address(local.address))
        return Error::AddressNotAvailable;
    m_local = local;
    m_bound = true;
    return {};
}

Result<void> UdpSocket::connect(SocketAddress remote)
{
    if (!m_open)
        return Error::BadState;
    if (remote.address.is_any() || remote.port == 0)
        return Error::InvalidArgument;
    if (!m_bound) {
        m_local.port = TRY(m_layer->ephemeral_port());
        m_bound = true;
    }
    m_remote = remote;
    m_connected = true;
    // Datagrams queued from other peers before connect() stay; POSIX leaves that open.
    return {};
}

Result<usize> UdpSocket::sendto(ReadonlyBytes data, SocketAddress destination)
{
    if (!m_open)
        return Error::BadState;
    if (m_connected && !(destination == m_remote))
        return Error::AlreadyConnected; // EISCONN, as Linux returns for a differing address
    return m_layer->send(*this, data, destination);
}

Result<usize> UdpSocket::send(ReadonlyBytes data)
{
    if (!m_connected)
        return Error::NotConnected; // EDESTADDRREQ in POSIX
    return m_layer->send(*this, data, m_remote);
}

Result<usize> UdpSocket::recvfrom(Bytes out, SocketAddress* from)
{
    if (!m_open)
        return Error::BadState;
    PacketRef packet = m_queue.pop();
    if (!packet)
        return Error::WouldBlock;
    usize length = packet->linear_length();
    usize count = min(length, out.size());
    __builtin_memcpy(out.data(), packet->data(), count);
    if (from)
        *from = { packet->meta.source, static_cast<u16>(packet->meta.aux) };
    return length;
}

void UdpSocket::close()
{
    m_queue.clear();
    m_open = false;
    m_bound = false;
    m_connected = false;
}

u32 UdpSocket::poll_events() const
{
    if (!m_open)
        return kPollErr;
    // A UDP socket can always send: datagrams that find no buffer are dropped and counted.
    return kPollOut | (m_queue.is_empty() ? 0 : kPollIn);
}

} // namespace skiff::net
