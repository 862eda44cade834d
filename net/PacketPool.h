#pragma once

// Pools of packet buffers, allocated up front (LyraNET §3: "pre-allocated buffers are used
// rather than allocating them at run time"). Three kinds:
//   transmit  2 KiB blocks, two per page, with a DMA address: headroom + follow;
//   receive   a block of physically contiguous pages each, one frame per block, so each page
//             of payload can be remapped;
//   large     16 KiB, inside the pool object, for reassembled IPv4 datagrams (never DMA'd).
// The counters are what a test checks at its end and what the console's `stats` prints.
//
// Receive blocks. A driver that places frames itself (the NE2000 reads them by PIO) needs one
// page per frame. A DMA NIC writes a frame contiguously from the address in its descriptor for up
// to its buffer size (docs/hardware.md), and the e1000's buffer starts at a page's end minus the
// headers of a full TCP segment, so that the payload starts a page (docs/zero-copy.md): its
// frame runs on into the physically next pages, and its buffer must be a block of several. The
// device says how many (NetDevice::set_receive_extent, set_receive_block_pages here) and the
// pool makes blocks that size from then on:
//   - made: blocks are allocated up front, as many as the page budget allows (PoolSizes::
//     receive_pages: a larger block means fewer receive buffers); when the size changes, the
//     free buffers get new ones at once and the buffers in use when they come back.
//   - broken: zero-copy receive swaps payload pages of a block into an application and takes the
//     application's old frames instead (PacketBuffer::exchange_page); those come from anywhere,
//     so when the buffer is released its pages are freed one by one and a new block is made for
//     it. The number of frames the pool holds stays the same throughout.
//   - no block: when the port has no contiguous run left, the buffer waits without a block and
//     the next allocation tries again; until then the pool holds fewer buffers (counted in
//     `block_failures`), an allocation may fail like an empty pool, the driver keeps the frame's
//     slot for the next frame and drops this one, and TCP's window (receive_available) counts
//     only the buffers that have a block.

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/Port.h>

namespace skiff::net {

struct PoolCounters {
    u32 capacity { 0 };
    u32 in_use { 0 };
    u32 high_water { 0 };
    u64 allocations { 0 };
    u64 failures { 0 };
};

struct PoolSizes {
    u32 transmit { 256 };
    u32 receive { 256 };     // receive buffers
    u32 receive_pages { 0 }; // pages their blocks may hold in all; 0: one each
};

struct ReceiveBlockCounters {
    u32 block_pages { 1 };    // pages in a block made now
    u64 made { 0 };           // blocks allocated from the port (including the first ones)
    u64 broken { 0 };         // blocks released with pages exchanged by zero-copy receive
    u64 block_failures { 0 }; // no contiguous run of that many pages: an allocation failed
};

class PacketPool {
public:
    static constexpr u32 kMaxTransmit = 1024;
    static constexpr u32 kMaxReceive = 1024;
    static constexpr u32 kLargeCount = 4;

    PacketPool() = default;
    PacketPool(PacketPool const&) = delete;
    PacketPool& operator=(PacketPool const&) = delete;
    ~PacketPool();

    // Allocates every page the pools need from the port; fails if the port runs out.
    Result<void> initialize(Port& port, PoolSizes sizes);
    // Returns the pages to the port. Every buffer must have been released.
    void destroy();

    // A buffer with one reference, or a null PacketRef when the pool is empty.
    PacketRef allocate_transmit();
    PacketRef allocate_receive();
    PacketRef allocate_large();

    // Receive buffers allocated from now on get blocks of `pages` contiguous pages (1 to
    // PacketBuffer::kMaxBlockPages); the capacity becomes what PoolSizes::receive_pages allows.
    void set_receive_block_pages(u32 pages);
    u32 receive_block_pages() const { return m_blocks.block_pages; }

    PoolCounters const& transmit_counters() const { return m_transmit.counters; }
    PoolCounters const& receive_counters() const { return m_receive.counters; }
    PoolCounters const& large_counters() const { return m_large.counters; }
    ReceiveBlockCounters const& receive_block_counters() const { return m_blocks; }
    u32 in_use() const { return m_transmit.counters.in_use + m_receive.counters.in_use + m_large.counters.in_use; }
    u32 transmit_available() const { return m_transmit.counters.capacity - m_transmit.counters.in_use; }
    // Receive buffers still free: the zero-copy path and TCP's window look at this.
    u32 receive_available() const
    {
        u32 blocks = min(m_receive.counters.capacity, m_live_blocks);
        return blocks > m_receive.counters.in_use ? blocks - m_receive.counters.in_use : 0;
    }

    Port& port() { return *m_port; }

private:
    friend class PacketBuffer;
    struct FreeList {
        PacketBuffer* head { nullptr };
        PoolCounters counters;
    };
    PacketBuffer* take(FreeList&);
    void give_back(PacketBuffer*);
    void drop_frame(FrameRef const&);
    bool make_block(PacketBuffer&);
    void free_block(PacketBuffer&);
    u32 refill_receive();

    Port* m_port { nullptr };
    FreeList m_transmit;
    FreeList m_receive;
    FreeList m_large;
    PacketBuffer m_transmit_buffers[kMaxTransmit];
    PacketBuffer m_receive_buffers[kMaxReceive];
    PacketBuffer m_large_buffers[kLargeCount];
    alignas(16) u8 m_large_storage[kLargeCount][PacketBuffer::kLargeStorage];
    u32 m_transmit_count { 0 };
    u32 m_receive_count { 0 };
    u32 m_receive_pages { 0 };                 // PoolSizes::receive_pages
    PacketBuffer* m_receive_spare { nullptr }; // receive buffers without a block
    u32 m_live_blocks { 0 };                   // receive buffers with one, free or in use
    ReceiveBlockCounters m_blocks;
};

} // namespace skiff::net
