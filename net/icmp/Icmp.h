#pragma once

// ICMP for a host (RFC 792, RFC 1122 §3.2.2): answers echo requests, sends echo requests for a
// guest `ping` and collects their replies, and sends destination unreachable for protocols and
// ports nobody listens on. Errors are rate limited by a token bucket (RFC 1812 §4.3.2.8,
// RFC 1122 §3.2.2) and never sent about ICMP errors, broadcasts or non-first fragments.

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/icmp/IcmpHeader.h>
#include <net/ipv4/Ipv4Header.h>

namespace skiff::net {

class NetStack;

struct EchoReply {
    Ipv4Address source;
    u16 identifier { 0 };
    u16 sequence { 0 };
    u16 length { 0 }; // ICMP data bytes
    u8 ttl { 0 };
    bool data_ok { false }; // the payload came back as sent
    u64 received_ns { 0 };
};

class Icmp {
public:
    static constexpr u32 kReplyRing = 32;
    static constexpr u32 kBucketSize = 20;
    static constexpr u64 kTokenInterval = 10 * 1000000ull; // 100 errors per second

    explicit Icmp(NetStack& stack)
        : m_stack(stack)
    {
    }

    // An ICMP message (linear region from the ICMP header; meta filled by IPv4). Consumes it.
    void input(PacketRef packet);

    // Guest ping: an echo request with `data_length` bytes of a known pattern.
    Result<void> send_echo_request(Ipv4Address destination, u16 identifier, u16 sequence, u16 data_length);
    // The oldest reply for `identifier`, if any has arrived.
    Result<EchoReply> take_echo_reply(u16 identifier);
    void set_echo_waiter(void* waiter) { m_echo_waiter = waiter; }

    // Destination unreachable about a received datagram: its linear region is the transport
    // payload and its meta says where it came from. Suppressed per RFC 1122 §3.2.2, rate limited.
    void send_unreachable(UnreachableCode code, PacketBuffer const& datagram);

private:
    void answer_echo(PacketRef request, IcmpView const& view);
    bool take_token();
    static u8 pattern_byte(u32 index) { return static_cast<u8>(index * 7 + 3); }

    NetStack& m_stack;
    EchoReply m_replies[kReplyRing];
    u32 m_reply_head { 0 };
    u32 m_reply_count { 0 };
    void* m_echo_waiter { nullptr };
    u32 m_tokens { kBucketSize };
    u64 m_last_refill { 0 };
};

} // namespace skiff::net
