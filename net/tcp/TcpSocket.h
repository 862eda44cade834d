#pragma once

// A TCP socket: the connection state of RFC 9293 §3.3.1 (the TCB) and the BSD calls on it.
// Every call is non-blocking: Error::WouldBlock (or InProgress for connect) means "wait for
// readiness" — see Socket::set_waiter.
//
// Data path:
//  - send: the application's bytes are cut into segment-sized packet buffers on the send queue.
//    With copy elimination on, each buffer points into the application's pages through seg[]
//    (split at page boundaries, each page pinned through the port until ACKed; a third piece is
//    copied into follow); with it off, the bytes are copied into follow. The same buffers are
//    transmitted and retransmitted by one code path, and freed when acknowledged.
//  - receive: received page buffers queue on the socket as they arrived; recv copies out, or,
//    with recv_zero_copy(), copy elimination on and a destination in the zero-copy region at the
//    same page offset as the payload, hands the page to the port's remap hook.
//    receive_page_offset() tells a streaming application that offset, so it can line its
//    destination up (docs/zero-copy.md).

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/socket/Socket.h>
#include <net/tcp/TcpHeader.h>

namespace skiff::net {

class TcpLayer;

// RFC 9293 §3.3.2.
enum class TcpState : u8 {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
};
char const* tcp_state_name(TcpState);

struct TcpSocketOptions {
    bool nodelay { false };                            // TCP_NODELAY: Nagle off
    bool keepalive { false };                          // SO_KEEPALIVE
    bool zero_copy { false };                          // copy elimination (docs/zero-copy.md): per socket
    bool zero_copy_chosen { false };                   // set_zero_copy() was called: ignore the global switch
    u32 send_buffer { 256 * 1024 };                    // SO_SNDBUF: bytes queued, unsent or unacknowledged
    u32 receive_buffer { 256 * 1024 };                 // SO_RCVBUF: the most we advertise
    u64 keepalive_idle_ns { 7200ull * 1000000000ull }; // RFC 1122 §4.2.3.6: ≥ 2 hours
    u64 keepalive_interval_ns { 75ull * 1000000000ull };
    u32 keepalive_probes { 9 };
    // Below this many bytes recv copies rather than remaps. membench under TCG (mm/README.md):
    // a remap + invlpg costs ~550 cycles, a memcpy ~0.48 cycles/byte, so they break even near
    // 1.1 KiB; a full 1448-byte payload is worth remapping, a 500-byte tail is not.
    u32 zero_copy_threshold { 1024 };
};

struct TcpSocketStats {
    u64 segments_sent { 0 };
    u64 segments_received { 0 };
    u64 retransmits { 0 };
    u64 bytes_acked { 0 };
    u64 bytes_received { 0 };
    u64 zero_copy_pieces { 0 };
    u64 copied_bytes { 0 };
    u64 remapped_pages { 0 };
    u64 remapped_bytes { 0 }; // received without copying
};

class TcpSocket final : public Socket {
public:
    // BSD calls.
    Result<void> bind(SocketAddress local);
    Result<void> listen(u32 backlog);
    Result<TcpSocket*> accept(SocketAddress* peer = nullptr);
    Result<void> connect(SocketAddress remote); // InProgress at first; poll for kPollOut
    Result<usize> send(ReadonlyBytes data);
    // Copies; never touches the application's memory outside `out`.
    Result<usize> recv(Bytes out);
    // The zero-copy receive contract (docs/zero-copy.md). recv_zero_copy() is recv() for a
    // caller that gives the stack the whole pages under `out`: with copy elimination on, a
    // segment whose payload lands at its own page offset inside a zero-copy buffer is swapped in
    // by remap (at least zero_copy_threshold bytes, the first piece of the call, the whole rest
    // of the payload fits), replacing the bytes of that page outside the range returned; and the
    // call returns early, in front of a segment that could be remapped whole, so the next call
    // can line up with it. receive_page_offset() is where to line up: the offset within its
    // 4 KiB page of the next byte a recv would return, or 0 when nothing is queued.
    Result<usize> recv_zero_copy(Bytes out);
    u32 receive_page_offset() const;
    Result<void> shutdown_write();
    // Close the handle: a graceful FIN (or RST if unread data is discarded, RFC 2525 §2.17).
    void close();
    // Send RST and forget the connection at once.
    void abort();

    TcpSocketOptions& options() { return m_options; }
    void set_nodelay(bool on) { m_options.nodelay = on; }
    void set_zero_copy(bool on)
    {
        m_options.zero_copy = on;
        m_options.zero_copy_chosen = true;
    }
    void set_keepalive(bool on);
    void set_buffer_sizes(u32 send_bytes, u32 receive_bytes);

