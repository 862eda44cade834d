#pragma once

// What every socket shares: BSD-style non-blocking calls, readiness for poll(), and the wait/wake
// hook the kernel glue uses to block. The stack never sleeps; a socket call that cannot proceed
// returns Error::WouldBlock and the glue, unless the socket is non-blocking, registers a waiter
// with set_waiter() and sleeps until Port::wake(waiter) and then retries the call.

#include <lib/Result.h>
#include <lib/Types.h>
#include <net/Address.h>

namespace skiff::net {

struct SocketAddress {
    Ipv4Address address;
    u16 port { 0 };
    bool operator==(SocketAddress const& other) const { return address == other.address && port == other.port; }
};

// RFC 6335 §6: the dynamic (ephemeral) ports. RFC 6056 §3.3.1 (algorithm 1): start at a random
// point of the range and take the first free port, so that the next local port is hard to guess.
static constexpr u16 kEphemeralFirst = 49152;
static constexpr u16 kEphemeralLast = 65535;

template<typename InUse>
Result<u16> choose_ephemeral_port(u64 random, InUse in_use)
{
    u32 range = u32 { kEphemeralLast } - kEphemeralFirst + 1;
    u32 start = static_cast<u32>(random % range);
    for (u32 i = 0; i < range; ++i) {
        u16 candidate = static_cast<u16>(kEphemeralFirst + (start + i) % range);
        if (!in_use(candidate))
            return candidate;
    }
    return Error::AddressInUse;
}

// poll() events, with the values POSIX systems use.
static constexpr u32 kPollIn = 0x001;
static constexpr u32 kPollOut = 0x004;
static constexpr u32 kPollErr = 0x008;
static constexpr u32 kPollHup = 0x010;

class Socket {
public:
    // Which of kPollIn/kPollOut/kPollErr/kPollHup hold right now.
    virtual u32 poll_events() const = 0;

    // The waiter is woken (Port::wake) whenever this socket's readiness may have changed. One
    // waiter may be set on several sockets to wait on all of them (see poll_sockets).
    void set_waiter(void* waiter) { m_waiter = waiter; }
    void* waiter() const { return m_waiter; }
    // Recorded for the blocking glue; the stack's own calls never block either way.
    void set_nonblocking(bool on) { m_nonblocking = on; }
    bool is_nonblocking() const { return m_nonblocking; }

protected:
    ~Socket() = default;
    void* m_waiter { nullptr };
    bool m_nonblocking { false };
};

// Waiting on several sockets: fills each entry's revents with the events that hold (from those
// asked for, plus kPollErr/kPollHup always) and returns how many entries have any. The glue
// blocks by setting one waiter on all sockets and calling this again after each wake.
struct PollEntry {
    Socket* socket { nullptr };
    u32 events { 0 };
    u32 revents { 0 };
};
u32 poll_sockets(PollEntry* entries, u32 count);

} // namespace skiff::net
