#pragma once

#include <lib/Types.h>

namespace skiff {

// Prints the message, a backtrace from the caller and stops. Under the test harness (kernel
// command line `test`, or `-append panic=exit`) QEMU exits with a failure status instead.
[[noreturn]] void panic(char const* message, char const* file, int line);

// The end of every panic and unhandled exception report, once the report is printed: under the
// test harness (`panic=exit`) power off with code 127, otherwise halt.
[[noreturn]] void stop_after_panic();

// Print a symbolised backtrace starting from the given frame pointer (or the caller's).
void print_backtrace(uptr frame_pointer = 0);

// Resolve a code address to "function+0xoffset" using the image's own symbol table.
struct SymbolLookup {
    char const* name; // nullptr when not found
    u64 offset;
};
SymbolLookup symbolize(uptr address);

// Stop the machine (arch::power_off): under QEMU, qemu/run recovers `code` from the exit status
// (x86-64: isa-debug-exit, status (code << 1) | 1; AArch64: semihosting, status = code).
[[noreturn]] void power_off(u32 code);
[[noreturn]] void reboot();

} // namespace skiff

#define PANIC(message) ::skiff::panic(message, __FILE__, __LINE__)
