#pragma once

// The packet buffer: LyraNET's extended sk_buff (LyraNET §3.3, Figure 3; docs/zero-copy.md).
//
//   [ headroom | headers ]   seg[0] -> data not copied   seg[1] -> data not copied   [ follow ]
//
// - Headers live in the buffer's own storage. A transmit buffer starts with kHeadroom bytes free
//   in front, so TCP, IPv4 and Ethernet each prepend their header without moving anything.
// - seg[2] refers to data the buffer does not own (the application's pages on a zero-copy send).
//   Each piece is physically contiguous (it never crosses a page boundary, LyraNET §3.4) and
//   holds a reference on its frame, dropped when the buffer is released.
// - follow is data that was copied into the buffer's own storage.
//
// That is one segment's worth. A large unit (TCP segmentation offload, up to 64 KiB) is a chain:
//
//   head [ headers ] -> payload buffer 1 (seg[0], seg[1], follow) -> payload buffer 2 -> ...
//
// The head carries the headers; it holds a reference on every payload buffer chained to it
// (TCP's send-queue buffers, one segment's payload each), dropped when the head is released. TCP
// sends every data segment this way, one payload buffer or many, so its send-queue buffers are
// never handed down the stack themselves and their `next` link stays TCP's.
// A driver emits the pieces in order: the head's linear region and own payload, then each chained
// buffer's seg[0], seg[1], follow (for_each_piece, or piece(0..piece_count())).
//
// A receive buffer is one page holding one frame at some offset; parsing pulls headers off the
// front of the linear region, and the page can later be remapped into an application buffer.

#include <lib/Span.h>
#include <lib/Types.h>
#include <net/Address.h>
#include <net/Port.h>

namespace skiff::net {

class PacketPool;
class PacketRef;

// A reference on the frame behind a data segment: a stack-owned page (ref_page/unref_page) or a
// pinned page of application memory (pin_user_page/unpin_user_page).
enum class FrameKind : u8 { None, Page, Pinned };
struct FrameRef {
    u64 phys { 0 };
    FrameKind kind { FrameKind::None };
};

struct DataSeg {
    u8 const* virt { nullptr };
    u64 phys { 0 };
    u32 length { 0 };
    FrameRef frame;
};

// One physically contiguous piece of a packet, as a gathering driver sees it.
struct BufferPiece {
    u8 const* virt { nullptr };
    u64 phys { 0 };
    u32 length { 0 };
};

// What the lower layers learned about a received packet, for the layers above.
struct PacketMeta {
    Ipv4Address source;
    Ipv4Address destination;
    u8 ttl { 0 };
    u8 interface {
        0
    };
    bool link_broadcast { false };
    u8 flags { 0 };      // TCP: the segment's flags (FIN matters on the out-of-order queue)
    u8 scoreboard { 0 }; // TCP send queue: SACKed / retransmitted in this recovery
    u32 sequence { 0 };  // TCP: sequence number of the first payload byte
    u32 aux { 0 };       // TCP: received, sequence number after the payload; send queue, the µs it was last sent
    // Transmit checksum offload: nonzero asks the device to complete the TCP/UDP checksum stored
    // at this offset into the transport header, summing from the transport header to the end of
    // the frame; the field already holds the pseudo-header sum (not complemented). Only set for
    // devices whose capabilities say tcp_udp_checksum_offload.
    u8 l4_checksum_offset { 0 };
    // TCP segmentation offload: nonzero marks a unit the device cuts into segments of this many
    // payload bytes (NetDeviceCapabilities::tso). The headers are the linear region; the IPv4
    // checksum field is zero and the TCP one holds the pseudo-header sum without the length.
    u16 tso_mss { 0 };
};

class PacketBuffer {
public:
    enum class Kind : u8 { Transmit, Receive, Large };

    static constexpr u32 kTransmitStorage = 2048; // two per page, never crossing a page
    static constexpr u32 kHeadroom = 128;         // Ethernet 14 + IPv4 60 + TCP 60 fits with room
    static constexpr u32 kFollowCapacity = kTransmitStorage - kHeadroom;
    static constexpr u32 kLargeStorage = 16384; // a reassembled datagram

    Kind kind() const { return m_kind; }

