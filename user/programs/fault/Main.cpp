// fault: dies on purpose, to show (and test) how the kernel isolates a task that faults. The kernel
// kills it with a one-paragraph report naming the task, the address and the reason; the console,
// the kernel and every other task go on.
//
//   fault            reads address 0 (a null pointer)
//   fault text       writes into its own read-only code
//   fault stack      recurses until its stack runs into the guard page below it
//   fault exec       calls into its data, which is not executable
//   fault kernel     reads the kernel's half of the address space

#include <user/runtime/Print.h>
#include <user/runtime/Program.h>

namespace skiff::user {

namespace {

u8 s_data[64];
int volatile s_deepest = 1 << 30; // never reached: the guard page comes first

[[gnu::noinline]] int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = static_cast<char>(depth);
    if (depth == s_deepest)
        return 0;
    return recurse(depth + 1) + frame[0];
}

} // namespace

int main(Span<StringView const> arguments)
{
    StringView mode = arguments.size() > 1 ? arguments[1] : StringView("null");
    if (mode == "null") {
        println("fault: reading address 0");
        return *reinterpret_cast<int volatile*>(uptr { 0 });
    }
    if (mode == "text") {
        println("fault: writing into my own code at {:#x}", reinterpret_cast<uptr>(&main));
        *reinterpret_cast<u8 volatile*>(reinterpret_cast<uptr>(&main)) = 0;
        return 1;
    }
    if (mode == "stack") {
        println("fault: recursing until the stack overflows");
        return recurse(0);
    }
    if (mode == "exec") {
        println("fault: calling into my data at {:#x}", reinterpret_cast<uptr>(s_data));
        auto function = reinterpret_cast<int (*)()>(reinterpret_cast<uptr>(s_data));
        return function();
    }
    if (mode == "kernel") {
        println("fault: reading the kernel's half at 0xffffffff80100000");
        return *reinterpret_cast<int volatile*>(uptr { 0xffffffff80100000ull });
    }
    println("usage: fault [null|text|stack|exec|kernel]");
    return 2;
}

} // namespace skiff::user
