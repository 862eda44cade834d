// hello: the smallest tour of the system calls — its arguments, the task id, the clock, a sleep, two
// threads that each print and return a code, joined.

#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/System.h>

namespace skiff::user {

namespace {

int worker(void* argument)
{
    auto number = reinterpret_cast<uptr>(argument);
    println("hello: thread {} of task {} running", number, task_id());
    return static_cast<int>(100 + number);
}

} // namespace

int main(Span<StringView const> arguments)
{
    print("hello from task {}:", task_id());
    for (auto const& word : arguments)
        print(" [{}]", word);
    println("");
    u64 before = clock_ns();
    sleep_ms(20);
    u64 slept = clock_ns() - before;
    println("hello: slept {} us", slept / 1000);
    u32 threads[2];
    for (uptr i = 0; i < 2; ++i) {
        auto created = thread_create(worker, reinterpret_cast<void*>(i + 1));
        if (created.is_error()) {
            println("hello: thread_create: {}", created.error());
            return 1;
        }
        threads[i] = created.value();
    }
    for (auto thread : threads) {
        auto code = thread_join(thread);
        if (code.is_error()) {
            println("hello: thread_join({}): {}", thread, code.error());
            return 1;
        }
        println("hello: thread {} exited with {}", thread, code.value());
    }
    return slept >= 20000000 ? 0 : 3;
}

} // namespace skiff::user
