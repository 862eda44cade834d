#pragma once

// The fault decisions of faultrelay, for one direction of the wire, with no I/O and no clock:
// frames go in with submit(frame, now_ns), come out of poll(now_ns) when they are due, and
// next_deadline() says when that will next be. That keeps every decision testable on the host
// (tests/unit/faultrelay/) and lets the relay's main loop be a plain poll() loop.
//
// What happens to a frame, in this order (netem's order, minus its qdisc):
//
//   submit ─▶ drop? ─▶ corrupt? ─▶ duplicate? ─▶ delay ± jitter ─▶ held back? ─▶ rate limit ─▶ out
//
//   drop       the frame vanishes (a lost frame).
//   corrupt    one random bit flipped at or past byte 14, so the Ethernet header (addresses and
//              EtherType) is intact and the frame still reaches its receiver, which must notice
//              the damage from the IPv4/TCP/UDP/ICMP checksum. Frames of 14 bytes or fewer are
//              passed unharmed (and counted as corrupt_skipped).
//   duplicate  a second, identical copy follows the first (it gets its own jitter).
//   delay      release at now + delay + uniform(-jitter, +jitter) (never before now). With
//              keep_order, a frame is never released before one submitted earlier, so jitter
//              only stretches gaps; without it, jitter alone reorders.
//   hold       reordering proper: the frame is kept back until `reorder_gap` later frames have
//              left the delay stage, or `reorder_max_ns` passed, whichever comes first.
//   rate       a serialising link of `rate_bits_per_second`: each frame occupies the link for its
//              length in bits; a frame that would wait more than `queue_bytes` worth of link
//              time is tail-dropped, like a router's full queue.
//
// Every random choice for a frame is drawn when it is submitted, and always the same number of
// draws per frame, so the fate of the n-th frame depends only on the seed and n: two runs with
// the same seed and the same frames make the same decisions, whatever the timing was.

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace skiff::faultrelay {

using Frame = std::vector<uint8_t>;

// Percentages are given in parts per million internally (1% = 10,000 ppm) so "0.5" works.
constexpr uint32_t kPpmPerPercent = 10000;
constexpr uint32_t kMillion = 1000000;
constexpr uint32_t kEthernetHeaderLength = 14;

struct FaultConfig {
    uint32_t drop_ppm { 0 };
    uint32_t duplicate_ppm { 0 };
    uint32_t corrupt_ppm { 0 };
    uint32_t reorder_ppm { 0 };
    uint32_t reorder_gap { 3 };             // K: later frames that overtake a held one
    uint64_t reorder_max_ns { 20'000'000 }; // T: longest a frame is held
    uint64_t delay_ns { 0 };                // base one-way delay
    uint64_t jitter_ns { 0 };               // ± uniform around the base
    bool keep_order { true };               // jitter never reorders
    uint64_t rate_bits_per_second { 0 };    // 0: unlimited
    uint64_t queue_bytes { 256 * 1024 };    // rate limiter's queue

    bool is_transparent() const
    {
        return !drop_ppm && !duplicate_ppm && !corrupt_ppm && !reorder_ppm && !delay_ns && !jitter_ns
            && !rate_bits_per_second;
    }
};

struct FaultCounters {
    uint64_t received { 0 }; // frames submitted
    uint64_t received_bytes { 0 };
    uint64_t forwarded { 0 }; // frames released by poll() (duplicates included)
    uint64_t forwarded_bytes { 0 };
    uint64_t dropped { 0 }; // by --drop
    uint64_t corrupted { 0 };
    uint64_t corrupt_skipped { 0 }; // chosen for corruption but too short to have a payload
    uint64_t duplicated { 0 };      // extra copies made
    uint64_t held { 0 };            // frames held back for reordering
    uint64_t delayed { 0 };         // frames given a non-zero delay
    uint64_t rate_dropped { 0 };    // tail drops of the rate limiter's queue
};

// One decision about one frame, for the log. `sequence` numbers frames in submission order
// (from 0); a duplicate shares its original's sequence with copy = 1.
struct FaultEvent {
    enum class Kind { Submit, RateDrop };
    Kind kind { Kind::Submit };
    uint64_t now_ns { 0 };
    uint64_t sequence { 0 };
    uint32_t length { 0 };
    bool dropped { false };
    bool corrupted { false };
    bool corrupt_skipped { false };
    uint32_t corrupt_bit { 0 }; // bit index within the frame (byte = bit / 8)
    bool duplicated { false };
    bool held { false };
    uint64_t release_ns { 0 }; // when the delay stage lets it go (original copy)
    uint8_t copy { 0 };

    // "drop", "pass", or a space-separated list such as "corrupt:bit=403 dup hold delay=12.500ms".
    std::string describe() const;
};

// A small, fast, well-mixed generator (splitmix64). Not cryptographic; reproducible.
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed)
        : m_state(seed)
    {
    }
    uint64_t next()
    {
        uint64_t z = (m_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound) for bound > 0 (the modulo bias is below 2^-40 for our bounds).
    uint64_t below(uint64_t bound) { return next() % bound; }

private:
    uint64_t m_state;
};

