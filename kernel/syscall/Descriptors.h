#pragma once

// A task's descriptors: its sockets, packet rings and open files, numbered from 3 (0-2 are the
// console). One table per task, made on its first Socket or FileOpen call, freed with the task.
//
// Every socket of a task shares the table's one NetWaiter (kernel/net/NetWaiter.h): the stack
// wakes it whenever any of them may have become ready, and each waiting thread re-checks its own.
// That is what lets Poll wait on many sockets at once, and several threads wait on one.
//
// A descriptor is reference-counted: the table holds one, each system call using it holds one
// for its duration, so Close by one thread while another waits in Receive on the same descriptor
// frees nothing under the waiter (the socket closes when that call returns).

#include <kernel/fs/BootArchive.h>
#include <kernel/net/NetWaiter.h>
#include <kernel/task/Task.h>
#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::net {
class TcpSocket;
class UdpSocket;
} // namespace skiff::net

namespace skiff::syscall {

class PacketRing; // kernel/syscall/PacketRing.h

enum class DescriptorKind : u8 { Tcp, Udp, Ping, Ring, File };

struct Descriptor {
    DescriptorKind kind { DescriptorKind::Tcp };
    net::TcpSocket* tcp { nullptr };
    net::UdpSocket* udp { nullptr };
    PacketRing* ring { nullptr };
    kfs::File file; // a boot-archive file: its pages stay mounted for as long as the kernel runs
    u16 ping_identifier { 0 };
    bool nonblocking { false };
    u64 receive_timeout_ms { 0 }; // 0: wait as long as it takes
    u64 linger_ms { 0 };
    u32 references { 1 };
};

class DescriptorTable {
public:
    static constexpr u32 kSlots = task::kMaxDescriptors;

    // The task's table, made on first use (NoMemory if it cannot be).
    static Result<DescriptorTable*> of(task::Task& task);

    // Installs `descriptor` (its reference becomes the table's) at the lowest free number.
    Result<i64> add(Descriptor* descriptor);
    // The descriptor open as `number`, with a reference for the caller; null if none.
    Descriptor* acquire(i64 number);
    // Drops a reference; the last one closes the socket and frees the descriptor.
    void release(Descriptor* descriptor);
    // Takes `number` out of the table (Close); BadDescriptor if it is not open. Returns the
    // descriptor with the table's reference, now the caller's.
    Result<Descriptor*> take(i64 number);
    // Every descriptor, at the task's end (no thread of it is left).
    void close_all();
    u32 open_count() const;

    knet::NetWaiter& waiter() { return m_waiter; }

    // Poll's working copy of its entries and the descriptors they hold: a whole table's worth
    // (3.8 KiB) is too much for a 16 KiB kernel stack, and a heap block that size is a page mapped
    // and unmapped per call. One per table, made on the first Poll and kept; one call at a time
    // has it (a second thread polling at the same moment gets a block of its own).
    struct PollScratch {
        abi::PollEntry user[abi::kMaxPollEntries];
        Descriptor* held[abi::kMaxPollEntries];
    };
    PollScratch* take_poll_scratch(); // null: no memory
    void give_back_poll_scratch(PollScratch* scratch);
    ~DescriptorTable();

    // Closes a descriptor's socket or ring, now (the stack lock is taken here).
    static void close_now(Descriptor& descriptor);

    // For netstat: which task holds each open socket. Fills up to `capacity` entries; returns how many.
    struct SocketOwner {
        void const* socket;
        u32 task_id;
        char task_name[16];
        DescriptorKind kind;
    };
    static u32 socket_owners(SocketOwner* owners, u32 capacity);

private:
    Descriptor* m_slots[kSlots] {}; // guarded by interrupts off
    knet::NetWaiter m_waiter;
    PollScratch* m_poll_scratch { nullptr }; // guarded by interrupts off, with m_poll_scratch_taken
    bool m_poll_scratch_taken { false };
};

} // namespace skiff::syscall
