#pragma once

// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
// the data taken as 16-bit big-endian words. Summing is associative, so pieces are summed
// separately and folded; an odd-length piece in the middle shifts the next one's byte lanes.

#include <lib/Span.h>
#include <lib/Types.h>
#include <net/Address.h>

namespace skiff::net {

class PacketBuffer;

class ChecksumAccumulator {
public:
    void add(ReadonlyBytes bytes);
    void add_u16(u16 value);
    void add_u32(u32 value);
    // Adds bytes [offset, offset + length) of a packet (headers, segments, follow).
    void add_packet(PacketBuffer const& packet, u32 offset, u32 length);
    // The checksum to store: ~sum.
    u16 finish() const;

private:
    u64 m_sum { 0 };
    bool m_odd { false }; // an odd number of bytes so far: the next byte is a low byte
};

u16 internet_checksum(ReadonlyBytes bytes);

// RFC 768 / RFC 9293 §3.1: the pseudo-header of source, destination, zero, protocol, length.
void add_pseudo_header(ChecksumAccumulator&, Ipv4Address source, Ipv4Address destination, u8 protocol, u16 length);

} // namespace skiff::net
