#pragma once

// Sending a file's bytes on a TCP connection: the one place the web server (apps/httpd/) hands
// file data to the stack, so that a zero-copy sendfile can replace what is inside without the
// server changing.
//
// Today the bytes are COPIED: the call goes through TcpSocket::send(), which copies them into
// the stack's transmit buffers (their `follow`). The files already lie where a NIC could read
// them — page-aligned in the boot archive's frames (kernel/fs/BootArchive.h), each frame
// reference-counted — so the zero-copy version builds pieces that point at those pages (split at
// page boundaries, a frame reference per piece), as TCP units where the device has TSO.

#include <kernel/fs/BootArchive.h>
#include <lib/Result.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::knet {

// Queues bytes [offset, offset + length) of `file` (offset + length <= file.size) on a connected
// socket, as far as the socket's send buffer and the stack's transmit pool take them now: returns
// how many were queued, Error::WouldBlock when none (wait for the socket's waiter, or a few
// milliseconds when the pool was the limit: pool_waits counts those), or the socket's error. It
// leaves kTransmitReserve transmit buffers free, so one busy connection cannot take the buffers
// every other connection needs for its ACKs and SYN-ACKs. Stack lock held.
Result<usize> send_file_range(net::TcpSocket& socket, kfs::File const& file, u64 offset, u64 length);

constexpr u32 kTransmitReserve = 32;

// The transmit buffers all senders of file data share: the pool's capacity less the reserve. A
// sender that wants to be fair to the others keeps at most its share of these queued (the web
// server divides them among its connections). Stack lock held.
u32 transmit_buffers_to_share();

struct SendFileStats {
    u64 calls { 0 };
    u64 bytes { 0 };           // file bytes queued
    u64 copied_bytes { 0 };    // of which copied into transmit buffers (today: all)
    u64 zero_copy_bytes { 0 }; // queued by reference to the file's pages (today: none)
    u64 pool_waits { 0 };      // calls that found the transmit pool down to its reserve
};
SendFileStats send_file_stats(); // stack lock held, or a torn read is acceptable (console)

} // namespace skiff::knet
