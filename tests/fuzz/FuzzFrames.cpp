// Fuzz target `frames`: a sequence of frames with time between them, into one stack, so state
// that spans frames is reached: fragments that overlap, repeat or never complete; ARP replies
// nobody asked for; a TCP handshake (the fuzzer cannot compute TCP checksums easily, so the
// `tcp` target covers TCP in depth).
//
// Input: records of  [delay: u8][length: u16 big-endian][frame: length bytes]  until the input
// ends; delay d advances the clock by d*d milliseconds before the frame (0..65 s).

#include "FuzzStack.h"

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size)
{
    using namespace skiff::fuzz;
    FuzzStack harness;
    usize at = 0;
    for (int frames = 0; frames < 64 && at + 3 <= size; ++frames) {
        u64 delay = data[at];
        usize length = (static_cast<usize>(data[at + 1]) << 8) | data[at + 2];
        at += 3;
        if (length > size - at)
            length = size - at;
        harness.advance(delay * delay * kMillisecond);
        harness.inject(data + at, length);
        harness.serve_udp();
        at += length;
    }
    harness.advance(120000 * kMillisecond);
    harness.expect_alive();
    return 0;
}
