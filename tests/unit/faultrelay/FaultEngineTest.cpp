// The fault decisions of tools/faultrelay: determinism for a seed, rates within statistical
// bounds, what reordering and delay do to the order of frames, corruption that spares the
// Ethernet header, duplicate counts, the rate limiter's timing and tail drop.

#include <tools/faultrelay/FaultEngine.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace skiff::faultrelay;

namespace {

constexpr uint64_t kMs = 1'000'000;

// A frame whose bytes 14..21 carry its sequence number, so the tests can tell frames apart
// after they have been reordered or duplicated. `size` includes the Ethernet header.
Frame numbered_frame(uint64_t sequence, size_t size = 100)
{
    Frame frame(std::max<size_t>(size, 22));
    for (size_t i = 0; i < 14; ++i)
        frame[i] = static_cast<uint8_t>(0xa0 + i);
    for (int i = 0; i < 8; ++i)
        frame[14 + i] = static_cast<uint8_t>(sequence >> (8 * i));
    for (size_t i = 22; i < frame.size(); ++i)
        frame[i] = static_cast<uint8_t>(i * 7 + sequence);
    return frame;
}

uint64_t sequence_of(Frame const& frame)
{
    uint64_t sequence = 0;
    for (int i = 0; i < 8; ++i)
        sequence |= static_cast<uint64_t>(frame[14 + i]) << (8 * i);
    return sequence;
}

// Submit `count` frames one every `spacing_ns`, polling at every step and then until empty.
// Returns what came out, in order.
std::vector<Frame> run(FaultEngine& engine, uint64_t count, uint64_t spacing_ns = 0, size_t size = 100)
{
    std::vector<Frame> out;
    uint64_t now = 0;
    for (uint64_t i = 0; i < count; ++i) {
        engine.submit(numbered_frame(i, size), now);
        engine.poll(now, out);
        now += spacing_ns;
    }
    for (int guard = 0; guard < 1000000 && engine.in_flight(); ++guard) {
        now = std::max(now, engine.next_deadline());
        engine.poll(now, out);
    }
    EXPECT_EQ(engine.in_flight(), 0u);
    return out;
}

// |observed - n p| must stay within 6 standard deviations of a binomial: a correct engine fails
// this about once in 10^9 runs, an engine off by a tenth of the rate fails it every time.
void expect_binomial(uint64_t observed, uint64_t n, double p)
{
    double mean = static_cast<double>(n) * p;
    double sigma = std::sqrt(static_cast<double>(n) * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(observed), mean, 6 * sigma) << "n=" << n << " p=" << p;
}

FaultConfig everything()
{
    FaultConfig config;
    config.drop_ppm = 10 * kPpmPerPercent;
    config.duplicate_ppm = 10 * kPpmPerPercent;
    config.corrupt_ppm = 10 * kPpmPerPercent;
    config.reorder_ppm = 10 * kPpmPerPercent;
    config.delay_ns = 5 * kMs;
    config.jitter_ns = 3 * kMs;
    config.keep_order = false;
    return config;
}

std::vector<std::string> logged_run(FaultConfig const& config, uint64_t seed, std::vector<Frame>& out)
{
    std::vector<std::string> log;
    FaultEngine engine(config, seed);
    engine.set_logger([&](FaultEvent const& e) { log.push_back(std::to_string(e.sequence) + " " + e.describe()); });
    out = run(engine, 5000, 100'000);
    return log;
}

} // namespace

TEST(FaultEngine, NoFaultsPassesEveryFrameAtOnceAndInOrder)
{
    FaultEngine engine(FaultConfig {}, 1);
    std::vector<Frame> out;
    for (uint64_t i = 0; i < 100; ++i) {
        engine.submit(numbered_frame(i), 1000);
        engine.poll(1000, out);
        ASSERT_EQ(out.size(), i + 1) << "a transparent engine must not hold frames";
    }
    for (uint64_t i = 0; i < 100; ++i)
        EXPECT_EQ(out[i], numbered_frame(i));
    EXPECT_EQ(engine.counters().forwarded, 100u);
    EXPECT_EQ(engine.next_deadline(), FaultEngine::kNever);
}

TEST(FaultEngine, SameSeedMakesSameDecisionsAndDifferentSeedDoesNot)
{
    std::vector<Frame> out_a, out_b, out_c;
    auto log_a = logged_run(everything(), 42, out_a);
    auto log_b = logged_run(everything(), 42, out_b);
    auto log_c = logged_run(everything(), 43, out_c);
    EXPECT_EQ(log_a, log_b);
    EXPECT_EQ(out_a, out_b);
    EXPECT_NE(log_a, log_c);
    EXPECT_NE(out_a, out_c);
}

TEST(FaultEngine, DecisionsDependOnFrameNumberNotTiming)
{
    // The same seed with frames arriving at a different pace makes the same per-frame choices.
    FaultConfig config = everything();
    config.delay_ns = 0;
    config.jitter_ns = 0;
    std::vector<std::string> fast, slow;
    FaultEngine a(config, 9), b(config, 9);
    a.set_logger([&](FaultEvent const& e) { fast.push_back(e.describe()); });
    b.set_logger([&](FaultEvent const& e) { slow.push_back(e.describe()); });
    run(a, 2000, 0);
    run(b, 2000, 7 * kMs);
    EXPECT_EQ(fast, slow);
}

TEST(FaultEngine, DropRateIsWithinStatisticalBounds)
{
    for (uint32_t percent : { 1u, 5u, 20u }) {
        FaultConfig config;
        config.drop_ppm = percent * kPpmPerPercent;
        FaultEngine engine(config, percent);
        constexpr uint64_t n = 100000;
        auto out = run(engine, n);
        expect_binomial(engine.counters().dropped, n, percent / 100.0);
        EXPECT_EQ(out.size() + engine.counters().dropped, n);
    }
}

TEST(FaultEngine, FractionalPercentWorks)
{
    FaultConfig config;
    ASSERT_TRUE(parse_percent_ppm("0.5", config.drop_ppm));
    FaultEngine engine(config, 3);
    run(engine, 200000);
    expect_binomial(engine.counters().dropped, 200000, 0.005);
}

TEST(FaultEngine, DuplicatesAreCountedAndIdentical)
{
    FaultConfig config;
    config.duplicate_ppm = 30 * kPpmPerPercent;
    FaultEngine engine(config, 5);
    constexpr uint64_t n = 50000;
    auto out = run(engine, n);
    EXPECT_EQ(out.size(), n + engine.counters().duplicated);
    expect_binomial(engine.counters().duplicated, n, 0.30);
    // Each sequence number appears once or twice, and a duplicate is byte-identical.
    std::map<uint64_t, int> seen;
    for (Frame const& frame : out) {
        EXPECT_EQ(frame, numbered_frame(sequence_of(frame)));
        ++seen[sequence_of(frame)];
    }
    EXPECT_EQ(seen.size(), n);
    uint64_t twice = 0;
    for (auto& [sequence, times] : seen) {
        EXPECT_TRUE(times == 1 || times == 2);
        twice += times == 2;
    }
    EXPECT_EQ(twice, engine.counters().duplicated);
}

TEST(FaultEngine, EveryFrameDuplicatedAtHundredPercent)
{
    FaultConfig config;
    config.duplicate_ppm = 100 * kPpmPerPercent;
    FaultEngine engine(config, 5);
    auto out = run(engine, 1000);
    EXPECT_EQ(out.size(), 2000u);
    for (size_t i = 0; i < out.size(); i += 2) {
        EXPECT_EQ(out[i], out[i + 1]);
        EXPECT_EQ(sequence_of(out[i]), i / 2);
    }
}

TEST(FaultEngine, CorruptionFlipsOneBitAndNeverTouchesTheEthernetHeader)
{
    FaultConfig config;
    config.corrupt_ppm = 100 * kPpmPerPercent;
    FaultEngine engine(config, 11);
    std::vector<Frame> out;
    std::map<size_t, uint64_t> hits_by_byte;
    uint64_t n = 0;
    for (size_t size = 22; size <= 1514; size += 3) {
        for (int repeat = 0; repeat < 20; ++repeat, ++n) {
            Frame original = numbered_frame(n, size);
            engine.submit(original, 0);
            out.clear();
            engine.poll(0, out);
            ASSERT_EQ(out.size(), 1u);
            Frame const& corrupted = out[0];
            ASSERT_EQ(corrupted.size(), original.size());
            EXPECT_TRUE(std::equal(original.begin(), original.begin() + 14, corrupted.begin()))
                << "the Ethernet header must never change";
            int differing_bits = 0;
            for (size_t i = 0; i < original.size(); ++i) {
                differing_bits += __builtin_popcount(original[i] ^ corrupted[i]);
                if (original[i] != corrupted[i])
                    ++hits_by_byte[i];
            }
            EXPECT_EQ(differing_bits, 1);
        }
    }
    EXPECT_EQ(engine.counters().corrupted, n);
    // The flips reach the whole frame past the header: the first and last payload bytes both get hit.
    EXPECT_GT(hits_by_byte[14] + hits_by_byte[15], 0u);
    EXPECT_GT(hits_by_byte.rbegin()->first, 1400u);
    EXPECT_EQ(hits_by_byte.begin()->first >= 14, true);
}

TEST(FaultEngine, CorruptionSparesFramesWithoutPayloadAndCountsThem)
{
    FaultConfig config;
    config.corrupt_ppm = 100 * kPpmPerPercent;
    FaultEngine engine(config, 11);
    std::vector<Frame> out;
    for (size_t size : { 0, 1, 13, 14 }) {
        Frame frame(size, 0x5a);
        engine.submit(frame, 0);
        out.clear();
        engine.poll(0, out);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0], frame);
    }
    EXPECT_EQ(engine.counters().corrupted, 0u);
    EXPECT_EQ(engine.counters().corrupt_skipped, 4u);
}

