// Congestion control: slow start and congestion avoidance (RFC 5681 §3.1), fast retransmit
// and fast recovery with NewReno's partial-ACK handling (RFC 6582 §3.2).

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

u32 TcpLayer::flight_size(TcpSocket const& s) const
{
    return s.m_snd_max - s.m_snd_una;
}

void TcpLayer::on_new_ack(TcpSocket& s, u32 acked)
{
    u32 mss = s.m_mss;
    if (s.m_in_recovery) {
        if (seq_geq(s.m_snd_una, s.m_recover)) {
            // Full acknowledgment (RFC 6582 §3.2 step 3): deflate the window and leave recovery.
            s.m_cwnd = min(s.m_ssthresh, max(flight_size(s), mss) + mss);
            s.m_in_recovery = false;
            s.m_dupacks = 0;
        } else {
            // Partial acknowledgment: the next hole is lost too. Retransmit it at once, deflate
            // by what was acked and add back one segment (step 4).
            retransmit_first(s);
            s.m_cwnd = (s.m_cwnd > acked ? s.m_cwnd - acked : 0) + (acked >= mss ? mss : 0);
            s.m_cwnd = max(s.m_cwnd, mss);
        }
        return;
    }
    s.m_dupacks = 0;
    if (s.m_cwnd < s.m_ssthresh)
        s.m_cwnd += min(acked, mss); // slow start, RFC 5681 eq. (2)
    else
        s.m_cwnd += max(1u, mss * mss / s.m_cwnd); // congestion avoidance, eq. (3)
}

void TcpLayer::on_duplicate_ack(TcpSocket& s)
{
    u32 mss = s.m_mss;
    ++s.m_dupacks;
    if (s.m_in_recovery) {
        s.m_cwnd += mss; // each further duplicate: one more segment has left the network
        return;
    }
    // RFC 6582 §3.2 step 2: the third duplicate starts fast retransmit, unless it still covers
    // data sent before the last recovery began (avoids repeated window cuts).
    if (s.m_dupacks != 3 || seq_lt(s.m_snd_una, s.m_recover))
        return;
    ++m_stack.counters().tcp_fast_retransmits;
    s.m_ssthresh = max(flight_size(s) / 2, 2 * mss);
    s.m_recover = s.m_snd_max;
    s.m_in_recovery = true;
    retransmit_first(s);
    s.m_cwnd = s.m_ssthresh + 3 * mss;
}

void TcpLayer::on_timeout_congestion(TcpSocket& s)
{
    u32 mss = s.m_mss;
    s.m_ssthresh = max(flight_size(s) / 2, 2 * mss);
    s.m_cwnd = mss;
    s.m_in_recovery = false;
    s.m_dupacks = 0;
    s.m_recover = s.m_snd_max; // RFC 6582 §4.1: no fast retransmit for data sent before this
}

} // namespace skiff::net
