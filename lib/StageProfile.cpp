#include <lib/StageProfile.h>

namespace skiff::profile {

namespace {

u64 no_counter()
{
    return 0;
}

CounterFunction s_counter = no_counter;
StageTotals s_totals[static_cast<usize>(Stage::Count)];
u64 s_charged = 0; // every cycle add() charged, for nested scopes to subtract

} // namespace

char const* stage_name(Stage stage)
{
    switch (stage) {
    case Stage::ReceiveDriver: return "rx driver";
    case Stage::ReceiveProtocol: return "rx protocol";
    case Stage::ReceiveSocket: return "rx socket";
    case Stage::SendSocket: return "tx socket";
    case Stage::SendProtocol: return "tx protocol";
    case Stage::SendDriver: return "tx driver";
    case Stage::Count: break;
    }
    return "?";
}

void set_counter(CounterFunction counter)
{
    s_counter = counter ? counter : no_counter;
}
u64 read_counter()
{
    return s_counter();
}

void add(Stage stage, u64 cycles, u64 events, u64 bytes)
{
    auto& t = s_totals[static_cast<usize>(stage)];
    t.cycles += cycles;
    t.events += events;
    t.bytes += bytes;
    s_charged += cycles;
}

u64 charged()
{
    return s_charged;
}

StageTotals totals(Stage stage)
{
    return s_totals[static_cast<usize>(stage)];
}

void reset()
{
    for (auto& t : s_totals)
        t = {};
}

} // namespace skiff::profile
