#include <net/NetStack.h>
#include <net/ipv4/Ipv4Reassembly.h>

namespace skiff::net {

static bool block_set(u8 const* bitmap, u32 block)
{
    return bitmap[block / 8] & (1u << (block % 8));
}

// Empties a slot, releasing its buffer if it still has one.
void Ipv4Reassembly::discard(Slot& slot)
{
    slot.~Slot();
    new (&slot) Slot {};
}

bool Ipv4Reassembly::complete(Slot const& slot) const
{
    if (!slot.total_length)
        return false;
    u32 blocks = (slot.total_length + 7) / 8;
    for (u32 b = 0; b < blocks; ++b)
        if (!block_set(slot.blocks, b))
            return false;
    return true;
}

PacketRef Ipv4Reassembly::input(Ipv4View const& header, PacketRef fragment, u64 now_ns)
{
    NetCounters& counters = m_stack.counters();
    ++counters.reasm_fragments;
    u32 offset = header.fragment_offset();
    u32 length = fragment->linear_length();
    bool more = header.more_fragments();
    // RFC 791: every fragment but the last carries a multiple of 8 bytes, and none is empty.
    if (length == 0 || (more && length % 8)) {
        ++counters.reasm_malformed;
        return {};
    }
    Slot* slot = nullptr;
    for (Slot& s : m_slots) {
        if (s.buffer && s.source == header.source() && s.destination == header.destination()
            && s.identification == header.identification() && s.protocol == header.protocol()) {
            slot = &s;
            break;
        }
    }
    if (offset + length > PacketBuffer::kLargeStorage) {
        // The datagram can never be whole: give up what it holds too (as Linux does), or its
        // first pieces would keep a slot for the whole timeout.
        ++counters.reasm_too_big;
        if (slot)
            discard(*slot);
        return {};
    }
    if (!slot) {
        // With every slot taken, the oldest unfinished datagram gives way: fragments that never
        // finish (a flood of first pieces) must not shut reassembly for kTimeout.
        Slot* oldest = nullptr;
        for (Slot& s : m_slots) {
            if (!s.buffer) {
                slot = &s;
                break;
            }
            if (!oldest || s.deadline < oldest->deadline)
                oldest = &s;
        }
        if (!slot && oldest) {
            ++counters.reasm_no_slot;
            discard(*oldest);
            slot = oldest;
        }
        PacketRef buffer = slot ? m_stack.pool().allocate_large() : PacketRef {};
        if (!buffer) {
            if (!oldest)
                ++counters.reasm_no_slot;
            return {};
        }
        discard(*slot);
        slot->buffer = move(buffer);
        slot->source = header.source();
        slot->destination = header.destination();
        slot->identification = header.identification();
        slot->protocol = header.protocol();
        slot->deadline = now_ns + kTimeout;
    }
    u32 end = offset + length;
    if (!more) {
        if ((slot->total_length && slot->total_length != end)) {
            ++counters.reasm_malformed; // two different ends
            discard(*slot);
            return {};
        }
        slot->total_length = end;
    }
    if (slot->total_length && end > slot->total_length) {
        ++counters.reasm_malformed;
        discard(*slot);
        return {};
    }
    u8* storage = slot->buffer->storage();
    u32 first_block = offset / 8;
    u32 last_block = (end + 7) / 8;
    u32 already = 0;
    for (u32 b = first_block; b < last_block; ++b)
        already += block_set(slot->blocks, b) ? 1 : 0;
    if (already) {
        bool same
            = already == last_block - first_block && __builtin_memcmp(storage + offset, fragment->data(), length) == 0;
        if (same) {
            ++counters.reasm_duplicates;
            return {};
        }
        ++counters.reasm_overlaps;
        discard(*slot);
        return {};
    }
    __builtin_memcpy(storage + offset, fragment->data(), length);
    for (u32 b = first_block; b < last_block; ++b)
        slot->blocks[b / 8] |= static_cast<u8>(1u << (b % 8));
    if (offset == 0)
        slot->ttl = fragment->meta.ttl;
    PacketMeta meta = fragment->meta;
    fragment.reset();
    if (!complete(*slot))
        return {};
    ++counters.reasm_completed;
    u32 total = slot->total_length;
    u8 ttl = slot->ttl;
    PacketRef datagram = move(slot->buffer);
    discard(*slot);
    datagram->set_linear(0, total);
    datagram->meta = meta; // source, destination, protocol (aux), interface
    datagram->meta.ttl = ttl;
    return datagram;
}

void Ipv4Reassembly::poll(u64 now_ns)
{
    for (Slot& s : m_slots) {
        if (s.buffer && s.deadline <= now_ns) {
            // RFC 792 allows a Time Exceeded (code 1) here; we only count.
            ++m_stack.counters().reasm_timeouts;
            discard(s);
        }
    }
}

u64 Ipv4Reassembly::next_deadline() const
{
    u64 deadline = ~0ull;
    for (Slot const& s : m_slots)
        if (s.buffer)
            deadline = min(deadline, s.deadline);
    return deadline;
}

void Ipv4Reassembly::clear()
{
    for (Slot& s : m_slots)
        if (s.buffer)
            discard(s);
}

u32 Ipv4Reassembly::active() const
{
    u32 n = 0;
    for (Slot const& s : m_slots)
        n += s.buffer ? 1 : 0;
    return n;
}

} // namespace skiff::net
