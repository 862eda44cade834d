#pragma once

// UDP (RFC 768): source port (2) | destination port (2) | length (2) | checksum (2) | data.
// The checksum covers a pseudo-header (source, destination, zero, 17, UDP length), the header
// and the data; 0 on the wire means "not computed" and a computed 0 is sent as 0xffff.

#include <lib/ByteOrder.h>
#include <lib/Result.h>
#include <lib/Span.h>

namespace skiff::net {

class UdpView {
public:
    static constexpr u32 kHeaderLength = 8;

    // Checks room for the header and a length field between 8 and the bytes available; the view
    // then spans exactly `length` bytes.
    static Result<UdpView> parse(ReadonlyBytes bytes)
    {
        if (bytes.size() < kHeaderLength)
            return Error::Malformed;
        u16 length = load_be16(bytes.data() + 4);
        if (length < kHeaderLength || length > bytes.size())
            return Error::Malformed;
        return UdpView(bytes.first(length));
    }

    u16 source_port() const { return load_be16(m_bytes.data()); }
    u16 destination_port() const { return load_be16(m_bytes.data() + 2); }
    u16 length() const { return load_be16(m_bytes.data() + 4); }
    u16 checksum() const { return load_be16(m_bytes.data() + 6); }
    ReadonlyBytes bytes() const { return m_bytes; }
    ReadonlyBytes payload() const { return m_bytes.slice(kHeaderLength); }

private:
    explicit UdpView(ReadonlyBytes bytes)
        : m_bytes(bytes)
    {
    }
    ReadonlyBytes m_bytes;
};

} // namespace skiff::net
