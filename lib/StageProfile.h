#pragma once

// Cycle accounting of the stages the LyraNET evaluation measures (LyraNET §4, Figures 5 and 6):
//
//   receive:  driver   — the interrupt and the driver's receive routine
//             protocol — from the network thread's dispatch to TCP's receive routine
//             socket   — from recv() into TCP's receive side: where the copy or the remap lives
//   send:     socket   — from send() to TCP output: where the copy or the seg[] set-up lives
//             protocol — TCP output down to the driver
//             driver   — the driver's transmit routine
//
// Cheap enough to stay compiled in: one counter read at each end of a stage and a few additions.
// The counter is whatever the environment installs (the kernel: the TSC; host tests: a fake), so
// net/ stays free of clocks. Single writer: the stages run on the network thread or under the
// socket call that owns them (both under the stack lock); the console only reads.
//
// Stages nest — TCP input sends an ACK (tx protocol, tx driver) inside rx protocol, TCP output
// calls the driver, an interrupt arrives in the middle of anything — and each stage is charged
// only its own (exclusive) time: a scope subtracts whatever nested stages were charged while it
// was open. No pointer links the scopes (a global running total of charged cycles does it), so an
// interrupt's stage is subtracted from the stage it interrupted and nothing can dangle.

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

// Charges `cycles` to `stage` (and to the running total of charged cycles).
void add(Stage stage, u64 cycles, u64 events, u64 bytes);
// Every cycle charged to any stage so far; only differences between two reads mean anything.
u64 charged();
StageTotals totals(Stage stage);
void reset();

// Times one stage for the lifetime of the scope, less the stages nested in it.
class ScopedStage {
public:
    ScopedStage(Stage stage, u64 events = 1, u64 bytes = 0)
        : m_stage(stage)
        , m_events(events)
        , m_bytes(bytes)
        , m_charged_at_start(charged())
        , m_start(read_counter())
    {
    }
    ~ScopedStage()
    {
        u64 elapsed = read_counter() - m_start;
        u64 nested = charged() - m_charged_at_start;
        add(m_stage, elapsed > nested ? elapsed - nested : 0, m_events, m_bytes);
    }
    void set_bytes(u64 bytes) { m_bytes = bytes; }
    void set_events(u64 events) { m_events = events; }
    ScopedStage(ScopedStage const&) = delete;
    ScopedStage& operator=(ScopedStage const&) = delete;

private:
    Stage m_stage;
    u64 m_events;
    u64 m_bytes;
    u64 m_charged_at_start;
    u64 m_start;
};

} // namespace skiff::profile
