#pragma once

// The transmission control block (RFC 9293 §3.3.1): everything TCP remembers about one
// connection, as a plain struct. The protocol functions (TcpLayer, split by concern across
// net/tcp/) take it by reference; a TcpSocket is the application's handle on one.
//
// Names follow the RFC where it has one (SND.UNA is snd_una, RCV.NXT rcv_nxt, ISS iss); what it
// does not name follows BSD (snd_max, rcv_adv) or says what it is.

#include <lib/Error.h>
#include <lib/Time.h>
#include <net/PacketBuffer.h>
#include <net/socket/Socket.h>
#include <net/tcp/TcpHeader.h>

namespace skiff::net {

class TcpSocket;

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

// The sender's loss recovery: Open (nothing being repaired), Recovery (fast recovery after
// losses found by RACK or, without SACK, by three duplicate ACKs), Timeout (after a
// retransmission timeout, until everything outstanding then is acknowledged).
enum class TcpLossState : u8 {
    Open,
    Recovery,
    Timeout,
};
char const* tcp_loss_state_name(TcpLossState);

struct TcpSocketOptions {
    bool nodelay { false };                             // TCP_NODELAY: Nagle off
    bool keepalive { false };                           // SO_KEEPALIVE
    bool zero_copy { false };                           // copy elimination (docs/zero-copy.md): per socket
    bool zero_copy_chosen { false };                    // set_zero_copy() was called: ignore the global switch
    u32 send_buffer { 256 * 1024 };                     // SO_SNDBUF: bytes queued, unsent or unacknowledged
    u32 receive_buffer { 256 * 1024 };                  // SO_RCVBUF: the most we advertise
    Duration keepalive_idle { Duration::from_s(7200) }; // RFC 1122 §4.2.3.6: ≥ 2 hours
    Duration keepalive_interval { Duration::from_s(75) };
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
    u64 remapped_whole_pages { 0 }; // of those, pages all of whose 4096 bytes were payload
    u64 remap_batches { 0 };        // Port::remap_pages calls: the TLB work of one recv together
    u64 remapped_bytes { 0 };       // received without copying
    u64 placed_bytes { 0 };         // read by the driver straight into a posted buffer (header first)
};

// A posted receive (header-first receive, docs/zero-copy.md): the zero-copy destination of an
// application waiting in recv with nothing queued. A driver that reads frames by PIO puts the
// payload of in-order data segments straight into it (NetDevice::place_payload); TCP commits
// each when it has processed the segment. Bytes [0, filled) are the application's; the next
// `reserved` bytes are promised to frames read but not yet processed.
struct PostedReceive {
    u8* buffer { nullptr };
    void* owner { nullptr }; // the address space it is in, for Port::posted_destination
    u32 length { 0 };
    u32 filled { 0 };
    u32 reserved { 0 };
    u32 reserved_segments { 0 };
    bool active { false };
};

struct Tcb {
    // The handle this block belongs to (fixed for the table's lifetime) and who holds it.
    TcpSocket* socket { nullptr };
    bool in_use { false };
    bool user_closed { false }; // the application no longer holds the handle
    bool bound { false };

    TcpState state { TcpState::Closed };
    Error error { Error::None }; // what ended the connection, for the application
    SocketAddress local;
    SocketAddress remote;
    TcpSocketOptions options;
    TcpSocketStats stats;

    // Listening: embryonic and accept queues.
    Tcb* listener { nullptr }; // for a child not yet accepted
    Tcb* accept_next { nullptr };
    Tcb* accept_head { nullptr };
    u32 backlog { 0 };
    u32 accept_count { 0 };
    u32 embryonic_count { 0 };
    bool accepted_pending { false }; // a child on its listener's accept queue
    Instant syn_cookie_sent;         // a listener: when it last answered a SYN with a cookie

    // Send sequence variables (§3.3.1).
    u32 iss { 0 };
    u32 snd_una { 0 };
    u32 snd_nxt { 0 };
    u32 snd_max { 0 }; // highest sequence sent + 1
    u32 snd_wnd { 0 };
    u32 max_snd_wnd { 0 };
    u32 snd_wl1 { 0 };
    u32 snd_wl2 { 0 };
    u32 snd_end { 0 };                     // sequence after the last byte queued
    u8 snd_wscale { 0 };                   // the peer's shift, applied to windows it sends
    u16 snd_mss { 536 };                   // §3.7.1 default send MSS
    PacketQueue send_queue;                // the retransmission queue: unacknowledged and unsent data
    PacketBuffer* send_cursor { nullptr }; // a buffer at or before snd_nxt's, or null: search from the front
    u32 send_bytes { 0 };
    bool fin_queued { false };
    // The completion report: bytes send() has taken since the connection opened, and how many of
    // them, from the first, the stack no longer holds (TcpSocket::send_released).
    u64 send_accepted { 0 };
    u64 send_released { 0 };

