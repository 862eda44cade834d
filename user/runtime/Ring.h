#pragma once

// Mapped packet rings for user programs (lib/Abi.h, RingMap): a receive ring that raw frames of a
// chosen EtherType arrive in without a copy (or every frame, copied, in capture mode), and a
// transmit ring whose slot pages the NIC sends from.

#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/Types.h>

namespace skiff::user {

class PacketRing {
public:
    // ether_type 0: capture every frame.
    static Result<PacketRing> map(u32 slots, u16 ether_type);

    u32 slots() const { return m_setup.slots; }
    u8 const* mac() const { return m_setup.mac; }
    i64 descriptor() const { return m_descriptor; }

    // The next received frame in order, if its slot is full (null otherwise).
    abi::RingDescriptor const* next_received() const;
    ReadonlyBytes frame(abi::RingDescriptor const& descriptor) const;
    // Hands the next `count` full slots back (the frames in them are gone then).
    Result<u32> release(u32 count);
    // Waits up to timeout_ms (-1: forever) for a full slot; returns how many are full.
    Result<u32> wait(i64 timeout_ms);

    // The next transmit slot, if it is empty: write the frame at its page, then send().
    u8* transmit_slot();
    Result<u32> send(u32 length);
    Result<abi::RingStats> statistics() const;
    void close();

private:
    abi::RingSetup m_setup {};
    i64 m_descriptor { -1 };
    u32 m_next_receive { 0 };
    u32 m_next_transmit { 0 };
};

} // namespace skiff::user
