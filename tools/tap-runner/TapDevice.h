#pragma once

// A NetDevice over a Linux tap file descriptor, with an optional fault injector that drops,
// duplicates and reorders frames in both directions (this machine's kernel has no netem).

#include <net/NetDevice.h>

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace skiff::net {

struct FaultConfig {
    unsigned loss_percent { 0 };
    unsigned duplicate_percent { 0 };
    unsigned reorder_percent { 0 };
    uint64_t seed { 1 };
};

struct FaultCounters {
    uint64_t dropped { 0 };
    uint64_t duplicated { 0 };
    uint64_t reordered { 0 };
};

class TapDevice final : public NetDevice {
public:
    // Opens /dev/net/tun and attaches to the existing tap interface `name`.
    static int open_tap(char const* name);
    TapDevice(int fd, MacAddress mac, FaultConfig faults);

    StringView name() const override { return "tap"; }
    MacAddress mac_address() const override { return m_mac; }
    NetDeviceCapabilities capabilities() const override;
    Result<void> transmit(PacketBuffer& packet) override;

    // Reads up to `budget` frames and delivers them; returns how many were read.
    int poll_rx(int budget);
    // Releases frames held back for reordering once they are overdue.
    void flush_held(uint64_t now_ns);
    int fd() const { return m_fd; }
    FaultCounters const& rx_faults() const { return m_rx_faults; }
    FaultCounters const& tx_faults() const { return m_tx_faults; }

private:
    bool roll(unsigned percent);
    void write_frame(std::vector<uint8_t> const& frame);
    void deliver_frame(uint8_t const* data, size_t length);

    int m_fd;
    MacAddress m_mac;
    FaultConfig m_faults;
    std::mt19937_64 m_random;
    FaultCounters m_rx_faults;
    FaultCounters m_tx_faults;
    // One frame per direction may be held back and sent after the next one: a reorder.
    std::vector<uint8_t> m_held_tx;
    std::vector<uint8_t> m_held_rx;
    uint64_t m_held_since { 0 };
    uint64_t m_now { 0 };
};

} // namespace skiff::net
