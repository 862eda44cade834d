#include <kernel/selftest/SelfTest.h>

#include <kernel/Time.h>
#include <kernel/base/Print.h>
#include <mm/Memory.h>

namespace skiff::selftest {

namespace {

void run_one(TestCase const& test, Summary& summary)
{
    TestContext context;
    u64 frames_before = mm::frames_in_use_for_tests();
    bool passed = test.function(context);
    u64 frames_after = mm::frames_in_use_for_tests();
    if (passed && frames_after != frames_before)
        passed = context.fail(
            0, "frames in use {} before, {} after: the test leaked or freed frames", frames_before, frames_after);
    if (passed && context.failed())
        passed = false;
    if (passed) {
        ++summary.passed;
        kprintln("KTEST PASS {}", test.name);
    } else {
        ++summary.failed;
        kprintln("KTEST FAIL {}: {}", test.name, context.message());
    }
}

} // namespace

Summary run(StringView filter)
{
    Summary summary { 0, 0 };
    u64 start = time::monotonic_ns();
    Span<TestCase const> const suites[] = { memory_tests(), scheduler_tests() };
    // Said first, so that a test runner can check that every registered test ran and passed.
    u64 registered = 0;
    for (auto suite : suites)
        registered += suite.size();
    kprintln("selftest: {} tests registered", registered);
    for (auto suite : suites) {
        for (auto const& test : suite) {
            if (!filter.is_empty() && !StringView(test.name).starts_with(filter))
                continue;
            run_one(test, summary);
        }
    }
    kprintln("selftest: {} passed, {} failed ({} ms)", summary.passed, summary.failed,
        (time::monotonic_ns() - start) / 1000000);
    return summary;
}

} // namespace skiff::selftest
