#pragma once

// Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894 for IPv4 over Ethernet):
//   destination MAC (6) | source MAC (6) | EtherType (2) | payload (46..1500)
// The FCS is neither seen nor written by the stack: the NIC strips and appends it.

#include <lib/ByteOrder.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <net/Address.h>

namespace skiff::net {

enum class EtherType : u16 {
    Ipv4 = 0x0800,
    Arp = 0x0806,
};

class EthernetView {
public:
    static constexpr u32 kHeaderLength = 14;
    static constexpr u32 kMinimumFrame = 60; // without FCS; shorter frames are padded on send

    static Result<EthernetView> parse(ReadonlyBytes bytes)
    {
        if (bytes.size() < kHeaderLength)
            return Error::Malformed;
        return EthernetView(bytes);
    }

    MacAddress destination() const { return MacAddress::from(m_bytes.data()); }
    MacAddress source() const { return MacAddress::from(m_bytes.data() + 6); }
    u16 ether_type() const { return load_be16(m_bytes.data() + 12); }
    ReadonlyBytes payload() const { return m_bytes.slice(kHeaderLength); }

    static void write(u8* out, MacAddress destination, MacAddress source, EtherType type)
    {
        destination.store(out);
        source.store(out + 6);
        store_be16(out + 12, static_cast<u16>(type));
    }

private:
    explicit EthernetView(ReadonlyBytes bytes)
        : m_bytes(bytes)
    {
    }
    ReadonlyBytes m_bytes;
};

} // namespace skiff::net