    // Receive sequence variables.
    u32 irs { 0 };
    u32 rcv_nxt { 0 };
    u32 rcv_adv { 0 }; // right edge of the window last advertised: RCV.NXT + RCV.WND when sent
    u8 rcv_wscale { 0 };
    PacketQueue receive_queue;
    u32 receive_bytes { 0 };
    bool fin_received { false };
    PostedReceive posted;
    PacketQueue ooo_queue; // sorted by sequence, bounded by TcpLayer::kMaxOutOfOrder
    u32 ooo_bytes { 0 };
    SackBlock sack_blocks[4];
    u8 sack_count { 0 };

    // RCV.WND: what is left of the window last advertised.
    u32 rcv_wnd() const { return seq_gt(rcv_adv, rcv_nxt) ? rcv_adv - rcv_nxt : 0; }

    // Options agreed in the handshake.
    bool ts_enabled { false };
    bool sack_enabled { false };
    bool ws_enabled { false };
    u32 ts_recent { 0 };
    u32 ts_offset { 0 }; // our TSval = the millisecond clock + this (a cookie SYN-ACK's encoding)
    u32 last_ack_sent { 0 };

    // RFC 6298 round-trip estimation.
    bool rtt_measured { false };
    Duration srtt;
    Duration rttvar;
    Duration min_rtt;                     // the smallest sample yet (RACK.min_RTT, RFC 8985 §6.2 step 1); zero: none
    Duration rto { Duration::from_s(1) }; // RFC 6298 §2.1
    bool rtt_timing { false };
    u32 rtt_seq { 0 };
    Instant rtt_start;
    u32 backoff { 0 };

    // Congestion control (RFC 5681) and loss recovery: the SACK scoreboard on the send queue's
    // buffers (PacketMeta::scoreboard, TcpHeader.h), RACK-TLP's time-based loss detection and
    // probes (RFC 8985), retransmission by the RFC 6675 pipe, and Proportional Rate Reduction
    // (RFC 6937) for the window during fast recovery. TcpCongestion.cpp explains the whole.
    u32 cwnd { 0 };
    u32 ssthresh { 0xffffffff };
    u32 dupacks { 0 };
    u32 recover { 0 }; // snd_max when the current recovery began (RFC 6582 "recover")
    TcpLossState loss_state { TcpLossState::Open };
    bool scoreboard_marked { false }; // some outstanding buffer may be SACKed, lost or retransmitted
    bool fin_lost { false };          // our FIN, sent, is to be sent again (a timeout)
    bool retransmit_held { false };   // a lost buffer waits for the NIC to let go of it
    u32 prr_delivered { 0 };          // RFC 6937: bytes delivered since recovery began
    u32 prr_out { 0 };                // bytes sent since recovery began
    u32 recover_fs { 0 };             // RecoverFS: the flight when it began
    u32 dupack_credit { 0 };          // without SACK: bytes duplicate ACKs said were delivered

    // RACK (RFC 8985 §6): the most recently sent segment known delivered, and what follows.
    bool rack_valid { false };
    u32 rack_xmit_us { 0 }; // RACK.xmit_ts, on the send-time clock of PacketMeta::aux (µs)
    u32 rack_end_seq { 0 }; // RACK.end_seq
    Duration rack_rtt;      // RACK.rtt
    u32 rack_fack { 0 };    // RACK.fack: the highest sequence delivered
    bool rack_reordering_seen { false };
    u32 rack_reo_wnd_mult { 1 };
    u32 rack_reo_wnd_persist { 0 };
    bool rack_dsack_round_valid { false };
    u32 rack_dsack_round { 0 };

    // TLP (RFC 8985 §7): one probe outstanding at most, ending at tlp_end_seq.
    bool tlp_outstanding { false };
    bool tlp_is_retransmission { false };
    u32 tlp_start_seq { 0 };
    u32 tlp_end_seq { 0 };

    // Timers: absolute deadlines, unset (Instant {}) when stopped.
    Instant rto_deadline;
    Instant pto_deadline;  // TLP's probe timeout
    Instant rack_deadline; // RACK's reordering timer
    Instant delack_deadline;
    Instant persist_deadline;
    Instant keepalive_deadline;
    Instant timewait_deadline;
    u32 keepalive_sent { 0 };
    u32 persist_backoff { 0 };
    u32 segments_unacked { 0 }; // full segments received since our last ACK
    bool ack_now { false };
};

} // namespace skiff::net
