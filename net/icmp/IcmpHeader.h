#pragma once

// ICMP (RFC 792): type (1) | code (1) | checksum (2) | rest of header (4) | data.
// Echo and echo reply use the rest as identifier (2) | sequence (2); destination unreachable
// leaves it zero and carries the offending IP header plus the first 8 bytes of its payload.

#include <lib/ByteOrder.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <net/Checksum.h>

namespace skiff::net {

enum class IcmpType : u8 {
    EchoReply = 0,
    DestinationUnreachable = 3,
    Echo = 8,
    TimeExceeded = 11,
};

enum class UnreachableCode : u8 {
    Network = 0,
    Host = 1,
    Protocol = 2,
    Port = 3,
    FragmentationNeeded = 4,
};

class IcmpView {
public:
    static constexpr u32 kHeaderLength = 8;

    static Result<IcmpView> parse(ReadonlyBytes bytes)
    {
        if (bytes.size() < kHeaderLength)
            return Error::Malformed;
        return IcmpView(bytes);
    }

    bool checksum_ok() const { return internet_checksum(m_bytes) == 0; }
    u8 type() const { return m_bytes[0]; }
    u8 code() const { return m_bytes[1]; }
    u16 identifier() const { return load_be16(m_bytes.data() + 4); }
    u16 sequence() const { return load_be16(m_bytes.data() + 6); }
    ReadonlyBytes data() const { return m_bytes.slice(kHeaderLength); }
    ReadonlyBytes bytes() const { return m_bytes; }

private:
    explicit IcmpView(ReadonlyBytes bytes)
        : m_bytes(bytes)
    {
    }
    ReadonlyBytes m_bytes;
};

} // namespace skiff::net
