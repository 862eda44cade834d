#include "TapDevice.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

namespace skiff::net {

int TapDevice::open_tap(char const* name)
{
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ifreq request {};
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::snprintf(request.ifr_name, IFNAMSIZ, "%s", name);
    if (::ioctl(fd, TUNSETIFF, &request) < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

TapDevice::TapDevice(int fd, MacAddress mac, FaultConfig faults)
    : m_fd(fd)
    , m_mac(mac)
    , m_faults(faults)
    , m_random(faults.seed)
{
}

NetDeviceCapabilities TapDevice::capabilities() const
{
    NetDeviceCapabilities caps;
    caps.gather = true; // writev is a gather
    caps.max_pieces = 4;
    caps.mtu = 1500;
    return caps;
}

bool TapDevice::roll(unsigned percent)
{
    return percent && (m_random() % 100) < percent;
}

void TapDevice::write_frame(std::vector<uint8_t> const& frame)
{
    if (::write(m_fd, frame.data(), frame.size()) < 0)
        ++counters().tx_errors;
}

Result<void> TapDevice::transmit(PacketBuffer& packet)
{
    bool faulty = m_faults.loss_percent || m_faults.duplicate_percent || m_faults.reorder_percent;
    if (!faulty) {
        // The gather path: headers, seg[0], seg[1], follow straight from where they lie.
        iovec pieces[4];
        u32 count = packet.piece_count();
        VERIFY(count <= 4);
        for (u32 i = 0; i < count; ++i) {
            BufferPiece piece = packet.piece(i);
            pieces[i] = { const_cast<u8*>(piece.virt), piece.length };
        }
        if (::writev(m_fd, pieces, static_cast<int>(count)) < 0) {
            ++counters().tx_errors;
            return Error::Busy; // tap queue full: a lost frame, as on a wire
        }
        return {};
    }
    std::vector<uint8_t> frame(packet.total_length());
    packet.copy_to(0, { frame.data(), frame.size() });
    if (roll(m_faults.loss_percent)) {
        ++m_tx_faults.dropped;
        return {};
    }
    if (roll(m_faults.reorder_percent) && m_held_tx.empty()) {
        ++m_tx_faults.reordered;
        m_held_tx = std::move(frame);
        m_held_since = m_now;
        return {};
    }
    write_frame(frame);
    if (roll(m_faults.duplicate_percent)) {
        ++m_tx_faults.duplicated;
        write_frame(frame);
    }
    if (!m_held_tx.empty()) {
        write_frame(m_held_tx);
        m_held_tx.clear();
    }
    return {};
}

void TapDevice::deliver_frame(uint8_t const* data, size_t length)
{
    PacketBuffer* buffer = allocate_receive_buffer();
    if (!buffer)
        return; // counted as rx_dropped by the stack
    // Offset 2: the IPv4 header after the 14-byte Ethernet header lands 4-byte aligned.
    std::memcpy(buffer->storage() + 2, data, length);
    deliver(buffer, 2, static_cast<u32>(length));
}

int TapDevice::poll_rx(int budget)
{
    int frames = 0;
    uint8_t frame[kPageSize];
    while (frames < budget) {
        ssize_t n = ::read(m_fd, frame, sizeof frame - 2);
        if (n <= 0)
            break;
        ++frames;
        if (roll(m_faults.loss_percent)) {
            ++m_rx_faults.dropped;
            continue;
        }
        if (roll(m_faults.reorder_percent) && m_held_rx.empty()) {
            ++m_rx_faults.reordered;
            m_held_rx.assign(frame, frame + n);
            m_held_since = m_now;
            continue;
        }
        deliver_frame(frame, static_cast<size_t>(n));
        if (roll(m_faults.duplicate_percent)) {
            ++m_rx_faults.duplicated;
            deliver_frame(frame, static_cast<size_t>(n));
        }
        if (!m_held_rx.empty()) {
            deliver_frame(m_held_rx.data(), m_held_rx.size());
            m_held_rx.clear();
        }
    }
    return frames;
}

void TapDevice::flush_held(uint64_t now_ns)
{
    m_now = now_ns;
    // A held frame is released after at most 2 ms even if nothing follows it.
    if (now_ns - m_held_since < 2000000)
        return;
    if (!m_held_rx.empty()) {
        deliver_frame(m_held_rx.data(), m_held_rx.size());
        m_held_rx.clear();
    }
    if (!m_held_tx.empty()) {
        write_frame(m_held_tx);
        m_held_tx.clear();
    }
}

} // namespace skiff::net
