#pragma once

// VERIFY is on in every build, kernel and host alike. It is for programming errors only: bad input
// from the network is counted and dropped, never VERIFY'd.
//
// The environment supplies skiff_verify_failed(): the kernel panics with a backtrace, the host
// prints and aborts (lib/host/HostSupport.cpp).

extern "C" [[noreturn]] void skiff_verify_failed(
    char const* expression, char const* file, int line, char const* function);

#define VERIFY(expr)                                                                                                   \
    do {                                                                                                               \
        if (!(expr)) [[unlikely]]                                                                                      \
            skiff_verify_failed(#expr, __FILE__, __LINE__, __PRETTY_FUNCTION__);                                       \
    } while (0)

#define VERIFY_NOT_REACHED() skiff_verify_failed("not reached", __FILE__, __LINE__, __PRETTY_FUNCTION__)
