#pragma once

// TCP (RFC 9293) for the stack: the socket table, demultiplexing, and the protocol engine split
// by concern across files:
//   TcpLayer.cpp        sockets, demultiplexing, RST for segments nobody wants, ISNs (RFC 6528)
//   TcpInput.cpp        segment arrival, RFC 9293 §3.10.7, hardened per RFC 5961
//   TcpOutput.cpp       building and sending segments, Nagle, windows, zero-copy segmentation
//   TcpTimers.cpp       retransmission (RFC 6298), delayed ACK, persist, keepalive, TIME-WAIT
//   TcpCongestion.cpp   slow start, congestion avoidance, fast retransmit, NewReno (RFC 5681/6582)
//   TcpReassembly.cpp   out-of-order queue and SACK blocks (RFC 2018)
//   TcpSocket.cpp       the BSD calls

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/tcp/TcpHeader.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::net {

class NetStack;

class TcpLayer {
public:
    static constexpr u32 kMaxSockets = 256;
    static constexpr u32 kMaxOutOfOrder = 64;              // segments held out of order per socket
    static constexpr u64 kMinRto = 200000000ull;           // 200 ms, as Linux (RFC 6298 says 1 s)
    static constexpr u64 kMaxRto = 60000000000ull;         // RFC 6298 §2.5
    static constexpr u64 kInitialRto = 1000000000ull;      // RFC 6298 §2.1
    static constexpr u64 kDelayedAck = 40000000ull;        // RFC 9293 §3.8.6.3: < 0.5 s
    static constexpr u64 kTimeWait = 60000000000ull;       // 2 MSL with MSL = 30 s
    static constexpr u64 kHeldBufferRecheck = 10000000ull; // acknowledged, still on the NIC: look again
    static constexpr u32 kMaxRetransmits = 12;
    static constexpr u32 kMaxSynRetransmits = 6;
    static constexpr u32 kChallengeAcksPerSecond = 100; // RFC 5961 §7

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
    // A TCP segment (linear region from the TCP header; meta filled). Consumes it.
    void input(PacketBuffer* packet);
    void poll(u64 now_ns);
    u64 next_deadline() const;
    void abort_all();
    u32 sockets_in_use() const;
    // For `netstat`: calls visit(socket) for each socket in use.
    template<typename Visitor>
    void for_each_socket(Visitor visit) const
    {
        for (TcpSocket const& s : m_sockets)
            if (s.m_in_use)
                visit(s);
    }

private:
    friend class TcpSocket;

    // TcpLayer.cpp
    TcpSocket* allocate_socket();
    void free_socket(TcpSocket&);
    TcpSocket* find_connection(SocketAddress local, SocketAddress remote);
    TcpSocket* find_listener(SocketAddress local);
    bool port_in_use(u16 port, Ipv4Address address) const;
    Result<u16> ephemeral_port();
    u32 initial_sequence(SocketAddress local, SocketAddress remote);
    void send_reset_for(PacketBuffer const& packet, TcpView const& tcp);
    void enter_closed(TcpSocket&, Error error);
    void wake(TcpSocket&);

    // TcpInput.cpp
    void input_listen(TcpSocket& listener, PacketBuffer* packet, TcpView const& tcp, TcpOptions const& options);
    void input_syn_sent(TcpSocket&, PacketBuffer* packet, TcpView const& tcp, TcpOptions const& options);
    void input_synchronized(TcpSocket&, PacketBuffer* packet, TcpView const& tcp, TcpOptions const& options);
    bool process_ack(TcpSocket&, TcpView const& tcp, TcpOptions const& options, u32 window);
    void process_data(TcpSocket&, PacketBuffer* packet, TcpView const& tcp);
    void process_fin(TcpSocket&);
    void apply_syn_options(TcpSocket&, TcpOptions const& options);
    void send_challenge_ack(TcpSocket&);

    // TcpOutput.cpp
public:
    // Send what the windows, Nagle and the state allow.
    void output(TcpSocket&);
    // Between these two calls (NetStack::poll around a batch of received frames) an ACK owed for
    // in-order data is held back and sent once at the end, covering the whole batch; an ACK
    // for a gap, a duplicate or a FIN still goes at once.
    void begin_input_batch() { m_in_input_batch = true; }
    void end_input_batch();

private:
    Result<void> transmit(TcpSocket&, PacketBuffer* segment, u32 sequence, u8 flags);
    void send_control(TcpSocket&, u32 sequence, u8 flags);
    void send_ack(TcpSocket& socket) { send_control(socket, socket.m_snd_nxt, TcpFlag::Ack); }
    void send_syn(TcpSocket&);
    void retransmit_first(TcpSocket&);
    // Frees acknowledged buffers at the front of the send queue that the NIC has let go of
    // since their ACK came (TcpLayer.cpp).
    void release_acknowledged(TcpSocket&);
    u32 receive_window(TcpSocket&);
    Result<usize> queue_send(TcpSocket&, ReadonlyBytes data);
    void append_payload(TcpSocket&, PacketBuffer&, u8 const* cursor, u32 count, bool zero_copy);
    u32 write_options(TcpSocket&, u8* out, u8 flags);
    u16 advertised_mss(TcpSocket&) const;

    // TcpTimers.cpp
    void run_timers(TcpSocket&, u64 now_ns);
    void on_retransmission_timeout(TcpSocket&);
    void update_rtt(TcpSocket&, u64 sample_ns);
    void arm_rto(TcpSocket&);
    void schedule_ack(TcpSocket&, bool full_segment);
    void enter_time_wait(TcpSocket&);
    void touch_keepalive(TcpSocket&);
    u64 socket_deadline(TcpSocket const&) const;

    // TcpCongestion.cpp
    void on_new_ack(TcpSocket&, u32 acked_bytes);
    void on_duplicate_ack(TcpSocket&);
    void on_timeout_congestion(TcpSocket&);
    u32 flight_size(TcpSocket const&) const;
    void apply_sack_blocks(TcpSocket&, TcpOptions const& options);
    bool is_lost(TcpSocket const&, PacketBuffer const& segment) const;
    bool retransmit_next_lost(TcpSocket&);
    void clear_scoreboard(TcpSocket&);

    // TcpReassembly.cpp
    void queue_out_of_order(TcpSocket&, PacketBuffer* packet);
    void drain_out_of_order(TcpSocket&);
    void update_sack_blocks(TcpSocket&);

    NetStack& m_stack;
    TcpSocket m_sockets[kMaxSockets];
    u64 m_isn_key[2] { 0, 0 };
    u64 m_challenge_window_start { 0 };
    u32 m_challenge_count { 0 };
    bool m_default_zero_copy { false };
    u32 m_default_zero_copy_threshold { TcpSocketOptions {}.zero_copy_threshold };
    bool m_in_input_batch { false };
};

} // namespace skiff::net