TEST(FaultEngine, CorruptionRateIsWithinStatisticalBounds)
{
    FaultConfig config;
    config.corrupt_ppm = 1 * kPpmPerPercent;
    FaultEngine engine(config, 17);
    auto out = run(engine, 200000, 0, 60);
    expect_binomial(engine.counters().corrupted, 200000, 0.01);
    // Nothing is dropped or reordered here, so out[i] is frame i (whose number may be damaged).
    ASSERT_EQ(out.size(), 200000u);
    uint64_t damaged = 0;
    for (size_t i = 0; i < out.size(); ++i)
        damaged += out[i] != numbered_frame(i, 60);
    EXPECT_EQ(damaged, engine.counters().corrupted);
}

TEST(FaultEngine, HeldFrameIsOvertakenByExactlyGapLaterFrames)
{
    FaultConfig config;
    config.reorder_ppm = 20 * kPpmPerPercent;
    config.reorder_gap = 3;
    config.reorder_max_ns = 1000 * kMs; // long: only the gap releases frames in this test
    FaultEngine engine(config, 23);
    std::vector<bool> held;
    engine.set_logger([&](FaultEvent const& e) { held.push_back(e.held); });
    constexpr uint64_t n = 5000;
    auto out = run(engine, n, 10'000);
    ASSERT_EQ(out.size(), n);
    std::vector<size_t> position(n);
    for (size_t i = 0; i < out.size(); ++i)
        position[sequence_of(out[i])] = i;
    uint64_t checked = 0;
    for (uint64_t s = 0; s < n; ++s) {
        if (!held[s])
            continue;
        // Count the later, not-held frames that came out before it.
        uint64_t later_unheld = 0, overtakers = 0;
        for (uint64_t t = s + 1; t < n; ++t) {
            if (held[t])
                continue;
            ++later_unheld;
            overtakers += position[t] < position[s];
        }
        if (later_unheld < config.reorder_gap)
            continue; // near the end: released by the time limit instead
        EXPECT_EQ(overtakers, config.reorder_gap) << "frame " << s;
        ++checked;
    }
    expect_binomial(engine.counters().held, n, 0.20);
    EXPECT_GT(checked, 800u);
}

TEST(FaultEngine, HeldFrameIsReleasedByTheTimeLimitWhenNothingFollows)
{
    FaultConfig config;
    config.reorder_ppm = 100 * kPpmPerPercent;
    config.reorder_max_ns = 20 * kMs;
    FaultEngine engine(config, 1);
    std::vector<Frame> out;
    engine.submit(numbered_frame(0), 5 * kMs);
    engine.poll(5 * kMs, out);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(engine.next_deadline(), 25 * kMs);
    engine.poll(25 * kMs - 1, out);
    EXPECT_TRUE(out.empty());
    engine.poll(25 * kMs, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], numbered_frame(0));
}

