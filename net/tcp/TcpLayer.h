#pragma once

// TCP (RFC 9293) for the stack: the socket table, demultiplexing, and the protocol engine split
// by concern across files:
//   TcpLayer.cpp        sockets, demultiplexing, RST for segments nobody wants, ISNs (RFC 6528)
//   TcpInput.cpp        segment arrival, RFC 9293 §3.10.7, hardened per RFC 5961
//   TcpOutput.cpp       building and sending segments, Nagle, windows, zero-copy segmentation
//   TcpTimers.cpp       retransmission (RFC 6298), delayed ACK, persist, keepalive, TIME-WAIT
//   TcpCongestion.cpp   slow start, congestion avoidance (RFC 5681); loss recovery: SACK
//                       scoreboard, RACK-TLP (RFC 8985), pipe (RFC 6675), PRR (RFC 6937)
//   TcpReassembly.cpp   out-of-order queue and SACK blocks (RFC 2018)
//   TcpSendFile.cpp     send_file: send-queue buffers whose pieces point at a file's frames
//   TcpSocket.cpp       the BSD calls

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/SendFile.h>
#include <net/tcp/TcpHeader.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::net {

class NetStack;

class TcpLayer {
public:
    static constexpr u32 kMaxSockets = 256;
    static constexpr u32 kMaxOutOfOrder = 64;                             // segments held out of order per socket
    static constexpr Duration kMinRto = Duration::from_ms(200);           // as Linux (RFC 6298 says 1 s)
    static constexpr Duration kMaxRto = Duration::from_s(60);             // RFC 6298 §2.5
    static constexpr Duration kInitialRto = Duration::from_s(1);          // RFC 6298 §2.1
    static constexpr Duration kDelayedAck = Duration::from_ms(40);        // RFC 9293 §3.8.6.3: < 0.5 s
    static constexpr Duration kTimeWait = Duration::from_s(60);           // 2 MSL with MSL = 30 s
    static constexpr Duration kHeldBufferRecheck = Duration::from_ms(10); // acknowledged, still on the NIC: look again
    static constexpr u32 kMaxRetransmits = 12;
    static constexpr u32 kMaxSynRetransmits = 6;
    static constexpr u32 kChallengeAcksPerSecond = 100; // RFC 5961 §7
    static constexpr u32 kTransmitReserve = 8;          // transmit buffers send() leaves for headers
    // RFC 8985 §7.2 WCDelAckT: what a probe waits beyond 2·SRTT when less than two full
    // segments are in flight, in case the receiver is delaying its ACK. The RFC recommends 200 ms
    // for the worst receivers; Linux (and Skiff) delay an ACK 40 ms at most on low-RTT paths, and
    // 200 ms would make the probe no earlier than the 200 ms minimum RTO (TcpCongestion.cpp).
    static constexpr Duration kTlpDelayedAck = Duration::from_ms(40);
    static constexpr Duration kTlpNoRtt = Duration::from_s(1); // PTO before any RTT sample

    explicit TcpLayer(NetStack& stack);

    // socket(AF_INET, SOCK_STREAM, 0)
    Result<TcpSocket*> open();
    // Copy elimination for sockets opened from now on (the console's `zc on|off`), and for the
    // connections listeners accept from now on unless the listener set its own; each socket can
    // still change its own with set_zero_copy().
    void set_default_zero_copy(bool on);
    bool default_zero_copy() const { return m_default_zero_copy; }
    // zero_copy_threshold of sockets opened from now on (the kernel measures it at boot).
    void set_default_zero_copy_threshold(u32 bytes) { m_default_zero_copy_threshold = bytes; }
    u32 default_zero_copy_threshold() const { return m_default_zero_copy_threshold; }
    // Tail-loss probes (RFC 8985 §7) for every connection; on by default. The console's
    // `tcp tlp on|off` sets it, so a test can compare the same transfer with and without.
    void set_loss_probes(bool on) { m_loss_probes = on; }
    bool loss_probes() const { return m_loss_probes; }
    // A TCP segment (linear region from the TCP header; meta filled).
    void input(PacketRef packet);
    void poll(u64 now_ns);
    u64 next_deadline() const;
    void abort_all();
    u32 sockets_in_use() const;
    // For `netstat`: calls visit(socket) for each socket in use.
    template<typename Visitor>
    void for_each_socket(Visitor visit) const
    {
        for (Tcb const& tcb : tcbs())
            if (tcb.in_use)
                visit(static_cast<TcpSocket const&>(*tcb.socket));
    }

private:
    friend class TcpSocket;

