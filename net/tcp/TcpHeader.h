#pragma once

// The TCP header (RFC 9293 §3.1) and its options:
//   source port (2) | destination port (2) | sequence number (4) | acknowledgment number (4)
//   data offset(4) reserved(4) | flags CWR ECE URG ACK PSH RST SYN FIN (1) | window (2)
//   checksum (2) | urgent pointer (2) | options (data offset*4 - 20) | data
// Options parsed: MSS (kind 2, RFC 9293 §3.7.1), window scale (3, RFC 7323 §2), SACK-permitted
// (4) and SACK (5) (RFC 2018), timestamps (8, RFC 7323 §3).

#include <lib/ByteOrder.h>
#include <lib/Result.h>
#include <lib/Span.h>

namespace skiff::net {

namespace TcpFlag {
static constexpr u8 Fin = 0x01;
static constexpr u8 Syn = 0x02;
static constexpr u8 Rst = 0x04;
static constexpr u8 Psh = 0x08;
static constexpr u8 Ack = 0x10;
static constexpr u8 Urg = 0x20;
} // namespace TcpFlag

// Send-queue scoreboard bits (PacketMeta::scoreboard): RFC 6675's scoreboard and RFC 8985's
// per-segment state. A send-queue buffer's PacketMeta::aux holds the time it was last sent.
static constexpr u8 kScoreboardSacked = 0x01;            // the peer SACKed it
static constexpr u8 kScoreboardRetransmitted = 0x02;     // a retransmission of it is in flight
static constexpr u8 kScoreboardLost = 0x04;              // deemed lost: resent unless Retransmitted
static constexpr u8 kScoreboardEverRetransmitted = 0x08; // ever sent twice: its ACK is ambiguous

struct SackBlock {
    u32 left { 0 };
    u32 right { 0 };
};

struct TcpOptions {
    u16 mss { 0 }; // 0: absent
    bool has_window_scale { false };
    u8 window_scale { 0 };
    bool sack_permitted { false };
    bool has_timestamps { false };
    u32 ts_value { 0 };
    u32 ts_echo { 0 };
    u8 sack_count { 0 };
    SackBlock sack[4];
};

class TcpView {
public:
    static constexpr u32 kMinimumHeader = 20;

    // Checks room for the fixed header and a data offset between 5 words and the bytes present.
    static Result<TcpView> parse(ReadonlyBytes bytes)
    {
        if (bytes.size() < kMinimumHeader)
            return Error::Malformed;
        u32 header = (bytes[12] >> 4) * 4u;
        if (header < kMinimumHeader || header > bytes.size())
            return Error::Malformed;
        return TcpView(bytes);
    }

    u16 source_port() const { return load_be16(m_bytes.data()); }
    u16 destination_port() const { return load_be16(m_bytes.data() + 2); }
    u32 sequence() const { return load_be32(m_bytes.data() + 4); }
    u32 acknowledgment() const { return load_be32(m_bytes.data() + 8); }
    u32 header_length() const { return (m_bytes[12] >> 4) * 4u; }
    u8 flags() const { return m_bytes[13]; }
    bool has(u8 flag) const { return flags() & flag; }
    u16 window() const { return load_be16(m_bytes.data() + 14); }
    ReadonlyBytes options_bytes() const { return m_bytes.slice(kMinimumHeader, header_length() - kMinimumHeader); }
    ReadonlyBytes payload() const { return m_bytes.slice(header_length()); }

    // RFC 9293 §3.1: kinds 0 (end) and 1 (no-op) are one byte; every other option has a length
    // ≥ 2 that must stay inside the header. Returns false for a malformed list.
    bool parse_options(TcpOptions& out) const
    {
        ReadonlyBytes list = options_bytes();
        usize i = 0;
        while (i < list.size()) {
            u8 kind = list[i];
            if (kind == 0)
                break;
            if (kind == 1) {
                ++i;
                continue;
            }
            if (i + 1 >= list.size())
                return false;
            u8 length = list[i + 1];
            if (length < 2 || i + length > list.size())
                return false;
            u8 const* p = list.data() + i + 2;
            switch (kind) {
            case 2:
                if (length != 4)
                    return false;
                out.mss = load_be16(p);
                break;
            case 3:
                if (length != 3)
                    return false;
                out.has_window_scale = true;
                out.window_scale = p[0] > 14 ? 14 : p[0]; // RFC 7323 §2.3: clamp to 14
                break;
            case 4:
                if (length != 2)
                    return false;
                out.sack_permitted = true;
                break;
            case 5:
                if ((length - 2) % 8)
                    return false;
                out.sack_count = 0;
                for (u32 b = 0; b < (length - 2u) / 8 && b < 4; ++b) {
                    out.sack[b] = { load_be32(p + 8 * b), load_be32(p + 8 * b + 4) };
                    ++out.sack_count;
                }
                break;
            case 8:
                if (length != 10)
                    return false;
                out.has_timestamps = true;
                out.ts_value = load_be32(p);
                out.ts_echo = load_be32(p + 4);
                break;
            default: break; // unknown options are skipped (RFC 9293 §3.1)
            }
            i += length;
        }
        return true;
    }

private:
    explicit TcpView(ReadonlyBytes bytes)
        : m_bytes(bytes)
    {
    }
    ReadonlyBytes m_bytes;
};

// Sequence number arithmetic modulo 2^32 (RFC 9293 §3.4).
constexpr bool seq_lt(u32 a, u32 b)
{
    return static_cast<i32>(a - b) < 0;
}
constexpr bool seq_leq(u32 a, u32 b)
{
    return static_cast<i32>(a - b) <= 0;
}
constexpr bool seq_gt(u32 a, u32 b)
{
    return static_cast<i32>(a - b) > 0;
}
constexpr bool seq_geq(u32 a, u32 b)
{
    return static_cast<i32>(a - b) >= 0;
}
constexpr u32 seq_max(u32 a, u32 b)
{
    return seq_gt(a, b) ? a : b;
}
constexpr u32 seq_min(u32 a, u32 b)
{
    return seq_lt(a, b) ? a : b;
}

} // namespace skiff::net
