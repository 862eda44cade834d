#pragma once

// IPv4 fragment reassembly (RFC 791 §3.2 "reassembly", RFC 815 for the idea of tracking holes).
//
// Bounds: kSlots datagrams at once, each at most PacketBuffer::kLargeStorage bytes, each given
// kTimeout to complete (RFC 1122 §3.3.2 suggests 60–120 s; Linux uses 30 s and so do we).
// Received data is tracked per 8-byte fragment block in a bitmap. A fragment that overlaps data
// already received is either an exact duplicate (same bytes: ignored) or an overlap with
// different bytes, which discards the whole datagram: overlapping fragments are the classic
// tool for slipping data past filters (RFC 1858, RFC 3128), and no honest sender produces them.

#include <net/PacketBuffer.h>
#include <net/PacketPool.h>
#include <net/ipv4/Ipv4Header.h>

namespace skiff::net {

class NetStack;

class Ipv4Reassembly {
public:
    static constexpr u32 kSlots = PacketPool::kLargeCount;
    static constexpr u64 kTimeout = 30ull * 1000000000ull;
    static constexpr u32 kBlocks = PacketBuffer::kLargeStorage / 8;

    explicit Ipv4Reassembly(NetStack& stack)
        : m_stack(stack)
    {
    }

    // A fragment; returns a complete datagram (a large buffer whose linear region is the
    // payload, meta filled) or a null PacketRef.
    PacketRef input(Ipv4View const& header, PacketRef fragment, u64 now_ns);
    void poll(u64 now_ns);
    u64 next_deadline() const;
    void clear();
    u32 active() const;

private:
    struct Slot {
        PacketRef buffer;
        Ipv4Address source;
        Ipv4Address destination;
        u16 identification { 0 };
        u8 protocol { 0 };
        u8 ttl { 0 };
        u32 total_length { 0 }; // payload length, known once the last fragment arrived
        u64 deadline { 0 };
        u8 blocks[kBlocks / 8] {};
    };
    void discard(Slot&);
    bool complete(Slot const&) const;

    NetStack& m_stack;
    Slot m_slots[kSlots];
};

} // namespace skiff::net
