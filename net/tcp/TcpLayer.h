#pragma once

// TCP (RFC 9293) for the stack: the socket table, demultiplexing, and the protocol engine split
// by concern across files:
//   TcpLayer.cpp        sockets, demultiplexing, RST for segments nobody wants, ISNs (RFC 6528)
//   TcpInput.cpp        segment arrival, RFC 9293 §3.10.7, hardened per RFC 5961
//   TcpOutput.cpp       building and sending segments, Nagle, windows, zero-copy segmentation
//   TcpTimers.cpp       retransmission (RFC 6298), delayed ACK, persist, keepalive, TIME-WAIT
//   TcpCongestion.cpp   slow start, congestion avoidance (RFC 5681); loss recovery: SACK
//                       scoreboard, RACK-TLP (RFC 8985), pipe (RFC 6675), PRR (RFC 6937)
//   TcpSynCookies.cpp   SYN cookies when a listener is full (RFC 4987 §3.6)
//   TcpReassembly.cpp   out-of-order queue and SACK blocks (RFC 2018)
//   TcpSendFile.cpp     send_file: send-queue buffers whose pieces point at a file's frames
//   TcpSocket.cpp       the BSD calls

#include <lib/Result.h>
#include <net/NetDevice.h>
#include <net/PacketBuffer.h>
#include <net/SendFile.h>
#include <net/tcp/TcpHeader.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::net {

class NetStack;

// SYN cookies (TcpSynCookies.cpp): the MSS table the cookie's three low bits index, and the
// encodings, for tests.
inline constexpr u32 kSynCookieMssEntries = 8;
extern u16 const kSynCookieMss[kSynCookieMssEntries];
// The entry for a SYN's MSS option (0: absent): the largest not above it, the first below them all.
u32 syn_cookie_mss_index(u16 offered_mss);
// The six low bits of a cookie SYN-ACK's TSval for a SYN with these options.
u8 syn_cookie_timestamp_bits(TcpOptions const& syn);

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
    // SYN cookies: the secret is replaced this often, so a cookie is good for one to two periods.
    static constexpr Duration kSynCookieRotation = Duration::from_s(32);

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
    // SYN cookies (RFC 4987) when a listener's half-open queue or the socket table is full; on
    // by default (`tcp syncookies on|off`). Off, a SYN finding no room is dropped.
    void set_syn_cookies(bool on) { m_syn_cookies = on; }
    bool syn_cookies() const { return m_syn_cookies; }
    // RFC 5681 §3.1: the initial window, 2 to 4 segments by the MSS.
    static u32 initial_window(u32 mss);
    // A TCP segment (linear region from the TCP header; meta filled). A segment read header first
    // has its payload in a posted buffer already (seg[] of the receive buffer, place_payload).
    void input(PacketRef packet);
    // Header-first receive (NetStack::device_place_payload): the posted buffer of the connection
    // the headers name, when it takes this in-order data segment of `length` bytes whole; the
    // pieces are recorded in `buffer` and the place in `meta`. Empty otherwise: the ordinary path.
    PayloadDestination place_payload(PacketBuffer& buffer, PacketMeta& meta, TcpView const& seg, u32 length);
    bool has_posted_receives() const { return m_posted_count != 0; }
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
    // SipHash-2-4 of `count` words under a 128-bit key (RFC 6528's F(), the cookies' MAC).
    static u64 keyed_hash(u64 const key[2], u64 const* words, u32 count);
    // The window scale a listener's connections announce (its receive buffer over 64 KiB).
    static u8 listener_window_scale(Tcb const& listener);
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
    void process_placed(Tcb&, PacketRef packet, TcpView const& seg);
    void end_posting(Tcb&);
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
    u32 append_payload(Tcb&, PacketBuffer&, u8 const* cursor, u32 count, u8 const* write_end, bool zero_copy);
    void end_pin_run();
    u32 write_options(Tcb&, u8* out, u8 flags);
    u16 advertised_mss(Tcb&) const;
    u16 device_mss(Tcb&) const; // MTU - 40: the clamp of what we send (RFC 9293 §3.7.1)

public:
    // The MSS this stack advertises on an interface with this MTU: whole pages of data per
    // segment when the MTU allows (TcpOutput.cpp). What it sends itself is bounded by the MTU
    // alone (device_mss).
    static u16 mss_for_mtu(u32 mtu);

private:
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

    // TcpSynCookies.cpp
    void rotate_syn_cookie_secret(Instant now);
    u32 syn_cookie(u32 key, SocketAddress local, SocketAddress remote, u32 peer_iss, u32 index) const;
    void send_syn_cookie(Tcb& listener, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options);
    // A listener's ACK: the connection its cookie opens (ESTABLISHED, queued for accept), the
    // listener itself for a valid cookie with no room (drop it), or null (not a cookie of ours;
    // `checked` says whether it was looked at, the listener having sent cookies lately).
    Tcb* accept_syn_cookie(
        Tcb& listener, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options, bool& checked);

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
    bool m_syn_cookies { true };
    u64 m_cookie_key[2][2] {};
    u32 m_cookie_current { 0 };
    Instant m_cookie_rotated;
    // A zero-copy write pins each page once for all the pieces it puts there (queue_send): the
    // page being cut, its pinned frame and the pins taken for it that no piece holds yet, given
    // back when the write moves to another page or ends (end_pin_run).
    struct PinRun {
        uptr page { 0 };
        PortPage frame;
        u32 unused { 0 };
    };
    PinRun m_pin_run;
    u32 m_posted_count { 0 }; // sockets with a posted receive
};

} // namespace skiff::net