class FaultEngine {
public:
    using Logger = std::function<void(FaultEvent const&)>;

    FaultEngine(FaultConfig const& config, uint64_t seed);

    void set_logger(Logger logger) { m_logger = std::move(logger); }

    // A frame arrives at now_ns. Times passed to submit() and poll() must not go backwards.
    void submit(Frame frame, uint64_t now_ns);
    // Append every frame due at or before now_ns to `out`, in the order they leave the wire.
    void poll(uint64_t now_ns, std::vector<Frame>& out);
    // The earliest time poll() has something to do; kNever if nothing is in flight.
    uint64_t next_deadline() const;
    // Frames inside the engine (delayed, held or queued on the link).
    size_t in_flight() const { return m_delayed.size() + m_held.size() + m_link.size(); }

    FaultCounters const& counters() const { return m_counters; }
    FaultConfig const& config() const { return m_config; }

    static constexpr uint64_t kNever = ~0ull;

private:
    struct Delayed {
        uint64_t release_ns;
        uint64_t order; // tie-break: submission order, original before duplicate
        uint64_t sequence;
        bool hold;
        Frame frame;
    };
    struct Held {
        uint64_t order;
        uint64_t deadline_ns;
        uint32_t remaining; // later frames still to overtake it
        Frame frame;
    };
    struct OnLink {
        uint64_t departure_ns; // when its last bit has left: poll() releases it then
        Frame frame;
    };

    uint64_t jittered_release(uint64_t now_ns, uint64_t jitter_draw);
    void schedule(Delayed item);
    void leave_delay_stage(Delayed item, uint64_t at_ns);
    void enter_link(Frame frame, uint64_t at_ns, uint64_t sequence);

    FaultConfig m_config;
    SplitMix64 m_random;
    Logger m_logger;
    FaultCounters m_counters;
    uint64_t m_next_sequence { 0 };
    uint64_t m_next_order { 0 };
    uint64_t m_last_release_ns { 0 }; // keep_order: the latest release time handed out
    // Deques: frames leave from the front, and with keep_order (the default) they also arrive at
    // the back, so a 20 ms delay at a million frames per second costs O(1) per frame.
    std::deque<Delayed> m_delayed; // sorted by (release_ns, order)
    std::vector<Held> m_held;      // in hold order (a few frames)
    std::deque<OnLink> m_link;     // FIFO, departure times non-decreasing
    uint64_t m_link_free_ns { 0 }; // when the link finishes sending what is queued
};

// Parse helpers shared by the relay's command line and the tests. Each returns false on
// malformed input and leaves `out` unchanged.
bool parse_percent_ppm(std::string const& text, uint32_t& out);     // "5", "0.5", "100"
bool parse_milliseconds_ns(std::string const& text, uint64_t& out); // "10", "2.5"
bool parse_rate_bits(std::string const& text, uint64_t& out);       // "100mbit", "512kbit", "1gbit", "8000"
bool parse_bytes(std::string const& text, uint64_t& out);           // "65536", "64k", "1m"

} // namespace skiff::faultrelay
