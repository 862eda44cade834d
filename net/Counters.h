#pragma once

// Every drop and every notable event in the stack is counted here, by name, so a test can assert
// "this malformed header was counted and dropped" and the console's `stats` can print them all.

#include <lib/Types.h>

namespace skiff::net {

#define SKIFF_NET_COUNTERS(X)                                                                                          \
    X(eth_rx)                                                                                                          \
    X(eth_tx)                                                                                                          \
    X(eth_drop_short)                                                                                                  \
    X(eth_drop_not_for_us)                                                                                             \
    X(eth_drop_unknown_type)                                                                                           \
    X(eth_drop_input_queue_full)                                                                                       \
    X(eth_drop_oversize)                                                                                               \
    X(eth_tx_errors)                                                                                                   \
    X(eth_rx_tapped)                                                                                                   \
    X(arp_rx)                                                                                                          \
    X(arp_drop_malformed)                                                                                              \
    X(arp_requests_sent)                                                                                               \
    X(arp_replies_sent)                                                                                                \
    X(arp_gratuitous_sent)                                                                                             \
    X(arp_resolved)                                                                                                    \
    X(arp_gave_up)                                                                                                     \
    X(arp_queue_overflow)                                                                                              \
    X(arp_table_full)                                                                                                  \
    X(arp_unsolicited_replies)                                                                                         \
    X(arp_conflicts_ignored)                                                                                           \
    X(ip_rx)                                                                                                           \
    X(ip_tx)                                                                                                           \
    X(ip_drop_short)                                                                                                   \
    X(ip_drop_version)                                                                                                 \
    X(ip_drop_bad_ihl)                                                                                                 \
    X(ip_drop_bad_length)                                                                                              \
    X(ip_drop_checksum)                                                                                                \
    X(ip_drop_bad_options)                                                                                             \
    X(ip_drop_bad_source)                                                                                              \
    X(ip_drop_not_for_us)                                                                                              \
    X(ip_drop_unknown_protocol)                                                                                        \
    X(ip_options_seen)                                                                                                 \
    X(ip_no_route)                                                                                                     \
    X(ip_no_buffer)                                                                                                    \
    X(ip_fragments_sent)                                                                                               \
    X(ip_fragment_needed_df)                                                                                           \
    X(reasm_fragments)                                                                                                 \
    X(reasm_completed)                                                                                                 \
    X(reasm_timeouts)                                                                                                  \
    X(reasm_overlaps)                                                                                                  \
    X(reasm_duplicates)                                                                                                \
    X(reasm_too_big)                                                                                                   \
    X(reasm_malformed)                                                                                                 \
    X(reasm_no_slot)                                                                                                   \
    X(icmp_rx)                                                                                                         \
    X(icmp_drop_malformed)                                                                                             \
    X(icmp_drop_checksum)                                                                                              \
    X(icmp_echo_requests_rx)                                                                                           \
    X(icmp_echo_replies_sent)                                                                                          \
    X(icmp_echo_replies_rx)                                                                                            \
    X(icmp_unreachable_sent)                                                                                           \
    X(icmp_unreachable_rx)                                                                                             \
    X(icmp_rate_limited)                                                                                               \
    X(udp_rx)                                                                                                          \
    X(udp_tx)                                                                                                          \
    X(udp_drop_malformed)                                                                                              \
    X(udp_drop_checksum)                                                                                               \
    X(udp_no_port)                                                                                                     \
    X(udp_queue_full)                                                                                                  \
    X(tcp_rx)                                                                                                          \
    X(tcp_tx)                                                                                                          \
    X(tcp_tso_units)                                                                                                   \
    X(tcp_drop_malformed)                                                                                              \
    X(tcp_drop_checksum)                                                                                               \
    X(tcp_drop_no_socket)                                                                                              \
    X(tcp_resets_sent)                                                                                                 \
    X(tcp_retransmits)                                                                                                 \
    X(tcp_fast_retransmits)                                                                                            \
    X(tcp_timeouts)                                                                                                    \
    X(tcp_rack_lost)                                                                                                   \
    X(tcp_lost_retransmits)                                                                                            \
    X(tcp_loss_probes)                                                                                                 \
    X(tcp_loss_probe_recoveries)                                                                                       \
    X(tcp_ooo_segments)                                                                                                \
    X(tcp_ooo_dropped)                                                                                                 \
    X(tcp_challenge_acks)                                                                                              \
    X(tcp_backlog_full)                                                                                                \
    X(tcp_syncookies_sent)                                                                                             \
    X(tcp_syncookies_validated)                                                                                        \
    X(tcp_syncookies_failed)                                                                                           \
    X(tcp_zero_copy_pieces)                                                                                            \
    X(tcp_copied_bytes)                                                                                                \
    X(tcp_sent_zero_copy_bytes)                                                                                        \
    X(tcp_sendfile_bytes)                                                                                              \
    X(tcp_sendfile_pieces)                                                                                             \
    X(tcp_received_copied_bytes)                                                                                       \
    X(tcp_remapped_pages)                                                                                              \
    X(tcp_remapped_whole_pages)                                                                                        \
    X(tcp_remap_batches)                                                                                               \
    X(tcp_remapped_bytes)                                                                                              \
    X(tcp_remap_refused)                                                                                               \
    X(tcp_placed_segments)                                                                                             \
    X(tcp_placed_bytes)                                                                                                \
    X(tcp_placed_dropped)

struct NetCounters {
#define SKIFF_DECLARE_COUNTER(name) u64 name { 0 };
    SKIFF_NET_COUNTERS(SKIFF_DECLARE_COUNTER)
#undef SKIFF_DECLARE_COUNTER

    // Calls visit(name, value) for every counter, in declaration order.
    template<typename Visitor>
    void for_each(Visitor visit) const
    {
#define SKIFF_VISIT_COUNTER(name) visit(#name, name);
        SKIFF_NET_COUNTERS(SKIFF_VISIT_COUNTER)
#undef SKIFF_VISIT_COUNTER
    }
};

} // namespace skiff::net
