// send_file_range: see SendFile.h.

#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>

namespace skiff::knet {

namespace {

SendFileStats s_stats; // guarded by the stack lock

} // namespace

Result<usize> send_file_range(net::TcpSocket& socket, kfs::File const& file, u64 offset, u64 length)
{
    VERIFY(offset <= file.size && length <= file.size - offset);
    ++s_stats.calls;
    if (length == 0)
        return static_cast<usize>(0);
    // Each segment takes one transmit buffer: queue no more than the pool can spare above the
    // reserve.
    auto const& pool = stack().pool().transmit_counters();
    u32 free = pool.capacity - pool.in_use;
    if (free <= kTransmitReserve) {
        ++s_stats.pool_waits;
        return Error::WouldBlock;
    }
    u64 spare = static_cast<u64>(free - kTransmitReserve) * socket.send_mss();
    u64 count = min(length, spare);
    // FIXME: the zero-copy sendfile path is not there yet. TcpSocket::send() copies the file's
    // bytes into transmit buffers (the socket's copy elimination is off: these pages are not in
    // the zero-copy region, so pinning would fail and copy anyway). With TCP's piece list, the
    // pieces point at file.physical_at(offset...) page by page, each holding mm::ref_frame().
    auto sent = socket.send({ file.data + offset, static_cast<usize>(count) });
    if (sent.is_error())
        return sent.error();
    s_stats.bytes += sent.value();
    s_stats.copied_bytes += sent.value();
    return sent.value();
}

u32 transmit_buffers_to_share()
{
    u32 capacity = stack().pool().transmit_counters().capacity;
    return capacity > kTransmitReserve ? capacity - kTransmitReserve : 0;
}

SendFileStats send_file_stats()
{
    return s_stats;
}

} // namespace skiff::knet