    // The linear region: headers on transmit, the whole (remaining) frame on receive.
    u8* data() { return m_base + m_head; }
    u8 const* data() const { return m_base + m_head; }
    u32 linear_length() const { return m_tail - m_head; }
    ReadonlyBytes linear() const { return { m_base + m_head, m_tail - m_head }; }
    u64 linear_phys() const { return m_phys ? m_phys + m_head : 0; }
    u32 headroom() const { return m_head; }
    u32 linear_offset() const { return m_head; }

    // Prepend `length` header bytes; running out of headroom is a programming error.
    u8* push_header(u32 length);
    // Consume `length` bytes from the front (receive side); false if there are not that many.
    bool pull(u32 length);
    // Shorten the linear region to `length` bytes (drop Ethernet padding); false if longer.
    bool truncate(u32 length);
    // Transmit side: forget the headers so a retransmission can build fresh ones.
    void reset_headers();
    // Receive and large side: the linear region is [offset, offset + length) of the storage.
    void set_linear(u32 offset, u32 length);
    u8* storage() { return m_base; }
    u32 storage_capacity() const { return m_capacity; }

    // seg[2]: data that is not copied. Takes over the frame reference in `segment`.
    bool add_segment(DataSeg const& segment);
    // Lengthen the last segment by `length` bytes that follow it at both its addresses (`virt`,
    // `phys` are where they start) inside the same frame, which its reference already covers: a
    // sendfile range continued where the last call stopped. False (nothing changes) when there is
    // no such segment, or follow already holds bytes (they would come first on the wire).
    bool extend_last_segment(u8 const* virt, u64 phys, u32 length);
    u8 segment_count() const { return m_segment_count; }
    DataSeg const& segment(u8 index) const;

    // follow: copied data after the segments (transmit buffers only).
    u8* follow_data() { return m_base + kHeadroom; }
    u8 const* follow_data() const { return m_base + kHeadroom; }
    u32 follow_length() const { return m_follow_length; }
    u32 follow_space() const;
    u32 append_follow(ReadonlyBytes bytes); // returns how many bytes fit
    // Grow follow by `count` bytes (≤ follow_space()) and return where to write them.
    u8* extend_follow(u32 count);

    // This buffer's own payload: its segments and follow.
    u32 payload_length() const { return m_segments_length + m_follow_length; }
    // A head's chain: payload buffers appended in order, each holding one more reference on it.
    void chain(PacketRef payload);
    PacketBuffer const* chain_first() const { return m_chain_first; }
    PacketBuffer const* chain_next() const { return m_chain_next; }
    u32 chain_length() const { return m_chain_length; }
    u32 chain_count() const { return m_chain_count; }
    // Everything after the headers (own payload and the chain's) and everything in total.
    u32 unit_payload_length() const { return payload_length() + m_chain_length; }
    u32 total_length() const { return linear_length() + unit_payload_length(); }

    // The pieces a gathering driver walks, in wire order, empty ones skipped: the linear region,
    // seg[0], seg[1], follow, then the same of each chained buffer. visit(BufferPiece) returns
    // false to stop early.
    template<typename Visitor>
    void for_each_piece(Visitor visit) const;
    u32 piece_count() const;
    BufferPiece piece(u32 index) const; // walks from the start: for tests and single frames
    // For drivers that cannot gather: copy bytes [offset, offset + out.size()) of the packet.
    void copy_to(u32 offset, Bytes out) const;

    // The page behind a receive buffer, and the swap the zero-copy receive path makes.
    PortPage page() const { return { m_base, m_phys }; }
    void exchange_page(PortPage page);

    // Reference counting: whoever keeps the buffer beyond a call takes a reference (a driver
    // holding it in a transmit ring, TCP keeping it for retransmission).
    void ref() { ++m_references; }
    void release();
    u16 reference_count() const { return m_references; }

    PacketMeta meta;
    PacketBuffer* next { nullptr }; // link for whichever single queue holds the buffer

private:
    friend class PacketPool;
    PacketBuffer() = default;
    template<typename Visitor>
    bool for_each_own_piece(Visitor& visit, bool with_linear) const;

