#include "SimWire.h"
#include "HostPort.h"

#include <algorithm>

namespace skiff::net {

Result<void> SimDevice::transmit(PacketBuffer& packet)
{
    std::vector<u8> frame(packet.total_length());
    if (m_gather) {
        // Walk the pieces as a gathering driver does, checking each is physically contiguous
        // within one page when it refers to pinned or stack pages.
        u32 at = 0;
        for (u32 i = 0; i < packet.piece_count(); ++i) {
            BufferPiece piece = packet.piece(i);
            if (piece.phys)
                VERIFY((piece.phys & (kPageSize - 1)) + piece.length <= kPageSize);
            std::copy(piece.virt, piece.virt + piece.length, frame.begin() + at);
            at += piece.length;
            ++pieces_seen;
        }
    } else {
        packet.copy_to(0, { frame.data(), frame.size() });
    }
    sent.push_back(std::move(frame));
    if (hold_transmits) {
        packet.ref();
        held.push_back(&packet);
    }
    return {};
}

bool SimDevice::inject(std::vector<u8> const& frame, u32 offset)
{
    PacketBuffer* buffer = allocate_receive_buffer();
    if (!buffer)
        return false;
    VERIFY(offset + frame.size() <= buffer->storage_capacity());
    std::copy(frame.begin(), frame.end(), buffer->storage() + offset);
    deliver(buffer, offset, static_cast<u32>(frame.size()));
    return true;
}

bool SimDevice::inject_header_first(std::vector<u8> const& frame)
{
    PacketBuffer* buffer = allocate_receive_buffer();
    VERIFY(buffer);
    u32 offset = receive_offset;
    u32 length = static_cast<u32>(frame.size());
    VERIFY(offset + length <= buffer->storage_capacity());
    u32 peek = length < kPlacedHeaderBytes ? length : kPlacedHeaderBytes;
    std::copy(frame.begin(), frame.begin() + peek, buffer->storage() + offset);
    PayloadDestination destination;
    if (peek == kPlacedHeaderBytes)
        destination = place_payload(*buffer, offset, length);
    auto rest = frame.begin() + peek;
    if (destination.count) {
        for (u32 i = 0; i < destination.count; ++i) {
            std::copy(rest, rest + static_cast<long>(destination.piece[i].size()), destination.piece[i].data());
            rest += static_cast<long>(destination.piece[i].size());
        }
        VERIFY(rest == frame.end());
    } else {
        std::copy(rest, frame.end(), buffer->storage() + offset + peek);
    }
    deliver(buffer, offset, length);
    return destination.count != 0;
}

u64 SimWire::next_random()
{
    m_random ^= m_random >> 12;
    m_random ^= m_random << 25;
    m_random ^= m_random >> 27;
    return m_random * 2685821657736338717ull;
}

void SimWire::take(SimDevice& from, SimDevice& to, u64 now_ns)
{
    while (!from.sent.empty()) {
        std::vector<u8> frame = std::move(from.sent.front());
        from.sent.pop_front();
        if (m_faults.loss_percent && roll() < m_faults.loss_percent) {
            ++m_dropped;
            continue;
        }
        u64 arrival = now_ns + m_faults.delay_ns;
        if (m_faults.reorder_percent && roll() < m_faults.reorder_percent)
            arrival += m_faults.delay_ns * (1 + next_random() % 4); // overtaken by later frames
        if (m_faults.duplicate_percent && roll() < m_faults.duplicate_percent)
            m_in_flight.push_back({ arrival + m_faults.delay_ns / 2, &to, frame });
        m_in_flight.push_back({ arrival, &to, std::move(frame) });
    }
}

void SimWire::step(u64 now_ns)
{
    take(m_a, m_b, now_ns);
    take(m_b, m_a, now_ns);
    std::stable_sort(m_in_flight.begin(), m_in_flight.end(),
        [](InFlight const& x, InFlight const& y) { return x.arrival < y.arrival; });
    size_t due = 0;
    while (due < m_in_flight.size() && m_in_flight[due].arrival <= now_ns)
        ++due;
    for (size_t i = 0; i < due; ++i) {
        if (m_in_flight[i].to->inject(m_in_flight[i].frame))
            ++m_delivered;
        else
            ++m_dropped;
    }
    m_in_flight.erase(m_in_flight.begin(), m_in_flight.begin() + static_cast<long>(due));
}

u64 SimWire::next_arrival() const
{
    u64 next = ~0ull;
    for (auto const& f : m_in_flight)
        next = std::min(next, f.arrival);
    return next;
}

TwoStacks::TwoStacks(WireFaults faults, u64 seed)
    : port_a(new HostPort(seed * 3 + 1))
    , port_b(new HostPort(seed * 7 + 5))
    , a(new NetStack(*port_a))
    , b(new NetStack(*port_b))
    , wire(device_a, device_b, faults, seed)
{
    MUST(a->initialize());
    MUST(b->initialize());
    NetConfig config_a;
    config_a.address = Ipv4Address::from_octets(10, 0, 0, 1);
    config_a.prefix_length = 24;
    config_a.gateway = Ipv4Address::any();
    NetConfig config_b = config_a;
    config_b.address = Ipv4Address::from_octets(10, 0, 0, 2);
    MUST(a->attach(device_a, config_a));
    MUST(b->attach(device_b, config_b));
    device_a.set_link_up(true);
    device_b.set_link_up(true);
}

TwoStacks::~TwoStacks()
{
    delete a;
    delete b;
    delete port_a;
    delete port_b;
}

void TwoStacks::run_until(u64 until_ns)
{
    for (int guard = 0; guard < 10000000; ++guard) {
        a->poll(now);
        b->poll(now);
        wire.step(now);
        if (!device_a.sent.empty() || !device_b.sent.empty())
            continue;
        u64 next = std::min({ a->next_deadline(), b->next_deadline(), wire.next_arrival() });
        if (next <= now)
            continue; // frames just delivered: poll again at the same time
        if (next > until_ns) {
            now = until_ns;
            a->poll(now);
            b->poll(now);
            wire.step(now);
            return;
        }
        now = next;
    }
}

} // namespace skiff::net
