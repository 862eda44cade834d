#pragma once

// A TCP socket: the application's handle on one connection's state (the TCB, Tcb.h) and the BSD
// calls on it.
// Every call is non-blocking: Error::WouldBlock (or InProgress for connect) means "wait for
// readiness" — see Socket::set_waiter.
//
// Data path:
//  - send: the application's bytes are cut into segment-sized packet buffers on the send queue.
//    With copy elimination on, each buffer points into the application's pages through seg[]
//    (split at page boundaries, each page pinned through the port until ACKed; a third piece is
//    copied into follow); with it off, the bytes are copied into follow. The same buffers are
//    transmitted and retransmitted by one code path, and freed when acknowledged.
//  - send_file: the same buffers, their seg[] pieces pointing at the frames of a read-only file
//    (net/SendFile.h), each holding a frame reference until the buffer is freed; never copied.
//  - receive: received buffers queue on the socket as they arrived; recv copies out, or, with
//    recv_zero_copy(), copy elimination on and a destination in the zero-copy region at the
//    same page offset as the payload, hands the payload's pages to the port's remap hook, the
//    pages of one call in one batch.
//    receive_page_offset() tells a streaming application that offset, so it can line its
//    destination up (docs/zero-copy.md).

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/SendFile.h>
#include <net/socket/Socket.h>
#include <net/tcp/Tcb.h>

namespace skiff::net {

class TcpLayer;

class TcpSocket final : public Socket {
public:
    // BSD calls.
    Result<void> bind(SocketAddress local);
    Result<void> listen(u32 backlog);
    Result<TcpSocket*> accept(SocketAddress* peer = nullptr);
    Result<void> connect(SocketAddress remote); // InProgress at first; poll for kPollOut
    Result<usize> send(ReadonlyBytes data);
    // sendfile: queues bytes [offset, offset + length) of `file` by reference — send-queue
    // buffers whose seg[] pieces point at the file's frames, each holding a frame reference
    // (net/SendFile.h) — with no byte copied, whatever the socket's copy elimination says. As
    // send(): returns how many bytes the send buffer and the transmit pool took now, or
    // WouldBlock. A range starting past the end is refused (InvalidArgument); one running past
    // it is clipped there (0 when it starts at the end).
    Result<usize> send_file(FileFrames const& file, u64 offset, u64 length);
    // Copies; never touches the application's memory outside `out`.
    Result<usize> recv(Bytes out);
    // The zero-copy receive contract (docs/zero-copy.md). recv_zero_copy() is recv() for a
    // caller that gives the stack the whole pages under `out`: with copy elimination on, each
    // page of payload that lands at its own page offset inside a zero-copy buffer is swapped in by
    // remap (at least zero_copy_threshold bytes of it, all going into this call, none of this
    // call's bytes in front of it in the page), replacing the bytes of that page outside the
    // range returned — with receive placement and jumbo frames, whole pages, several per call,
    // their TLB work batched; and the call returns early, in front of a segment that could be
    // remapped but does not line up, so the next call can. receive_page_offset() is where to
    // line up: the offset within its 4 KiB page of the next byte a recv would return, or 0 when
    // nothing is queued.
    Result<usize> recv_zero_copy(Bytes out);
    u32 receive_page_offset() const;
    // A posted receive (docs/zero-copy.md, "Header-first receive"): an application about to wait
    // in recv_zero_copy(out) with nothing queued posts `out` — whole pages of a zero-copy buffer,
    // recv's while posted — and a driver that reads frames header first (the NE2000) puts the
    // payload of in-order data segments straight into it: the socket stage then moves no byte.
    // Refused (and nothing changes) unless copy elimination is on, the connection takes data,
    // nothing is queued and `out` is in the zero-copy region. take_posted() ends the posting and
    // returns how many bytes arrived, from out's start, in order and before anything queued
    // since; call it under the same lock hold as the recv that follows. `owner` goes back to the
    // port with the buffer (Port::posted_destination): the address space `out` is in.
    Result<void> post_receive(Bytes out, void* owner = nullptr);
    usize take_posted();
    bool has_posted_receive() const { return m_tcb->posted.active; }
    Result<void> shutdown_write();
    // Close the handle: a graceful FIN (or RST if unread data is discarded, RFC 2525 §2.17).
    void close();
    // Send RST and forget the connection at once.
    void abort();

    TcpSocketOptions& options() { return m_tcb->options; }
    void set_nodelay(bool on) { m_tcb->options.nodelay = on; }
    void set_zero_copy(bool on)
    {
        m_tcb->options.zero_copy = on;
        m_tcb->options.zero_copy_chosen = true;
    }
    void set_keepalive(bool on);
    void set_buffer_sizes(u32 send_bytes, u32 receive_bytes);

    u32 poll_events() const override;
    TcpState state() const { return m_tcb->state; }
    SocketAddress local() const { return m_tcb->local; }
    SocketAddress remote() const { return m_tcb->remote; }
    // The error that ended the connection, if any (ECONNRESET, ETIMEDOUT, ECONNREFUSED).
    Error error() const { return m_tcb->error; }
    TcpSocketStats const& stats() const { return m_tcb->stats; }
    u32 send_queued_bytes() const { return m_tcb->send_bytes; }
    // The earliest of this connection's timers (an ACK due, a retransmission, TIME-WAIT's end), or
    // never; never too once the connection is gone. A caller outside the stack's own thread that
    // just changed the connection compares it with when that thread means to look next.
    Instant next_deadline() const;
    // The completion report for zero-copy sends, in the spirit of Linux's MSG_ZEROCOPY. The bytes
    // of the connection's stream are numbered from 0 in the order send() took them;
    // send_released() is how many of them, from the first, the stack has let go of: acknowledged
    // and held by no device ring or ARP queue, so every page pinned for them is unpinned. A
    // cooperating application rewrites the memory of a send only once send_released() has passed
    // its last byte, and so never takes a COW fault; one that does not cooperate is still safe
    // (COW, docs/zero-copy.md). The socket's waiter is woken when it advances. Once the connection
    // can send no more (reset, TIME-WAIT) it equals send_accepted().
    u64 send_accepted() const { return m_tcb->send_accepted; }
    u64 send_released() const { return m_tcb->send_released; }
    u32 receive_queued_bytes() const { return m_tcb->receive_bytes; }
    u32 congestion_window() const { return m_tcb->cwnd; }
    u32 slow_start_threshold() const { return m_tcb->ssthresh; }
    Duration retransmission_timeout() const { return m_tcb->rto; }
    u16 send_mss() const { return m_tcb->snd_mss; }
    bool in_use() const { return m_tcb->in_use; }
    // The whole connection state, for inspection (netstat, tests).
    Tcb const& tcb() const { return *m_tcb; }

private:
    friend class TcpLayer; // binds each handle to its block
    Result<usize> receive(Bytes out, bool may_remap);
    // Whether the state lets the application queue data (send, send_file).
    Result<void> check_can_send() const;

    TcpLayer* m_layer { nullptr };
    Tcb* m_tcb { nullptr };
};

} // namespace skiff::net
