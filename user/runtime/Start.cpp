// Where every program begins (lib/Abi.h: entered as if called, with the argument count and vector):
// run the global constructors, call main, exit with what it returns. And what a freestanding C++
// program needs from its runtime: memmove, memcmp, strlen (memcpy and memset are each
// architecture's, user/arch/<arch>/Copy.cpp), VERIFY's failure path, the pure-virtual trap.

#include <lib/StringView.h>
#include <lib/Verify.h>
#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/System.h>

extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

extern "C" [[noreturn]] [[gnu::used]] void skiff_user_entry(u64 count, char const* const* vector)
{
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
    skiff::StringView words[skiff::abi::kMaxArguments];
    usize n = count < skiff::abi::kMaxArguments ? count : skiff::abi::kMaxArguments;
    for (usize i = 0; i < n; ++i)
        words[i] = skiff::StringView(vector[i]);
    skiff::user::exit(skiff::user::main(skiff::Span<skiff::StringView const>(words, n)));
}

extern "C" [[noreturn]] void skiff_verify_failed(
    char const* expression, char const* file, int line, char const* function)
{
    skiff::user::println("VERIFY({}) failed at {}:{} in {}", expression, file, line, function);
    skiff::user::exit(134);
}

extern "C" void __cxa_pure_virtual()
{
    skiff::user::println("pure virtual function called");
    skiff::user::exit(134);
}

extern "C" {

void* memmove(void* destination, void const* source, size_t count)
{
    auto* to = static_cast<u8*>(destination);
    auto const* from = static_cast<u8 const*>(source);
    if (to < from || to >= from + count)
        return __builtin_memcpy(destination, source, count);
    while (count--)
        to[count] = from[count];
    return destination;
}

int memcmp(void const* a, void const* b, size_t count)
{
    auto const* x = static_cast<u8 const*>(a);
    auto const* y = static_cast<u8 const*>(b);
    for (size_t i = 0; i < count; ++i) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(char const* text)
{
    size_t length = 0;
    while (text[length])
        ++length;
    return length;
}

} // extern "C"