    PacketPool* m_pool { nullptr };
    u8* m_base { nullptr };
    u64 m_phys { 0 }; // 0 when the storage has no DMA address (large buffers)
    u32 m_capacity { 0 };
    u32 m_head { 0 };
    u32 m_tail { 0 };
    u32 m_follow_length { 0 };
    u32 m_segments_length { 0 }; // bytes in m_segments
    DataSeg m_segments[2];
    u8 m_segment_count { 0 };
    Kind m_kind { Kind::Transmit };
    u16 m_references { 0 };
    PacketBuffer* m_free_next { nullptr };
    PacketBuffer* m_chain_first { nullptr }; // a head: its first payload buffer
    PacketBuffer* m_chain_last { nullptr };  // a head: its last payload buffer
    PacketBuffer* m_chain_next { nullptr };  // a chained payload buffer: the next one of its head
    u32 m_chain_length { 0 };                // a head: payload bytes in its chain
    u16 m_chain_count { 0 };                 // a head: payload buffers in its chain
};

template<typename Visitor>
bool PacketBuffer::for_each_own_piece(Visitor& visit, bool with_linear) const
{
    if (with_linear && linear_length() && !visit(BufferPiece { data(), linear_phys(), linear_length() }))
        return false;
    for (u8 i = 0; i < m_segment_count; ++i) {
        DataSeg const& segment = m_segments[i];
        if (segment.length && !visit(BufferPiece { segment.virt, segment.phys, segment.length }))
            return false;
    }
    if (m_follow_length && !visit(BufferPiece { m_base + kHeadroom, m_phys ? m_phys + kHeadroom : 0, m_follow_length }))
        return false;
    return true;
}

template<typename Visitor>
void PacketBuffer::for_each_piece(Visitor visit) const
{
    if (!for_each_own_piece(visit, true))
        return;
    for (PacketBuffer const* payload = m_chain_first; payload; payload = payload->m_chain_next)
        if (!payload->for_each_own_piece(visit, false))
            return;
}

// One reference on a packet buffer, owned: move-only, released by the destructor. Ownership of
// a packet passes between the layers (a received frame from the device queue up to a socket, a
// transmitted one down to the driver) as a PacketRef, so that no path can forget the release or
// release twice. A single pointer; moving it costs what passing the pointer did.
//
// A non-owning PacketBuffer* or & still names a packet someone else keeps (a queue's front, the
// buffer a driver's transmit() reads); share() takes a further reference for a new owner.
class PacketRef {
public:
    PacketRef() = default;
    // Adopts the one reference `packet` carries (a pool allocation, a pop from a raw list).
    explicit PacketRef(PacketBuffer* packet)
        : m_packet(packet)
    {
    }
    static PacketRef share(PacketBuffer& packet)
    {
        packet.ref();
        return PacketRef(&packet);
    }
    PacketRef(PacketRef&& other)
        : m_packet(other.leak())
    {
    }
    PacketRef& operator=(PacketRef&& other)
    {
        PacketBuffer* incoming = other.leak();
        reset();
        m_packet = incoming;
        return *this;
    }
    PacketRef(PacketRef const&) = delete;
    PacketRef& operator=(PacketRef const&) = delete;
    ~PacketRef() { reset(); }

    // Release the reference now.
    void reset()
    {
        if (m_packet)
            m_packet->release();
        m_packet = nullptr;
    }
    // Give the reference up together with the pointer (to a ring slot or a raw list).
    [[nodiscard]] PacketBuffer* leak()
    {
        PacketBuffer* packet = m_packet;
        m_packet = nullptr;
        return packet;
    }

    PacketBuffer* get() const { return m_packet; }
    PacketBuffer* operator->() const { return m_packet; }
    PacketBuffer& operator*() const { return *m_packet; }
    explicit operator bool() const { return m_packet != nullptr; }

private:
    PacketBuffer* m_packet { nullptr };
};

// A FIFO of packet buffers linked through PacketBuffer::next; it owns one reference on each.
class PacketQueue {
public:
    PacketQueue() = default;
    PacketQueue(PacketQueue&& other) { *this = move(other); }
    PacketQueue& operator=(PacketQueue&& other); // releases what this queue held
    PacketQueue(PacketQueue const&) = delete;
    PacketQueue& operator=(PacketQueue const&) = delete;
    ~PacketQueue() { clear(); }

    bool is_empty() const { return m_head == nullptr; }
    u32 size() const { return m_size; }
    PacketBuffer* front() const { return m_head; }
    PacketBuffer* back() const { return m_tail; }
    void push(PacketRef packet);
    [[nodiscard]] PacketRef pop();
    // Releases the front buffer (there must be one).
    void drop_front();
    // Releases every buffer in the queue.
    void clear();

private:
    PacketBuffer* m_head { nullptr };
    PacketBuffer* m_tail { nullptr };
    u32 m_size { 0 };
};

} // namespace skiff::net
