// Panic, backtraces from the image's own symbol table, and machine stop.

#include <kernel/base/Arch.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <lib/ByteOrder.h>

extern "C" u8 const __ksyms_start[];
extern "C" u8 const __ksyms_end[];
extern "C" u8 const __text_start[];
extern "C" u8 const __text_end[];
extern "C" u8 const __kernel_end[];

namespace skiff {

namespace {

struct KsymsEntry {
    u64 address;
    u32 size;
    u32 name_offset;
};

bool s_panicking = false;

// A frame pointer is followed only if it points into memory the kernel surely has mapped: the
// image (which holds the boot stack), the direct map, or the kernel virtual areas (thread stacks).
bool plausible_frame(uptr frame)
{
    if (frame & 7)
        return false;
    uptr image_start = kKernelImageBase;
    uptr image_end = reinterpret_cast<uptr>(__kernel_end);
    if (frame >= image_start && frame + 16 <= image_end)
        return true;
    if (frame >= kDirectMapBase && frame + 16 <= kDirectMapBase + kBootMappedPhysicalEnd)
        return true;
    return frame >= kKernelVirtualAreaBase && frame < kKernelVirtualAreaBase + (1ull << 40);
}

} // namespace

SymbolLookup symbolize(uptr address)
{
    usize blob_size = static_cast<usize>(__ksyms_end - __ksyms_start);
    if (blob_size < 8 || load_le32(__ksyms_start) != 0x4d59534b)
        return { nullptr, 0 };
    u32 count = load_le32(__ksyms_start + 4);
    if (8 + static_cast<u64>(count) * sizeof(KsymsEntry) > blob_size)
        return { nullptr, 0 };
    auto const* entries = reinterpret_cast<KsymsEntry const*>(__ksyms_start + 8);
    char const* names = reinterpret_cast<char const*>(entries + count);
    // The last entry whose address is <= the address.
    usize low = 0, high = count;
    while (low < high) {
        usize middle = (low + high) / 2;
        if (entries[middle].address <= address)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0)
        return { nullptr, 0 };
    auto const& entry = entries[low - 1];
    u64 offset = address - entry.address;
    if (entry.size && offset >= entry.size && address >= reinterpret_cast<uptr>(__text_end))
        return { nullptr, 0 };
    return { names + entry.name_offset, offset };
}

void print_backtrace(uptr frame_pointer)
{
    if (!frame_pointer)
        frame_pointer = reinterpret_cast<uptr>(__builtin_frame_address(0));
    auto& out = console_sink();
    // Each frame record: [fp] = the caller's frame pointer, [fp + 8] = the return address. The
    // kernel is built with frame pointers, and both the System V x86-64 ABI (rbp) and the AAPCS64
    // (x29) lay a record out this way.
    for (int depth = 1; depth < 32 && plausible_frame(frame_pointer); ++depth) {
        auto const* frame = reinterpret_cast<uptr const*>(frame_pointer);
        uptr return_address = frame[1];
        if (return_address < reinterpret_cast<uptr>(__text_start)
            || return_address >= reinterpret_cast<uptr>(__text_end))
            break;
        // The call instruction is just before the return address: name that.
        auto where = symbolize(return_address - 1);
        format(
            out, "  #{} {:016x} {}+{:#x}\n", depth, return_address, where.name ? where.name : "??", where.offset + 1);
        uptr next = frame[0];
        if (next <= frame_pointer)
            break; // frames go up the stack; anything else is corruption or the end
        frame_pointer = next;
    }
}

void panic(char const* message, char const* file, int line)
{
    arch::disable_interrupts();
    if (s_panicking) {
        console_write("\nPANIC while panicking\n", 23);
        power_off(127);
    }
    s_panicking = true;
    kprintln("\nPANIC: {} ({}:{})", message, file, line);
    kprintln("backtrace:");
    print_backtrace();
    stop_after_panic();
}

void stop_after_panic()
{
    arch::disable_interrupts();
    StringView mode;
    if (command_line_value("panic", mode) && mode == StringView("exit")) {
        kprintln("panic=exit: leaving QEMU with exit code 127");
        power_off(127);
    }
    kprintln("System halted.");
    for (;;)
        arch::wait_for_interrupt();
}

void power_off(u32 code)
{
    arch::power_off(code);
}

void reboot()
{
    arch::reset();
}

} // namespace skiff

extern "C" [[noreturn]] void skiff_verify_failed(
    char const* expression, char const* file, int line, char const* function)
{
    skiff::kprintln("\nVERIFY({}) failed in {}", expression, function);
    skiff::panic("VERIFY failed", file, line);
}