    u32 poll_events() const override;
    TcpState state() const { return m_state; }
    SocketAddress local() const { return m_local; }
    SocketAddress remote() const { return m_remote; }
    // The error that ended the connection, if any (ECONNRESET, ETIMEDOUT, ECONNREFUSED).
    Error error() const { return m_error; }
    TcpSocketStats const& stats() const { return m_stats; }
    u32 send_queued_bytes() const { return m_send_bytes; }
    u32 receive_queued_bytes() const { return m_receive_bytes; }
    u32 congestion_window() const { return m_cwnd; }
    u32 slow_start_threshold() const { return m_ssthresh; }
    u64 retransmission_timeout_ns() const { return m_rto; }
    u16 send_mss() const { return m_mss; }
    bool in_use() const { return m_in_use; }

private:
    friend class TcpLayer;
    void reset_state();
    Result<usize> receive(Bytes out, bool may_remap);

    TcpLayer* m_layer { nullptr };
    bool m_in_use { false };
    bool m_user_closed { false }; // the application no longer holds the handle
    bool m_bound { false };
    TcpState m_state { TcpState::Closed };
    Error m_error { Error::None };
    SocketAddress m_local;
    SocketAddress m_remote;
    TcpSocketOptions m_options;
    TcpSocketStats m_stats;

    // Listening: embryonic and accept queues.
    TcpSocket* m_listener { nullptr }; // for a child not yet accepted
    TcpSocket* m_accept_next { nullptr };
    TcpSocket* m_accept_head { nullptr };
    u32 m_backlog { 0 };
    u32 m_accept_count { 0 };
    u32 m_embryonic_count { 0 };
    bool m_accepted_pending { false }; // child is on its listener's accept queue

    // Send sequence variables (RFC 9293 §3.3.1).
    u32 m_iss { 0 };
    u32 m_snd_una { 0 };
    u32 m_snd_nxt { 0 };
    u32 m_snd_max { 0 }; // highest sequence sent + 1
    u32 m_snd_wnd { 0 };
    u32 m_max_snd_wnd { 0 };
    u32 m_snd_wl1 { 0 };
    u32 m_snd_wl2 { 0 };
    u32 m_snd_end { 0 };   // sequence after the last byte queued
    u8 m_snd_wscale { 0 }; // the peer's shift, applied to windows it sends
    u16 m_mss { 536 };     // RFC 9293 §3.7.1 default send MSS
    PacketQueue m_send_queue;
    PacketBuffer* m_send_cursor { nullptr }; // a buffer at or before snd_nxt's, or null: search from the front
    u32 m_send_bytes { 0 };
    bool m_fin_queued { false };

    // Receive sequence variables.
    u32 m_irs { 0 };
    u32 m_rcv_nxt { 0 };
    u32 m_rcv_adv { 0 }; // right edge of the window last advertised
    u8 m_rcv_wscale { 0 };
    PacketQueue m_receive_queue;
    u32 m_receive_bytes { 0 };
    bool m_fin_received { false };
    PacketQueue m_ooo_queue; // sorted by sequence, bounded by kMaxOutOfOrder
    u32 m_ooo_bytes { 0 };
    SackBlock m_sack_blocks[4];
    u8 m_sack_count { 0 };

    // Options agreed in the handshake.
    bool m_ts_enabled { false };
    bool m_sack_enabled { false };
    bool m_ws_enabled { false };
    u32 m_ts_recent { 0 };
    u32 m_last_ack_sent { 0 };

    // RFC 6298 round-trip estimation, in nanoseconds.
    bool m_rtt_measured { false };
    u64 m_srtt { 0 };
    u64 m_rttvar { 0 };
    u64 m_rto { 1000000000ull };
    bool m_rtt_timing { false };
    u32 m_rtt_seq { 0 };
    u64 m_rtt_start { 0 };
    u32 m_backoff { 0 };

    // RFC 5681 / RFC 6582 congestion control.
    u32 m_cwnd { 0 };
    u32 m_ssthresh { 0xffffffff };
    u32 m_dupacks { 0 };
    u32 m_recover { 0 };
    bool m_in_recovery { false };
    u32 m_highest_sacked { 0 }; // RFC 6675 HighACK/HighSACK bookkeeping, valid with m_sacked_any
    bool m_sacked_any { false };

    // Timers: absolute deadlines in ns, 0 when stopped.
    u64 m_rto_deadline { 0 };
    u64 m_delack_deadline { 0 };
    u64 m_persist_deadline { 0 };
    u64 m_keepalive_deadline { 0 };
    u64 m_timewait_deadline { 0 };
    u32 m_keepalive_sent { 0 };
    u32 m_persist_backoff { 0 };
    u32 m_segments_unacked { 0 }; // full segments received since our last ACK
    bool m_ack_now { false };
};

} // namespace skiff::net
