#pragma once

// The ARP cache and resolver (RFC 826, RFC 1122 §2.3.2).
//
// - Entries learned from requests and replies live kEntryLifetime = 1200 s after their last
//   refresh (the lifetime LyraNET's stack used, Liu et al. §IV).
// - While an address is being resolved, up to kQueuePerEntry packets wait on its entry
//   (RFC 1122 §2.3.2.2 asks for at least one); more are dropped and counted.
// - A request is retried every kRetryInterval up to kMaxRequests times; then the waiting packets
//   are dropped and the entry stays Failed for kFailedLifetime, during which sends to that
//   address fail at once with Error::HostUnreachable (the "clear error").
// - A gratuitous ARP (a request for our own address) announces us when a link comes up.

#include <lib/Result.h>
#include <net/Address.h>
#include <net/PacketBuffer.h>
#include <net/arp/ArpPacket.h>

namespace skiff::net {

class NetStack;

struct ArpEntryInfo {
    Ipv4Address address;
    MacAddress mac;
    u8 interface {
        0
    };
    enum class State : u8 { Incomplete, Reachable, Failed } state { State::Incomplete };
    u64 expires_ns { 0 }; // Reachable and Failed: when it goes; Incomplete: next retry
    u32 queued { 0 };
};

class ArpCache {
public:
    static constexpr u32 kEntries = 32;
    static constexpr u32 kQueuePerEntry = 4;
    static constexpr u32 kMaxRequests = 3;
    static constexpr u64 kEntryLifetime = 1200ull * 1000000000ull;
    static constexpr u64 kRetryInterval = 1000000000ull;
    static constexpr u64 kFailedLifetime = 20ull * 1000000000ull;

    explicit ArpCache(NetStack& stack)
        : m_stack(stack)
    {
    }

    // An Ethernet payload of type ARP arrived on `interface`. Consumes the packet.
    void input(u8 interface, PacketRef packet);
    // Send an IPv4 packet (IP header already built) to `next_hop`: at once if the MAC is known,
    // otherwise queued behind a request. Consumes the packet on every path.
    Result<void> output(u8 interface, Ipv4Address next_hop, PacketRef packet);
    void send_gratuitous(u8 interface);
    void poll(u64 now_ns);
    u64 next_deadline() const;

    // Console: `arp` shows, `arp -d` flushes (queued packets are dropped).
    u32 snapshot(ArpEntryInfo* out, u32 capacity) const;
    void flush();
    // Static entry (tests, or a console `arp -s`).
    Result<void> add_static(u8 interface, Ipv4Address address, MacAddress mac);
    // Drop every queued packet (stack shutdown).
    void clear_queues();

private:
    struct Entry {
        bool used { false };
        bool permanent { false };
        ArpEntryInfo info;
        u32 requests_sent { 0 };
        PacketQueue queue;
    };
    Entry* find(u8 interface, Ipv4Address address);
    Entry* allocate(u8 interface, Ipv4Address address);
    void update(u8 interface, Ipv4Address address, MacAddress mac);
    void send_request(u8 interface, Ipv4Address target);
    void send_arp(u8 interface, ArpOperation operation, MacAddress destination, MacAddress target_mac,
        Ipv4Address target_ip, Ipv4Address sender_ip);
    void release_entry(Entry&);

    NetStack& m_stack;
    Entry m_entries[kEntries];
};

} // namespace skiff::net
