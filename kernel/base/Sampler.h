#pragma once

// A statistical profiler: while armed, every timer interrupt (1 kHz) records the instruction
// pointer it interrupted. `sample <seconds>` on the console prints where the CPU spent its time,
// by function — the cheapest way to see what a unikernel does under load, and the only one that
// needs no host tools (TCG's JIT hides guest code from a host profiler).

#include <lib/Types.h>

namespace skiff::sampler {

constexpr usize kMaxSamples = 16384;

void start();
void stop();
bool running();
// Called from the timer interrupt with the interrupted instruction pointer.
void record(uptr instruction_pointer);

usize sample_count();
uptr sample(usize index);
u64 dropped(); // samples past kMaxSamples

} // namespace skiff::sampler
