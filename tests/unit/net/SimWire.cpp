#include "SimWire.h"
#include "HostPort.h"

#include <algorithm>

#include <net/tcp/TcpHeader.h>

namespace skiff::net {

static u16 load16(std::vector<u8> const& f, usize at)
{
    return static_cast<u16>(f[at] << 8 | f[at + 1]);
}

static void store16(std::vector<u8>& f, usize at, u16 value)
{
    f[at] = static_cast<u8>(value >> 8);
    f[at + 1] = static_cast<u8>(value);
}

static u32 load32(std::vector<u8> const& f, usize at)
{
    return static_cast<u32>(load16(f, at)) << 16 | load16(f, at + 2);
}

// The internet checksum of f[start, end), the field at `field` included as it is.
static u16 sum_range(std::vector<u8> const& f, usize start, usize end, u32 seed = 0)
{
    u64 sum = seed;
    for (usize i = start; i < end; i += 2)
        sum += i + 1 < end ? load16(f, i) : static_cast<u16>(f[i] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<u16>(~sum);
}

Result<void> SimDevice::transmit(PacketBuffer& packet)
{
    std::vector<u8> frame(packet.total_length());
    u32 pieces = 0;
    if (m_gather) {
        // Walk the pieces as a gathering driver does, checking each is physically contiguous
        // within one page when it refers to pinned or stack pages.
        u32 at = 0;
        piece_addresses.emplace_back();
        packet.for_each_piece([&](BufferPiece const& piece) {
            piece_addresses.back().push_back(piece.phys);
            if (piece.phys)
                VERIFY((piece.phys & (kPageSize - 1)) + piece.length <= kPageSize);
            std::copy(piece.virt, piece.virt + piece.length, frame.begin() + at);
            at += piece.length;
            ++pieces_seen;
            ++pieces;
            return true;
        });
    } else {
        packet.copy_to(0, { frame.data(), frame.size() });
    }
    u32 mss = packet.meta.tso_mss;
    usize ip = 14;
    usize tcp = ip + (frame.size() > ip ? (frame[ip] & 0x0f) * 4u : 0);
    if (mss) {
        // A unit: only a TSO device gets one, within its limits, with the checksums seeded.
        u32 header = packet.linear_length();
        VERIFY(tso && packet.meta.l4_checksum_offset == 16 && header >= tcp + 20);
        VERIFY(frame.size() - header <= tso_max_bytes && pieces <= tso_max_pieces);
        VERIFY(load16(frame, ip + 10) == 0); // the IPv4 checksum field, summed over by the card
        units.push_back(
            { static_cast<u32>(frame.size() - header), pieces, static_cast<u16>(mss), load32(frame, tcp + 4) });
        u32 payload = static_cast<u32>(frame.size() - header);
        u16 id = load16(frame, ip + 4);
        u32 sequence = load32(frame, tcp + 4);
        u16 seed = load16(frame, tcp + 16);
        for (u32 offset = 0, index = 0; offset < payload; offset += mss, ++index) {
            u32 count = std::min(mss, payload - offset);
            std::vector<u8> segment(frame.begin(), frame.begin() + header);
            segment.insert(segment.end(), frame.begin() + header + offset, frame.begin() + header + offset + count);
            store16(segment, ip + 2, static_cast<u16>(segment.size() - ip));
            store16(segment, ip + 4, static_cast<u16>(id + index));
            store16(segment, ip + 10, 0);
            store16(segment, ip + 10, sum_range(segment, ip, tcp));
            u32 seq = sequence + offset;
            segment[tcp + 4] = static_cast<u8>(seq >> 24);
            segment[tcp + 5] = static_cast<u8>(seq >> 16);
            segment[tcp + 6] = static_cast<u8>(seq >> 8);
            segment[tcp + 7] = static_cast<u8>(seq);
            if (offset + count < payload)
                segment[tcp + 13] &= static_cast<u8>(~(TcpFlag::Psh | TcpFlag::Fin));
            // The seed plus this segment's TCP length, then the sum over header and payload.
            u32 seeded = seed + static_cast<u32>(segment.size() - tcp);
            seeded = (seeded & 0xffff) + (seeded >> 16);
            store16(segment, tcp + 16, static_cast<u16>(seeded));
            u16 checksum = sum_range(segment, tcp, segment.size());
            store16(segment, tcp + 16, checksum ? checksum : 0xffff);
            sent.push_back(std::move(segment));
            ++tso_segments;
        }
    } else {
        if (packet.meta.l4_checksum_offset) {
            // Checksum offload: the field holds the pseudo-header sum; the card sums from the
            // transport header to the end.
            VERIFY(tso);
            usize field = tcp + packet.meta.l4_checksum_offset;
            u16 checksum = sum_range(frame, tcp, frame.size());
            store16(frame, field, checksum ? checksum : 0xffff);
        }
        sent.push_back(std::move(frame));
    }
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
    VERIFY(offset + frame.size() <= kPageSize);
    std::copy(frame.begin(), frame.end(), buffer->storage() + offset);
    deliver(buffer, offset, static_cast<u32>(frame.size()));
    return true;
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

TwoStacks::TwoStacks(WireFaults faults, u64 seed, bool tso)
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
    device_a.tso = tso;
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