    Instant now() const;

    // TcpLayer.cpp
    Tcb* allocate_tcb();
    void free_tcb(Tcb&);
    Tcb* find_connection(SocketAddress local, SocketAddress remote);
    Tcb* find_listener(SocketAddress local);
    bool port_in_use(u16 port, Ipv4Address address) const;
    Result<u16> ephemeral_port();
    u32 initial_sequence(SocketAddress local, SocketAddress remote);
    void send_reset_for(PacketBuffer const& packet, TcpView const& tcp);
    void enter_closed(Tcb&, Error error);
    void wake(Tcb&);

    // TcpInput.cpp
    void input_listen(Tcb& listener, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options);
    void input_syn_sent(Tcb&, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options);
    void input_synchronized(Tcb&, PacketRef& packet, TcpView const& seg, TcpOptions const& options);
    // RFC 9293 §3.10.7.4, one function per step. Each returns whether processing goes on.
    bool check_sequence_number(Tcb&, TcpView const& seg, TcpOptions const& options);
    bool check_rst(Tcb&, TcpView const& seg);
    bool check_syn(Tcb&, TcpView const& seg);
    bool check_ack(Tcb&, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options);
    void check_urg(Tcb&, TcpView const& seg);
    bool process_segment_text(Tcb&, PacketRef& packet, TcpView const& seg);
    void check_fin(Tcb&, TcpView const& seg);
    bool process_ack(Tcb&, TcpView const& seg, TcpOptions const& options, u32 window);
    void process_data(Tcb&, PacketRef packet, TcpView const& seg);
    void process_fin(Tcb&);
    void apply_syn_options(Tcb&, TcpOptions const& options);
    void send_challenge_ack(Tcb&);

    // TcpOutput.cpp
public:
    // Send what the windows, Nagle and the state allow.
    void output(Tcb&);
    // Between these two calls (NetStack::poll around a batch of received frames) an ACK owed for
    // in-order data is held back and sent once at the end, covering the whole batch; an ACK
    // for a gap, a duplicate or a FIN still goes at once.
    void begin_input_batch() { m_in_input_batch = true; }
    void end_input_batch();

private:
    // Whether send() transmits at once, or leaves the bytes it queued to the ACK clock
    // (TcpOutput.cpp).
    bool sends_on_write(Tcb const&) const;
    // One segment, or a TSO unit of `count` consecutive send-queue buffers from `first`.
    Result<void> transmit(Tcb&, PacketBuffer* first, u32 count, u32 sequence, u8 flags);
    // How many send-queue buffers from `first` the next transmission takes: up to snd_una +
    // window, one device unit, buffers no one else holds.
    u32 unit_count(Tcb&, PacketBuffer* first, u32 window_end) const;
    void send_control(Tcb&, u32 sequence, u8 flags);
    void send_ack(Tcb& tcb) { send_control(tcb, tcb.snd_nxt, TcpFlag::Ack); }
    void send_syn(Tcb&);
    // Frees acknowledged buffers at the front of the send queue that the NIC has let go of
    // since their ACK came (TcpLayer.cpp).
    void release_acknowledged(Tcb&);
    bool free_sent(Tcb&, u32 acked);
    void drop_send_queue(Tcb&);
    u32 receive_window(Tcb&);
    Result<usize> queue_send(Tcb&, ReadonlyBytes data);
    Result<usize> queue_send_file(Tcb&, FileFrames const& file, u64 offset, u64 length); // TcpSendFile.cpp
    u32 append_payload(Tcb&, PacketBuffer&, u8 const* cursor, u32 count, bool zero_copy);
    u32 write_options(Tcb&, u8* out, u8 flags);
    u16 advertised_mss(Tcb&) const;

