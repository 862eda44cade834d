#pragma once

// Sending a file's bytes on a TCP connection: the one place file data reaches the stack (the
// SendFile system call, kernel/syscall/SocketCalls.cpp, which the web server uses).
//
// Nothing is copied: the files lie page-aligned in the boot archive's frames
// (kernel/fs/BootArchive.h), each frame reference-counted, and net::TcpSocket::send_file hangs
// pieces pointing at those frames on the send queue (split at frame boundaries, one frame
// reference per piece, carried in TSO units on the e1000 and through the NE2000's remote-DMA
// gather otherwise; net/SendFile.h). A retransmission reads the same frames; the references come
// back when the buffers are acknowledged and freed, or when the connection ends.

#include <kernel/fs/BootArchive.h>
#include <lib/Result.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::knet {

// Queues bytes [offset, offset + length) of `file` (offset + length <= file.size) on a connected
// socket, as far as the socket's send buffer and the stack's transmit pool take them now: returns
// how many were queued; Error::WouldBlock when the send buffer is full (wait for the socket's
// waiter); Error::NoBufferSpace when the pool is down to its reserve (wait a few milliseconds:
// pool_waits counts those); or the socket's error. It
// leaves kTransmitReserve transmit buffers free, so one busy connection cannot take the buffers
// every other connection needs for its ACKs and SYN-ACKs. Stack lock held.
Result<usize> send_file_range(net::TcpSocket& socket, kfs::File const& file, u64 offset, u64 length);

constexpr u32 kTransmitReserve = 32;

// The transmit buffers all senders of file data share: the pool's capacity less the reserve. A
// sender that wants to be fair to the others keeps at most its share of these queued (the web
// server divides them among its connections; a task reads this as SocketOption::TransmitShare).
u32 transmit_buffers_to_share();

struct SendFileStats {
    u64 calls { 0 };
    u64 bytes { 0 };           // file bytes queued
    u64 copied_bytes { 0 };    // bytes the stack copied during these calls (its tcp_copied_bytes): 0
    u64 zero_copy_bytes { 0 }; // queued by reference to the file's pages: all of them
    u64 pool_waits { 0 };      // calls that found the transmit pool down to its reserve
};
SendFileStats send_file_stats(); // stack lock held, or a torn read is acceptable (console)

} // namespace skiff::knet
