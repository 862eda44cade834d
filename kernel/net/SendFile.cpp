// send_file_range: see SendFile.h.

#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>
#include <net/SendFile.h>

namespace skiff::knet {

namespace {

SendFileStats s_stats; // guarded by the stack lock

// A boot-archive file as the stack sees it: its bytes through the direct map, its frames by
// physical address. The archive is one physically contiguous run, so a byte's physical address is
// the file's start plus its offset, and a piece from there to the end of the frame is contiguous
// at both addresses (net::FileFrames's contract). The mount holds a reference on every frame for as
// long as the kernel runs; each piece the stack keeps takes its own (mm::ref_frame through the port).
class ArchiveFileFrames final : public net::FileFrames {
public:
    explicit ArchiveFileFrames(kfs::File const& file)
        : m_file(file)
    {
    }
    u64 size() const override { return m_file.size; }
    net::FrameAddress locate(u64 offset) const override { return { m_file.data + offset, m_file.physical_at(offset) }; }

private:
    kfs::File const& m_file;
};

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
        return Error::NoBufferSpace;
    }
    u64 spare = static_cast<u64>(free - kTransmitReserve) * socket.send_mss();
    u64 count = min(length, spare);
    // The stack's own count of copied bytes, before and after: what this call copied, measured
    // rather than assumed (zero, since every byte goes by reference).
    u64 copied_before = stack().counters().tcp_copied_bytes;
    ArchiveFileFrames frames(file);
    auto sent = socket.send_file(frames, offset, count);
    s_stats.copied_bytes += stack().counters().tcp_copied_bytes - copied_before;
    if (sent.is_error())
        return sent.error();
    s_stats.bytes += sent.value();
    s_stats.zero_copy_bytes += sent.value();
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
