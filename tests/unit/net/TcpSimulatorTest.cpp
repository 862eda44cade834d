// The seeded two-stack simulator: bulk TCP transfers over a wire with loss, reordering and
// duplication; the bytes are compared and the pools must be empty afterwards.

#include "NetTestHelpers.h"

#include <net/tcp/TcpLayer.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

struct TransferResult {
    bool complete { false };
    u64 bytes { 0 };
    u64 simulated_ns { 0 };
    u64 retransmits { 0 };
};

// A sends `total` bytes to B's listener on port 5001; B reads everything and checks it.
TransferResult transfer(WireFaults faults, u64 seed, u32 total, bool zero_copy, u64 limit_ns = 600000000000ull)
{
    TransferResult result;
    TwoStacks net(faults, seed);
    TcpSocket* listener = MUST(net.b->tcp().open());
    MUST(listener->bind({ {}, 5001 }));
    MUST(listener->listen(4));
    TcpSocket* client = MUST(net.a->tcp().open());
    client->set_zero_copy(zero_copy);
    EXPECT_EQ(client->connect({ Ipv4Address::from_octets(10, 0, 0, 2), 5001 }).error(), Error::InProgress);
    // The data lives in a zero-copy buffer that stays untouched until it is acknowledged.
    u8* data = net.port_a->allocate_zero_copy_buffer(total);
    for (u32 i = 0; i < total; ++i)
        data[i] = static_cast<u8>((i * 2654435761u) >> 24);
    std::vector<u8> received;
    received.reserve(total);
    TcpSocket* server = nullptr;
    u32 sent = 0;
    bool closed = false;
    u64 start = net.now;
    std::vector<u8> buffer(65536);
    while (net.now - start < limit_ns) {
        net.run_for(1000000); // 1 ms steps
        if (!server) {
            auto accepted = listener->accept();
            if (accepted.has_value())
                server = accepted.value();
        }
        while (sent < total) {
            auto n = client->send({ data + sent, total - sent });
            if (n.is_error())
                break;
            sent += static_cast<u32>(n.value());
        }
        if (sent == total && !closed) {
            client->close();
            closed = true;
        }
        if (server) {
            for (;;) {
                auto n = server->recv({ buffer.data(), buffer.size() });
                if (n.is_error() || n.value() == 0)
                    break;
                received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<long>(n.value()));
            }
            if (received.size() == total && server->poll_events() & kPollIn) {
                auto end = server->recv({ buffer.data(), buffer.size() });
                if (end.has_value() && end.value() == 0) {
                    result.complete = true;
                    break;
                }
            }
        }
    }
    result.simulated_ns = net.now - start;
    result.bytes = received.size();
    result.retransmits = net.a->counters().tcp_retransmits;
    EXPECT_EQ(received.size(), total);
    EXPECT_TRUE(std::equal(received.begin(), received.end(), data)) << "bytes differ";
    if (server)
        server->close();
    listener->close();
    net.run_for(200000000000ull); // TIME-WAIT and every timer run out
    EXPECT_EQ(net.a->tcp().sockets_in_use(), 0u);
    EXPECT_EQ(net.b->tcp().sockets_in_use(), 0u);
    EXPECT_EQ(net.a->pool().in_use(), 0u);
    EXPECT_EQ(net.b->pool().in_use(), 0u);
    EXPECT_EQ(net.port_a->pins_held(), 0u);
    EXPECT_EQ(net.port_a->copied_bytes(), 0u); // the data is never written after send: no COW
    if (zero_copy) {
        EXPECT_EQ(net.a->counters().tcp_copied_bytes, 0u);
    }
    net.port_a->free_zero_copy_buffer(data, total);
    std::printf("transfer seed=%llu loss=%u%% dup=%u%% reorder=%u%% zc=%d: %llu bytes in %.3f s simulated, %llu "
                "retransmits\n",
        static_cast<unsigned long long>(seed), faults.loss_percent, faults.duplicate_percent, faults.reorder_percent,
        zero_copy, static_cast<unsigned long long>(result.bytes), static_cast<double>(result.simulated_ns) / 1e9,
        static_cast<unsigned long long>(result.retransmits));
    return result;
}

TEST(TcpSimulator, CleanWireMovesFourMegabytesCopyMode)
{
    TransferResult r = transfer({}, 1, 4u << 20, false);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.retransmits, 0u);
}

TEST(TcpSimulator, CleanWireMovesFourMegabytesZeroCopy)
{
    TransferResult r = transfer({}, 2, 4u << 20, true);
    EXPECT_TRUE(r.complete);
}

TEST(TcpSimulator, LossReorderDuplicationAtFivePercent)
{
    for (u64 seed = 1; seed <= 3; ++seed) {
        WireFaults f { 5, 5, 5, 100000 };
        TransferResult r = transfer(f, seed, 2u << 20, seed % 2);
        EXPECT_TRUE(r.complete) << "seed " << seed;
        EXPECT_GT(r.retransmits, 0u);
    }
}

TEST(TcpSimulator, TwentyPercentLossReorderDuplication)
{
    for (u64 seed = 1; seed <= 2; ++seed) {
        WireFaults f { 20, 20, 20, 100000 };
        TransferResult r = transfer(f, seed, 1u << 20, seed % 2);
        EXPECT_TRUE(r.complete) << "seed " << seed;
    }
}

// The simulator's throughput over 0–20% loss, duplication and reordering, as a table kept in
// golden/tcp_simulator_throughput.txt. The simulation is deterministic for its seeds, so any
// change in TCP's behaviour shows up here as a diff to look at (and, if intended, to accept with
// SKIFF_UPDATE_GOLDEN=1).
TEST(TcpSimulator, ThroughputTableMatchesGolden)
{
    std::ostringstream table;
    table << "# TCP over the simulated wire: 1 MiB from A to B, 100 us one-way delay, seed 1.\n";
    table << "# loss% dup% reorder%  mode  bytes    simulated_ms  retransmits  goodput_KiB/s\n";
    for (u32 percent : { 0u, 1u, 2u, 5u, 10u, 15u, 20u }) {
        for (bool zero_copy : { false, true }) {
            WireFaults faults { percent, percent, percent, 100000 };
            TransferResult r = transfer(faults, 1, 1u << 20, zero_copy);
            EXPECT_TRUE(r.complete) << percent << "% zc=" << zero_copy;
            u64 ms = r.simulated_ns / 1000000;
            u64 goodput = r.simulated_ns ? r.bytes * 1000000000ull / r.simulated_ns / 1024 : 0;
            char line[160];
            std::snprintf(line, sizeof line, "%5u %4u %8u  %-5s %8llu %13llu %12llu %14llu\n", percent, percent,
                percent, zero_copy ? "zc" : "copy", static_cast<unsigned long long>(r.bytes),
                static_cast<unsigned long long>(ms), static_cast<unsigned long long>(r.retransmits),
                static_cast<unsigned long long>(goodput));
            table << line;
        }
    }
    std::string path
        = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/golden/tcp_simulator_throughput.txt";
    if (std::getenv("SKIFF_UPDATE_GOLDEN")) {
        std::ofstream(path) << table.str();
        GTEST_SKIP() << "golden file rewritten: " << path;
    }
    std::ifstream golden(path);
    ASSERT_TRUE(golden.good()) << "missing " << path << " (run with SKIFF_UPDATE_GOLDEN=1 to create it)";
    std::stringstream expected;
    expected << golden.rdbuf();
    EXPECT_EQ(table.str(), expected.str());
}

} // namespace
