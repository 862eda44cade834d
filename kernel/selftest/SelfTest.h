#pragma once

// The in-kernel test suite behind the `selftest` console command. The run starts with
// `selftest: N tests registered`; each test prints one line, `KTEST PASS <name>` or
// `KTEST FAIL <name>: <why>`, and the run ends with `selftest: N passed, M failed`. boot.selftest
// (tests/boot/) reads those lines and compares the names with the kTests[] tables in this folder.
//
// Every test must leave the machine as it found it: the runner compares the frames in use before
// and after (mm::frames_in_use_for_tests) and fails a test that leaks.

#include <lib/Format.h>
#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::selftest {

class TestContext {
public:
    // Records the first failure; returns false so a test can `return context.fail(...)`.
    template<typename... Args>
    bool fail(int line, StringView format_string, Args const&... args)
    {
        if (!m_failed) {
            m_failed = true;
            BufferSink sink(m_message, sizeof(m_message));
            format(sink, "line {}: ", line);
            format(sink, format_string, args...);
        }
        return false;
    }
    bool failed() const { return m_failed; }
    char const* message() const { return m_message; }

private:
    bool m_failed { false };
    char m_message[200] {};
};

using TestFunction = bool (*)(TestContext& context);

struct TestCase {
    char const* name;
    TestFunction function;
};

Span<TestCase const> memory_tests();
Span<TestCase const> scheduler_tests();

struct Summary {
    u32 passed;
    u32 failed;
};
// Runs every test whose name starts with `filter` (all when empty).
Summary run(StringView filter);

} // namespace skiff::selftest

// Check a condition inside a test; on failure record where and what, and leave the test.
#define KCHECK(context, condition)                                                                                     \
    do {                                                                                                               \
        if (!(condition))                                                                                              \
            return (context).fail(__LINE__, "{}", #condition);                                                         \
    } while (0)
#define KCHECK_EQ(context, a, b)                                                                                       \
    do {                                                                                                               \
        auto _a = (a);                                                                                                 \
        auto _b = (b);                                                                                                 \
        if (!(_a == _b))                                                                                               \
            return (context).fail(__LINE__, "{} == {}: {} != {}", #a, #b, _a, _b);                                     \
    } while (0)
