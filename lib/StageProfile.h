#pragma once

// Cycle accounting of the stages the LyraNET evaluation measures (seeds/000 §4, Figures 5 and 6):
//
//   receive:  driver   — the interrupt and the driver's receive routine
//             protocol — from the network thread's dispatch to TCP's receive routine
//             socket   — from recv() into TCP's receive side: where the copy or the remap lives
//   send:     socket   — from send() to TCP output: where the copy or the seg[] set-up lives
//             protocol — TCP output down to the driver
//             driver   — the driver's transmit routine
//
// Cheap enough to stay compiled in: one counter read at each end of a stage and two additions.
// The counter is whatever the environment installs (the kernel: the TSC; host tests: a fake), so
// net/ stays free of clocks. Single writer: the stages run on the network thread or under the
// socket call that owns them; the console only reads.

#include <lib/Types.h>

namespace skiff::profile {

enum class Stage : u8 {
    ReceiveDriver,
    ReceiveProtocol,
    ReceiveSocket,
    SendSocket,
    SendProtocol,
    SendDriver,
    Count,
};

char const* stage_name(Stage stage);

struct StageTotals {
    u64 cycles { 0 };
    u64 events { 0 }; // packets (driver, protocol) or calls (socket)
    u64 bytes { 0 };  // payload bytes through the stage, for per-byte figures
};

using CounterFunction = u64 (*)();
void set_counter(CounterFunction counter); // nullptr: profiling off (every read returns 0)
u64 read_counter();

void add(Stage stage, u64 cycles, u64 events, u64 bytes);
StageTotals totals(Stage stage);
void reset();

// Times one stage for the lifetime of the scope.
class ScopedStage {
public:
    ScopedStage(Stage stage, u64 events = 1, u64 bytes = 0)
        : m_stage(stage)
        , m_events(events)
        , m_bytes(bytes)
        , m_start(read_counter())
    {
    }
    ~ScopedStage() { add(m_stage, read_counter() - m_start, m_events, m_bytes); }
    void set_bytes(u64 bytes) { m_bytes = bytes; }
    void set_events(u64 events) { m_events = events; }
    ScopedStage(ScopedStage const&) = delete;
    ScopedStage& operator=(ScopedStage const&) = delete;

private:
    Stage m_stage;
    u64 m_events;
    u64 m_bytes;
    u64 m_start;
};

} // namespace skiff::profile