    // TcpTimers.cpp
    void run_timers(Tcb&, Instant now);
    void on_retransmission_timeout(Tcb&);
    void update_rtt(Tcb&, Duration sample);
    void arm_rto(Tcb&);
    void schedule_ack(Tcb&, bool full_segment);
    void enter_time_wait(Tcb&);
    void touch_keepalive(Tcb&);
    Instant tcb_deadline(Tcb const&) const;

    // TcpCongestion.cpp
    // What one ACK told the sender, for the congestion and loss-recovery code.
    struct AckSample {
        u32 acked { 0 };               // bytes SND.UNA advanced
        u32 delivered { 0 };           // bytes newly acknowledged or SACKed (RFC 6937 DeliveredData)
        bool duplicate { false };      // RFC 5681's duplicate ACK
        bool pure_duplicate { false }; // SND.UNA unchanged, no data, no SACK option
        bool dsack { false };          // the first SACK block reports a duplicate (RFC 2883)
        SackBlock dsack_block;
    };
    void on_new_ack(Tcb&, u32 acked_bytes);
    void on_ack_congestion(Tcb&, AckSample const&);
    void on_timeout_congestion(Tcb&);
    u32 flight_size(Tcb const&) const;
    // RFC 6675 "pipe": the bytes the sender believes are in the network.
    u32 pipe(Tcb const&) const;
    // The sequence number new data may reach now: the peer's window and the congestion window
    // over the pipe.
    u32 send_window_end(Tcb&) const;
    // Each send path calls this after a successful transmission of `count` buffers from `first`.
    void on_segments_sent(Tcb&, PacketBuffer* first, u32 count, bool retransmission);
    u32 apply_sack_blocks(Tcb&, TcpOptions const& options);
    u32 deliver_cumulative(Tcb&, u32 ack);
    void rack_update(Tcb&, PacketBuffer const& segment);
    Duration rack_reordering_window(Tcb const&) const;
    u32 rack_detect_loss(Tcb&);
    void mark_lost(Tcb&, PacketBuffer& segment);
    void enter_recovery(Tcb&);
    void retransmit_lost(Tcb&);
    void schedule_loss_probe(Tcb&);
    void on_loss_probe_timeout(Tcb&);
    void on_reordering_timeout(Tcb&);
    bool process_loss_probe_ack(Tcb&, AckSample const&);
    u32 now_us() const;

    // TcpReassembly.cpp
    void queue_out_of_order(Tcb&, PacketRef packet);
    void drain_out_of_order(Tcb&);
    void update_sack_blocks(Tcb&);

    NetStack& m_stack;
    // The blocks up to the highest ever in use: what every loop over the connections walks.
    Span<Tcb> tcbs() { return { m_tcbs, m_tcb_limit }; }
    Span<Tcb const> tcbs() const { return { m_tcbs, m_tcb_limit }; }

    Tcb m_tcbs[kMaxSockets];
    TcpSocket m_sockets[kMaxSockets]; // m_sockets[i] is the handle on m_tcbs[i]
    u32 m_tcb_limit { 0 };
    u64 m_isn_key[2] { 0, 0 };
    Instant m_challenge_window_start;
    u32 m_challenge_count { 0 };
    bool m_default_zero_copy { false };
    u32 m_default_zero_copy_threshold { TcpSocketOptions {}.zero_copy_threshold };
    bool m_in_input_batch { false };
    bool m_loss_probes { true };
};

} // namespace skiff::net
