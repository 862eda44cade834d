#pragma once

// An ARP packet for IPv4 over Ethernet (RFC 826):
//   htype=1 (2) | ptype=0x0800 (2) | hlen=6 (1) | plen=4 (1) | oper (2)
//   sender MAC (6) | sender IP (4) | target MAC (6) | target IP (4)        = 28 bytes

#include <lib/ByteOrder.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <net/Address.h>

namespace skiff::net {

enum class ArpOperation : u16 {
    Request = 1,
    Reply = 2,
};

class ArpView {
public:
    static constexpr u32 kLength = 28;

    static Result<ArpView> parse(ReadonlyBytes bytes)
    {
        if (bytes.size() < kLength)
            return Error::Malformed;
        u8 const* p = bytes.data();
        if (load_be16(p) != 1 || load_be16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4)
            return Error::NotSupported;
        u16 operation = load_be16(p + 6);
        if (operation != 1 && operation != 2)
            return Error::Malformed;
        return ArpView(bytes);
    }

    ArpOperation operation() const { return static_cast<ArpOperation>(load_be16(m_bytes.data() + 6)); }
    MacAddress sender_mac() const { return MacAddress::from(m_bytes.data() + 8); }
    Ipv4Address sender_ip() const { return { load_be32(m_bytes.data() + 14) }; }
    MacAddress target_mac() const { return MacAddress::from(m_bytes.data() + 18); }
    Ipv4Address target_ip() const { return { load_be32(m_bytes.data() + 24) }; }

    static void write(u8* out, ArpOperation operation, MacAddress sender_mac, Ipv4Address sender_ip,
        MacAddress target_mac, Ipv4Address target_ip)
    {
        store_be16(out, 1);
        store_be16(out + 2, 0x0800);
        out[4] = 6;
        out[5] = 4;
        store_be16(out + 6, static_cast<u16>(operation));
        sender_mac.store(out + 8);
        store_be32(out + 14, sender_ip.value);
        target_mac.store(out + 18);
        store_be32(out + 24, target_ip.value);
    }

private:
    explicit ArpView(ReadonlyBytes bytes)
        : m_bytes(bytes)
    {
    }
    ReadonlyBytes m_bytes;
};

} // namespace skiff::net
