// The host ttcp: apps/ttcp/TtcpCore.cpp (the same core the guest's console command runs) over
// Linux sockets. `ttcp -r -s -H` on one end, `ttcp -t -s -H 10.0.2.15` on the other.

#include <tools/ttcp/PosixTransport.h>

#include <cstdlib>

int main(int argc, char** argv)
{
    using namespace skiff;
    usize count = argc > 1 ? static_cast<usize>(argc - 1) : 0;
    auto* words = static_cast<StringView*>(std::calloc(count ? count : 1, sizeof(StringView)));
    if (!words)
        return 1;
    for (usize i = 0; i < count; ++i)
        words[i] = StringView(argv[i + 1]);

    ttcp::PosixTransport transport;
    int status = ttcp::main(Span<StringView const>(words, count), transport);
    std::free(words);
    return status;
}
