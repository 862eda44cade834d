#pragma once

// Pools of packet buffers, allocated up front (LyraNET §3: "pre-allocated buffers are used
// rather than allocating them at run time"). Three kinds:
//   transmit  2 KiB blocks, two per page, with a DMA address: headroom + follow;
//   receive   one page each, one frame per page, so the payload page can be remapped;
//   large     16 KiB, inside the pool object, for reassembled IPv4 datagrams (never DMA'd).
// The counters are what a test checks at its end and what the console's `stats` prints.

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
    u32 receive { 256 };
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

    PoolCounters const& transmit_counters() const { return m_transmit.counters; }
    PoolCounters const& receive_counters() const { return m_receive.counters; }
    PoolCounters const& large_counters() const { return m_large.counters; }
    u32 in_use() const { return m_transmit.counters.in_use + m_receive.counters.in_use + m_large.counters.in_use; }
    u32 transmit_available() const { return m_transmit.counters.capacity - m_transmit.counters.in_use; }
    // Receive buffers still free: the zero-copy path and TCP's window look at this.
    u32 receive_available() const { return m_receive.counters.capacity - m_receive.counters.in_use; }

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
};

} // namespace skiff::net
