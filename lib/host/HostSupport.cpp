// The host side of the support library's environment contract: what the kernel provides with a
// panic, a host program provides with a message on stderr and abort().

#include <lib/Verify.h>

#include <cstdio>
#include <cstdlib>

extern "C" [[noreturn]] void skiff_verify_failed(
    char const* expression, char const* file, int line, char const* function)
{
    std::fprintf(stderr, "VERIFY(%s) failed at %s:%d in %s\n", expression, file, line, function);
    std::abort();
}