TEST(FaultEngine, DelayWithJitterStaysInItsWindowAndKeepsOrderWhenAsked)
{
    for (bool keep_order : { true, false }) {
        FaultConfig config;
        config.delay_ns = 10 * kMs;
        config.jitter_ns = 5 * kMs;
        config.keep_order = keep_order;
        FaultEngine engine(config, 31);
        // One frame every 1 ms for 2 s, polled every 0.1 ms: record when each comes out.
        std::vector<uint64_t> sent_at, out_order;
        std::vector<uint64_t> latency;
        std::vector<Frame> out;
        uint64_t next_frame = 0;
        for (uint64_t now = 0; now < 2100 * kMs; now += kMs / 10) {
            if (now % kMs == 0 && next_frame < 2000) {
                engine.submit(numbered_frame(next_frame++), now);
                sent_at.push_back(now);
            }
            out.clear();
            engine.poll(now, out);
            for (Frame const& frame : out) {
                out_order.push_back(sequence_of(frame));
                latency.push_back(now - sent_at[sequence_of(frame)]);
            }
        }
        ASSERT_EQ(out_order.size(), 2000u);
        uint64_t inversions = 0;
        for (size_t i = 1; i < out_order.size(); ++i)
            inversions += out_order[i] < out_order[i - 1];
        double mean = 0;
        for (uint64_t l : latency) {
            if (!keep_order) {
                EXPECT_GE(l, 5 * kMs);
                EXPECT_LE(l, 15 * kMs + kMs / 10);
            } else {
                // Keeping order can only push a frame later, never earlier than delay - jitter.
                EXPECT_GE(l, 5 * kMs);
            }
            mean += static_cast<double>(l) / latency.size();
        }
        if (keep_order) {
            EXPECT_EQ(inversions, 0u);
        } else {
            EXPECT_GT(inversions, 100u) << "±5 ms of jitter at 1 frame/ms must reorder";
            EXPECT_NEAR(mean, 10.05 * kMs, 0.5 * kMs);
        }
        EXPECT_EQ(engine.counters().delayed, 2000u);
    }
}

