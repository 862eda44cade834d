#include <net/NetStack.h>
#include <net/arp/ArpCache.h>

namespace skiff::net {

ArpCache::Entry* ArpCache::find(u8 interface, Ipv4Address address)
{
    for (Entry& e : m_entries)
        if (e.used && e.info.interface == interface && e.info.address == address)
            return &e;
    return nullptr;
}

void ArpCache::release_entry(Entry& entry)
{
    entry.queue.clear();
    entry.used = false;
    entry.permanent = false;
}

// Which entry gives way when the table is full: a failed one first, then one still resolving (the
// longest-resolving first; its waiting packets are dropped), and a resolved one only when every
// other entry is resolved too — the one closest to expiry. Never a static one. So a flood of
// packets from (or SYN-ACKs to) addresses that never answer churns among the unresolved entries
// and cannot push out the gateway's.
static u32 eviction_rank(ArpEntryInfo::State state)
{
    switch (state) {
    case ArpEntryInfo::State::Failed: return 0;
    case ArpEntryInfo::State::Incomplete: return 1;
    default: return 2;
    }
}

ArpCache::Entry* ArpCache::allocate(u8 interface, Ipv4Address address)
{
    Entry* victim = nullptr;
    for (Entry& e : m_entries) {
        if (!e.used) {
            victim = &e;
            break;
        }
        if (e.permanent)
            continue;
        if (!victim || eviction_rank(e.info.state) < eviction_rank(victim->info.state)
            || (eviction_rank(e.info.state) == eviction_rank(victim->info.state)
                && e.info.expires_ns < victim->info.expires_ns))
            victim = &e;
    }
    if (!victim) {
        ++m_stack.counters().arp_table_full;
        return nullptr;
    }
    if (victim->used) {
        ++m_stack.counters().arp_table_full;
        if (victim->info.state == ArpEntryInfo::State::Incomplete)
            m_stack.counters().arp_queue_overflow += victim->queue.size();
        release_entry(*victim);
    }
    victim->used = true;
    victim->permanent = false;
    victim->info = {};
    victim->info.interface = interface;
    victim->info.address = address;
    victim->requests_sent = 0;
    return victim;
}

void ArpCache::send_arp(u8 interface, ArpOperation operation, MacAddress destination, MacAddress target_mac,
    Ipv4Address target_ip, Ipv4Address sender_ip)
{
    PacketRef packet = m_stack.pool().allocate_transmit();
    if (!packet) {
        ++m_stack.counters().ip_no_buffer;
        return;
    }
    u8* body = packet->push_header(ArpView::kLength);
    ArpView::write(body, operation, m_stack.interface(interface).mac, sender_ip, target_mac, target_ip);
    (void)m_stack.transmit_frame(interface, destination, EtherType::Arp, move(packet));
}

void ArpCache::send_request(u8 interface, Ipv4Address target)
{
    ++m_stack.counters().arp_requests_sent;
    send_arp(interface, ArpOperation::Request, MacAddress::broadcast(), MacAddress {}, target,
        m_stack.interface(interface).address);
}

void ArpCache::send_gratuitous(u8 interface)
{
    // RFC 5227 §3 "ARP Announcement": a request with sender and target IP both ours and the
    // target hardware address zero.
    ++m_stack.counters().arp_gratuitous_sent;
    Ipv4Address own = m_stack.interface(interface).address;
    send_arp(interface, ArpOperation::Request, MacAddress::broadcast(), MacAddress {}, own, own);
}

void ArpCache::update(u8 interface, Ipv4Address address, MacAddress mac)
{
    Entry* entry = find(interface, address);
    if (!entry)
        return;
    bool was_waiting = entry->info.state != ArpEntryInfo::State::Reachable;
    entry->info.mac = mac;
    entry->info.state = ArpEntryInfo::State::Reachable;
    entry->info.expires_ns = m_stack.now() + kEntryLifetime;
    if (was_waiting)
        ++m_stack.counters().arp_resolved;
    while (PacketRef packet = entry->queue.pop())
        (void)m_stack.transmit_frame(interface, mac, EtherType::Ipv4, move(packet));
    entry->info.queued = 0;
}

void ArpCache::input(u8 interface, PacketRef packet)
{
    ++m_stack.counters().arp_rx;
    auto parsed = ArpView::parse(packet->linear());
    if (parsed.is_error()) {
        ++m_stack.counters().arp_drop_malformed;
        return;
    }
    ArpView arp = parsed.value();
    Interface const& own = m_stack.interface(interface);
    Ipv4Address sender = arp.sender_ip();
    MacAddress sender_mac = arp.sender_mac();
    // A sender claiming a broadcast or multicast MAC or address would poison the cache.
    if (sender_mac.is_multicast() || sender.is_limited_broadcast() || sender.is_multicast()) {
        ++m_stack.counters().arp_drop_malformed;
        return;
    }
    // RFC 826 "Packet Reception": merge the sender into an existing entry first; add a new one
    // only if the packet is for us. An address-probe (sender 0.0.0.0, RFC 5227) teaches nothing.
    //
    // Two hardenings against cache poisoning (RFC 826 predates them; Linux and the BSDs do the
    // like): a reply nobody asked for does not create an entry (only a request for us does, since
    // its sender will talk to us next), and a claim that a known, unexpired address now lives at a
    // different MAC is counted and ignored rather than believed — a forged reply for the gateway
    // must not redirect our traffic. The entry keeps its MAC until it expires or `arp -d`.
    bool for_us = arp.target_ip() == own.address;
    if (!sender.is_any() && !(sender == own.address)) {
        Entry* entry = find(interface, sender);
        if (!entry && for_us) {
            if (arp.operation() == ArpOperation::Request)
                entry = allocate(interface, sender);
            else
                ++m_stack.counters().arp_unsolicited_replies;
        }
        if (entry && !entry->permanent) {
            bool known = entry->info.state == ArpEntryInfo::State::Reachable && entry->info.expires_ns > m_stack.now();
            if (known && !(entry->info.mac == sender_mac)) {
                ++m_stack.counters().arp_conflicts_ignored;
            } else {
                if (entry->info.state != ArpEntryInfo::State::Reachable)
                    entry->info.state = ArpEntryInfo::State::Incomplete;
                update(interface, sender, sender_mac);
            }
        }
    }
    if (for_us && arp.operation() == ArpOperation::Request) {
        ++m_stack.counters().arp_replies_sent;
        send_arp(interface, ArpOperation::Reply, sender_mac, sender_mac, sender, own.address);
    }
}

Result<void> ArpCache::output(u8 interface, Ipv4Address next_hop, PacketRef packet)
{
    Interface const& own = m_stack.interface(interface);
    if (own.is_broadcast(next_hop))
        return m_stack.transmit_frame(interface, MacAddress::broadcast(), EtherType::Ipv4, move(packet));
    Entry* entry = find(interface, next_hop);
    if (entry && entry->info.state == ArpEntryInfo::State::Reachable) {
        if (entry->permanent || entry->info.expires_ns > m_stack.now())
            return m_stack.transmit_frame(interface, entry->info.mac, EtherType::Ipv4, move(packet));
        // Expired: resolve again, queueing this packet behind the new request.
        entry->info.state = ArpEntryInfo::State::Incomplete;
        entry->requests_sent = 0;
        entry->info.expires_ns = m_stack.now();
    }
    if (entry && entry->info.state == ArpEntryInfo::State::Failed) {
        if (entry->info.expires_ns > m_stack.now()) {
            return Error::HostUnreachable;
        }
        entry->info.state = ArpEntryInfo::State::Incomplete;
        entry->requests_sent = 0;
        entry->info.expires_ns = m_stack.now();
    }
    if (!entry) {
        entry = allocate(interface, next_hop);
        if (!entry) {
            return Error::NoMemory;
        }
        entry->info.state = ArpEntryInfo::State::Incomplete;
        entry->info.expires_ns = m_stack.now();
    }
    if (entry->queue.size() >= kQueuePerEntry) {
        // Keep the newest packets: drop the oldest, as Linux's arp_queue does.
        ++m_stack.counters().arp_queue_overflow;
        entry->queue.drop_front();
    }
    entry->queue.push(move(packet));
    entry->info.queued = entry->queue.size();
    if (entry->requests_sent == 0) {
        entry->requests_sent = 1;
        entry->info.expires_ns = m_stack.now() + kRetryInterval;
        send_request(interface, next_hop);
    }
    return {};
}

void ArpCache::poll(u64 now_ns)
{
    for (Entry& e : m_entries) {
        if (!e.used || e.permanent)
            continue;
        if (e.info.state == ArpEntryInfo::State::Incomplete && e.requests_sent > 0 && e.info.expires_ns <= now_ns) {
            if (e.requests_sent >= kMaxRequests) {
                // Give up: drop what waited and remember the failure for a while.
                ++m_stack.counters().arp_gave_up;
                e.queue.clear();
                e.info.queued = 0;
                e.info.state = ArpEntryInfo::State::Failed;
                e.info.expires_ns = now_ns + kFailedLifetime;
                continue;
            }
            ++e.requests_sent;
            e.info.expires_ns = now_ns + kRetryInterval;
            send_request(e.info.interface, e.info.address);
        } else if (e.info.state != ArpEntryInfo::State::Incomplete && e.info.expires_ns <= now_ns) {
            release_entry(e);
        }
    }
}

u64 ArpCache::next_deadline() const
{
    u64 deadline = ~0ull;
    for (Entry const& e : m_entries)
        if (e.used && !e.permanent && e.info.state == ArpEntryInfo::State::Incomplete && e.requests_sent > 0)
            deadline = min(deadline, e.info.expires_ns);
    return deadline;
}

u32 ArpCache::snapshot(ArpEntryInfo* out, u32 capacity) const
{
    u32 n = 0;
    for (Entry const& e : m_entries) {
        if (!e.used || n == capacity)
            continue;
        out[n] = e.info;
        out[n].queued = e.queue.size();
        ++n;
    }
    return n;
}

void ArpCache::flush()
{
    for (Entry& e : m_entries)
        if (e.used)
            release_entry(e);
}

void ArpCache::clear_queues()
{
    for (Entry& e : m_entries)
        e.queue.clear();
}

Result<void> ArpCache::add_static(u8 interface, Ipv4Address address, MacAddress mac)
{
    Entry* entry = find(interface, address);
    if (!entry)
        entry = allocate(interface, address);
    if (!entry)
        return Error::NoMemory;
    entry->permanent = true;
    entry->info.mac = mac;
    entry->info.state = ArpEntryInfo::State::Reachable;
    entry->info.expires_ns = ~0ull;
    while (PacketRef packet = entry->queue.pop())
        (void)m_stack.transmit_frame(interface, mac, EtherType::Ipv4, move(packet));
    return {};
}

} // namespace skiff::net
