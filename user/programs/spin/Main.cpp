// spin: loops forever, never calling the kernel. The timer preempts it; `kill` (or Ctrl-C in the
// foreground) ends it.

#include <user/runtime/Program.h>

namespace skiff::user {

int main(Span<StringView const>)
{
    for (;;)
        asm volatile("" ::: "memory");
}

} // namespace skiff::user