TEST(FaultEngine, RateLimiterSpacesFramesByTheirSerialisationTime)
{
    FaultConfig config;
    config.rate_bits_per_second = 8'000'000; // 1000-byte frames take 1 ms each
    FaultEngine engine(config, 1);
    for (uint64_t i = 0; i < 3; ++i)
        engine.submit(numbered_frame(i, 1000), 0);
    std::vector<Frame> out;
    for (uint64_t ms = 0; ms <= 3; ++ms) {
        engine.poll(ms * kMs, out);
        EXPECT_EQ(out.size(), ms) << "at " << ms << " ms";
    }
    EXPECT_EQ(engine.counters().forwarded_bytes, 3000u);
}

TEST(FaultEngine, RateLimiterTailDropsWhenItsQueueIsFull)
{
    FaultConfig config;
    config.rate_bits_per_second = 8'000'000;
    config.queue_bytes = 3000; // 3 ms of link time
    FaultEngine engine(config, 1);
    std::vector<uint64_t> rate_drops;
    engine.set_logger([&](FaultEvent const& e) {
        if (e.kind == FaultEvent::Kind::RateDrop)
            rate_drops.push_back(e.sequence);
    });
    auto out = run(engine, 10, 0, 1000);
    // Frame k would wait k ms for the link; 0..3 fit in the queue, 4..9 are tail-dropped.
    EXPECT_EQ(out.size(), 4u);
    EXPECT_EQ(engine.counters().rate_dropped, 6u);
    EXPECT_EQ(rate_drops, (std::vector<uint64_t> { 4, 5, 6, 7, 8, 9 }));
}

TEST(FaultEngine, EverythingAtOnceLosesNothingItDidNotCount)
{
    FaultEngine engine(everything(), 77);
    constexpr uint64_t n = 20000;
    auto out = run(engine, n, 50'000);
    FaultCounters const& c = engine.counters();
    EXPECT_EQ(c.received, n);
    EXPECT_EQ(out.size(), n - c.dropped + c.duplicated);
    EXPECT_EQ(c.forwarded, out.size());
}

TEST(FaultEngineParse, Values)
{
    uint32_t ppm = 0;
    EXPECT_TRUE(parse_percent_ppm("5", ppm));
    EXPECT_EQ(ppm, 50000u);
    EXPECT_TRUE(parse_percent_ppm("0.25%", ppm));
    EXPECT_EQ(ppm, 2500u);
    EXPECT_FALSE(parse_percent_ppm("101", ppm));
    EXPECT_FALSE(parse_percent_ppm("-1", ppm));
    EXPECT_FALSE(parse_percent_ppm("five", ppm));
    EXPECT_FALSE(parse_percent_ppm("", ppm));

    uint64_t value = 0;
    EXPECT_TRUE(parse_milliseconds_ns("2.5", value));
    EXPECT_EQ(value, 2'500'000u);
    EXPECT_FALSE(parse_milliseconds_ns("2s", value));

    EXPECT_TRUE(parse_rate_bits("100mbit", value));
    EXPECT_EQ(value, 100'000'000u);
    EXPECT_TRUE(parse_rate_bits("512k", value));
    EXPECT_EQ(value, 512'000u);
    EXPECT_TRUE(parse_rate_bits("1gbit", value));
    EXPECT_EQ(value, 1'000'000'000u);
    EXPECT_TRUE(parse_rate_bits("9600", value));
    EXPECT_EQ(value, 9600u);
    EXPECT_FALSE(parse_rate_bits("10mbps", value));
    EXPECT_FALSE(parse_rate_bits("0", value));

    EXPECT_TRUE(parse_bytes("64k", value));
    EXPECT_EQ(value, 65536u);
    EXPECT_TRUE(parse_bytes("1m", value));
    EXPECT_EQ(value, 1048576u);
    EXPECT_FALSE(parse_bytes("1q", value));
}

TEST(FaultEngineLog, DescribesEachDecision)
{
    FaultEvent event;
    event.now_ns = 1000;
    event.release_ns = 1000;
    EXPECT_EQ(event.describe(), "pass");
    event.corrupted = true;
    event.corrupt_bit = 403;
    event.duplicated = true;
    event.held = true;
    event.release_ns = 1000 + 12'500'000;
    EXPECT_EQ(event.describe(), "corrupt:bit=403 dup hold delay=12.500ms");
    event.dropped = true;
    EXPECT_EQ(event.describe(), "drop");
    event.kind = FaultEvent::Kind::RateDrop;
    EXPECT_EQ(event.describe(), "rate-drop");
}
