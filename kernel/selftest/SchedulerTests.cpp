// In-kernel tests of threads, the scheduler, timers and synchronisation, on the real tick.
//
// The thread running `selftest` raises itself to kTestPriority for each test so that the test
// threads it creates (all below it unless the test says otherwise) run only when it blocks.

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/selftest/SelfTest.h>
#include <kernel/sync/MessageQueue.h>
#include <kernel/sync/Mutex.h>
#include <kernel/sync/Semaphore.h>
#include <kernel/timer/Timer.h>

namespace skiff::selftest {

namespace {

constexpr u8 kTestPriority = 24;

class PriorityScope {
public:
    PriorityScope()
        : m_saved(sched::current()->priority())
    {
        sched::set_priority(sched::current(), kTestPriority);
    }
    ~PriorityScope() { sched::set_priority(sched::current(), m_saved); }

private:
    u8 m_saved;
};

u64 now_us()
{
    return time::monotonic_ns() / 1000;
}

// A log of small integers written by several threads, with interrupts off per entry.
struct Log {
    static constexpr usize kCapacity = 64;
    int entries[kCapacity];
    usize count { 0 };
    void add(int value)
    {
        arch::InterruptDisabler disabler;
        if (count < kCapacity)
            entries[count++] = value;
    }
};

// --- priority order ------------------------------------------------------------------------

struct OrderArgs {
    Log* log;
    int id;
};

void record_and_exit(void* argument)
{
    auto* args = static_cast<OrderArgs*>(argument);
    args->log->add(args->id);
}

bool priority_order(TestContext& t)
{
    PriorityScope scope;
    Log log;
    OrderArgs a { &log, 10 }, b { &log, 12 }, c { &log, 11 };
    sched::Thread* threads[3];
    threads[0] = MUST(sched::create_thread("t-prio10", record_and_exit, &a, 10)); // memory: small
    threads[1] = MUST(sched::create_thread("t-prio12", record_and_exit, &b, 12));
    threads[2] = MUST(sched::create_thread("t-prio11", record_and_exit, &c, 11));
    KCHECK_EQ(t, log.count, 0u); // all less urgent than us: none ran yet
    for (auto* thread : threads)
        sched::join(thread);
    KCHECK_EQ(t, log.count, 3u);
    KCHECK_EQ(t, log.entries[0], 12);
    KCHECK_EQ(t, log.entries[1], 11);
    KCHECK_EQ(t, log.entries[2], 10);
    return true;
}

// --- round robin ---------------------------------------------------------------------------

struct SpinArgs {
    Log* log;
    int id;
    u64 spin_until_us;
    volatile bool* stop;
    u64 spin_until_tick { ~0ull }; // time slices are counted in ticks, so round robin spins in ticks
};

// Spins without yielding; logs its id each time it finds that someone else ran since its last
// look (i.e. once per time slice it gets).
void spin_and_log(void* argument)
{
    auto* args = static_cast<SpinArgs*>(argument);
    for (;;) {
        // Check the deadline and log in one step with interrupts off: a thread preempted between
        // the two would otherwise log a turn after the deadline, out of rotation.
        arch::InterruptDisabler disabler;
        if (now_us() >= args->spin_until_us || time::ticks() >= args->spin_until_tick || (args->stop && *args->stop))
            return;
        if (args->log->count == 0 || args->log->entries[args->log->count - 1] != args->id)
            args->log->add(args->id);
    }
}

bool round_robin(TestContext& t)
{
    PriorityScope scope;
    Log log;
    // 7 slices of kTimeSliceTicks between three threads (and a time limit against a hang).
    u64 until_tick = time::ticks() + 7 * sched::kTimeSliceTicks;
    u64 until = now_us() + 1'000'000;
    SpinArgs a { &log, 1, until, nullptr, until_tick }, b { &log, 2, until, nullptr, until_tick },
        c { &log, 3, until, nullptr, until_tick };
    sched::Thread* threads[3] = {
        MUST(sched::create_thread("t-rr1", spin_and_log, &a, 15)), // memory: small
        MUST(sched::create_thread("t-rr2", spin_and_log, &b, 15)),
        MUST(sched::create_thread("t-rr3", spin_and_log, &c, 15)),
    };
    for (auto* thread : threads)
        sched::join(thread);
    // They must have taken turns: 1 2 3 1 2 3 ... (7 turns; 5 leaves room for a slice that a
    // burst of catch-up ticks from QEMU cut short or merged).
    KCHECK(t, log.count >= 5);
    for (usize i = 0; i < log.count; ++i)
        KCHECK_EQ(t, log.entries[i], static_cast<int>(i % 3) + 1);
    return true;
}

// --- preemption of a spinning thread ------------------------------------------------------

bool preempts_spinning_thread(TestContext& t)
{
    PriorityScope scope;
    Log log;
    volatile bool stop = false;
    // The spinner gives up by itself after 300 ms, so a broken scheduler fails this test instead
    // of hanging it.
    SpinArgs spinner { &log, 1, now_us() + 300'000, &stop };
    sched::Thread* thread = MUST(sched::create_thread("t-spinner", spin_and_log, &spinner, 14)); // memory: small
    // While we sleep the spinner runs and never yields; our wake-up (a timer interrupt) must take
    // the CPU back from it.
    u64 start = now_us();
    sched::sleep_ms(20);
    u64 slept = now_us() - start;
    bool spinner_ran = log.count > 0;
    stop = true;
    sched::join(thread);
    KCHECK(t, spinner_ran);
    KCHECK(t, slept >= 20'000);
    if (slept >= 100'000)
        return t.fail(__LINE__, "slept {} us: the spinner kept the CPU", slept);
    return true;
}

// --- priority change --------------------------------------------------------------------

bool priority_change(TestContext& t)
{
    PriorityScope scope;
    Log log;
    OrderArgs args { &log, 1 };
    sched::Thread* thread = MUST(sched::create_thread("t-raise", record_and_exit, &args, 10)); // memory: small
    // Busy for 5 ms: the thread is ready but less urgent, so it must not run.
    u64 until = now_us() + 5'000;
    while (now_us() < until)
        arch::relax();
    KCHECK_EQ(t, log.count, 0u);
    // Raised above us: it runs before set_priority returns.
    sched::set_priority(thread, kTestPriority + 1);
    KCHECK_EQ(t, log.count, 1u);
    sched::join(thread);

    // Lowering ourselves below a ready thread hands it the CPU at once, too.
    OrderArgs args2 { &log, 2 };
    thread = MUST(sched::create_thread("t-lower", record_and_exit, &args2, 12)); // memory: small
    KCHECK_EQ(t, log.count, 1u);
    sched::set_priority(sched::current(), 11);
    KCHECK_EQ(t, log.count, 2u);
    sched::set_priority(sched::current(), kTestPriority);
    sched::join(thread);
    return true;
}

// --- timers ---------------------------------------------------------------------------------

struct TimerProbe {
    static constexpr usize kMaxFirings = 16;
    struct Firing {
        u64 deadline_ns;      // what the timer was due at
        u64 tick_ns;          // the tick that fired it
        u64 previous_tick_ns; // the tick before
    };
    sync::Semaphore fired;
    timer::Timer* timer { nullptr };
    Firing firings[kMaxFirings] {};
    usize count { 0 };
};

void on_timer(void* context)
{
    auto* probe = static_cast<TimerProbe*>(context);
    if (probe->count < TimerProbe::kMaxFirings)
        probe->firings[probe->count++]
            = { probe->timer->last_deadline_ns(), timer::current_check_ns(), timer::previous_check_ns() };
    probe->fired.post(); // from the timer interrupt: an interrupt handler waking a thread
}

// "Within a tick", checked exactly: the tick that fired a timer came at or after its deadline,
// and the tick before came before it, so the timer fired on the first tick it could. That holds
// however QEMU's ticks are spaced on a loaded host. Separately, a loose bound on real lateness
// catches a timer that is tick-accurate but whose ticks stopped.
bool check_firing(TestContext& t, TimerProbe::Firing const& firing, u64 start_ns, u64 expected_deadline_ns)
{
    if (firing.deadline_ns != expected_deadline_ns && expected_deadline_ns)
        return t.fail(__LINE__, "deadline {} ns after start, expected {}", firing.deadline_ns - start_ns,
            expected_deadline_ns - start_ns);
    if (firing.tick_ns < firing.deadline_ns)
        return t.fail(__LINE__, "fired {} ns early", firing.deadline_ns - firing.tick_ns);
    if (firing.previous_tick_ns >= firing.deadline_ns)
        return t.fail(__LINE__, "missed the tick at +{} ns after its deadline (fired {} ns late)",
            firing.previous_tick_ns - firing.deadline_ns, firing.tick_ns - firing.deadline_ns);
    if (firing.tick_ns - firing.deadline_ns > 50'000'000)
        return t.fail(__LINE__, "fired {} ns late: no ticks", firing.tick_ns - firing.deadline_ns);
    return true;
}

bool one_shot_timer_accuracy(TestContext& t)
{
    PriorityScope scope;
    u64 const delays[] = { 1, 3, 10, 25 };
    for (u64 delay : delays) {
        TimerProbe probe;
        timer::Timer timer;
        probe.timer = &timer;
        u64 start = time::monotonic_ns();
        timer.start(delay, on_timer, &probe);
        KCHECK(t, !probe.fired.wait(delay + 100).is_error());
        KCHECK_EQ(t, probe.count, 1u);
        u64 deadline = probe.firings[0].deadline_ns;
        // The deadline is `delay` ms after the start call (give or take the call itself).
        KCHECK(t, deadline >= start + delay * 1'000'000 && deadline < start + delay * 1'000'000 + 1'000'000);
        if (!check_firing(t, probe.firings[0], start, 0))
            return false;
        KCHECK_EQ(t, timer.fired_count(), 1u);
        KCHECK(t, !timer.is_armed());
    }
    return true;
}

bool periodic_timer(TestContext& t)
{
    PriorityScope scope;
    // Ten periods of 5 ms: firing k is due exactly at first deadline + 5k ms (no drift: the next
    // deadline is the previous deadline plus the period, not "now" plus it), and each fires on
    // the first tick at or after it.
    TimerProbe probe;
    timer::Timer timer;
    probe.timer = &timer;
    u64 start = time::monotonic_ns();
    timer.start_periodic(5, on_timer, &probe);
    for (int i = 0; i < 10; ++i)
        KCHECK(t, !probe.fired.wait(100).is_error());
    KCHECK(t, timer.cancel());
    KCHECK(t, probe.count >= 10u);
    u64 first = probe.firings[0].deadline_ns;
    KCHECK(t, first >= start + 5'000'000 && first < start + 6'000'000);
    for (usize k = 0; k < 10; ++k) {
        if (!check_firing(t, probe.firings[k], start, first + k * 5'000'000))
            return false;
    }
    return true;
}

// --- synchronisation ------------------------------------------------------------------------

constexpr int kWorkers = 4;
constexpr int kRounds = 100;

struct Shared {
    sync::Semaphore semaphore { 1 };
    sync::Mutex mutex;
    int counter { 0 };
};

// A read-modify-write with a yield in the middle: without mutual exclusion, updates are lost.
void semaphore_worker(void* argument)
{
    auto* shared = static_cast<Shared*>(argument);
    for (int i = 0; i < kRounds; ++i) {
        MUST(shared->semaphore.wait()); // no timeout
        int value = shared->counter;
        sched::yield();
        shared->counter = value + 1;
        shared->semaphore.post();
    }
}

void mutex_worker(void* argument)
{
    auto* shared = static_cast<Shared*>(argument);
    for (int i = 0; i < kRounds; ++i) {
        sync::MutexLocker locker(shared->mutex);
        int value = shared->counter;
        sched::yield();
        shared->counter = value + 1;
    }
}

bool run_workers(TestContext& t, sched::ThreadEntry worker, Shared& shared)
{
    sched::Thread* threads[kWorkers];
    for (auto& thread : threads) {
        auto created = sched::create_thread("t-worker", worker, &shared, 12);
        KCHECK(t, !created.is_error());
        thread = created.value();
    }
    for (auto* thread : threads)
        sched::join(thread);
    KCHECK_EQ(t, shared.counter, kWorkers * kRounds);
    return true;
}

bool semaphore_contention(TestContext& t)
{
    PriorityScope scope;
    Shared shared;
    if (!run_workers(t, semaphore_worker, shared))
        return false;
    // And a timed wait on an empty semaphore times out on time.
    sync::Semaphore empty(0);
    u64 start = now_us();
    auto result = empty.wait(10);
    u64 elapsed = now_us() - start;
    KCHECK(t, result.is_error());
    KCHECK(t, result.error() == Error::TimedOut);
    // Never early; the upper bound only catches a timeout that did not fire at all.
    KCHECK(t, elapsed >= 10'000 && elapsed <= 60'000);
    KCHECK(t, !empty.try_wait());
    return true;
}

bool mutex_contention(TestContext& t)
{
    PriorityScope scope;
    Shared shared;
    if (!run_workers(t, mutex_worker, shared))
        return false;
    KCHECK(t, shared.mutex.contentions() > 0); // they really did collide
    KCHECK(t, !shared.mutex.is_locked());
    return true;
}

// The classic inversion: Low holds a mutex, High waits for it, Medium spins. Without priority
// inheritance Medium keeps Low off the CPU and High waits for Medium's whole spin (300 ms here);
// with it, Low runs at High's priority, finishes its 5 ms critical section and High gets in.
struct InversionArgs {
    sync::Mutex mutex;
    sync::Semaphore low_has_lock;
    volatile bool stop_medium { false };
    u64 high_asked_us { 0 };
    u64 high_got_us { 0 };
    u8 low_priority_while_waited { 0 };
};

void inversion_low(void* argument)
{
    auto* args = static_cast<InversionArgs*>(argument);
    sync::MutexLocker locker(args->mutex);
    args->low_has_lock.post();
    u64 until = now_us() + 5'000;
    while (now_us() < until)
        arch::relax();
    args->low_priority_while_waited = sched::current()->priority();
}

void inversion_medium(void* argument)
{
    auto* args = static_cast<InversionArgs*>(argument);
    u64 until = now_us() + 300'000;
    while (now_us() < until && !args->stop_medium)
        arch::relax();
}

void inversion_high(void* argument)
{
    auto* args = static_cast<InversionArgs*>(argument);
    args->high_asked_us = now_us();
    sync::MutexLocker locker(args->mutex);
    args->high_got_us = now_us();
}

bool mutex_priority_inheritance(TestContext& t)
{
    PriorityScope scope;
    InversionArgs args;
    sched::Thread* low = MUST(sched::create_thread("t-low", inversion_low, &args, 5)); // memory: small
    MUST(args.low_has_lock.wait());                                                    // no timeout
    sched::Thread* medium = MUST(sched::create_thread("t-medium", inversion_medium, &args, 10));
    sched::Thread* high = MUST(sched::create_thread("t-high", inversion_high, &args, 20));
    sched::join(high);
    args.stop_medium = true;
    sched::join(medium);
    u8 low_base_priority = low->base_priority(); // Low has exited but is not yet joined (freed)
    u8 low_priority_after = low->priority();
    sched::join(low);
    u64 waited = args.high_got_us - args.high_asked_us;
    KCHECK_EQ(t, args.low_priority_while_waited, 20); // Low ran with High's priority
    KCHECK_EQ(t, low_base_priority, 5);               // lent, not given
    KCHECK_EQ(t, low_priority_after, 5);              // and returned at unlock
    if (waited >= 100'000)
        return t.fail(__LINE__, "High waited {} us for a 5 ms critical section: priority inversion", waited);
    return true;
}

struct Message {
    u32 producer;
    u32 sequence;
};

struct QueueArgs {
    sync::MessageQueue* queue;
    u32 producer;
};

constexpr u32 kMessagesPerProducer = 100;

void producer(void* argument)
{
    auto* args = static_cast<QueueArgs*>(argument);
    for (u32 i = 0; i < kMessagesPerProducer; ++i) {
        Message message { args->producer, i };
        MUST(args->queue->send(&message)); // no timeout
    }
}

bool message_queue_contention(TestContext& t)
{
    PriorityScope scope;
    auto created = sync::MessageQueue::create(sizeof(Message), 4);
    KCHECK(t, !created.is_error());
    sync::MessageQueue* queue = created.value();
    constexpr u32 kProducers = 3;
    QueueArgs args[kProducers];
    sched::Thread* threads[kProducers];
    for (u32 p = 0; p < kProducers; ++p) {
        args[p] = { queue, p };
        threads[p] = MUST(sched::create_thread("t-producer", producer, &args[p], 12)); // memory: small
    }
    u32 next[kProducers] = {};
    bool in_order = true;
    for (u32 i = 0; i < kProducers * kMessagesPerProducer; ++i) {
        Message message {};
        if (queue->receive(&message, 1000).is_error()) {
            in_order = false;
            break;
        }
        if (message.producer >= kProducers || message.sequence != next[message.producer]++)
            in_order = false;
    }
    for (auto* thread : threads)
        sched::join(thread);
    Message extra {};
    u64 start = now_us();
    auto timed = queue->receive(&extra, 5);
    u64 elapsed = now_us() - start;
    delete queue;
    KCHECK(t, in_order);
    for (u32 p = 0; p < kProducers; ++p)
        KCHECK_EQ(t, next[p], kMessagesPerProducer);
    KCHECK(t, timed.is_error() && timed.error() == Error::TimedOut);
    KCHECK(t, elapsed >= 5'000 && elapsed <= 60'000);
    return true;
}

bool wait_queue_timeout_and_wake(TestContext& t)
{
    PriorityScope scope;
    sync::WaitQueue queue;
    u64 start = now_us();
    Result<void> result = {};
    {
        arch::InterruptDisabler disabler;
        result = queue.wait(8);
    }
    u64 elapsed = now_us() - start;
    KCHECK(t, result.is_error() && result.error() == Error::TimedOut);
    KCHECK(t, elapsed >= 8'000 && elapsed <= 60'000);
    KCHECK(t, queue.is_empty());
    // Woken before the timeout by a timer interrupt: no error, early.
    struct Waker {
        sync::WaitQueue* queue;
        static void fire(void* context) { static_cast<Waker*>(context)->queue->wake_one(); }
    } waker { &queue };
    timer::Timer timer;
    start = now_us();
    {
        arch::InterruptDisabler disabler;
        timer.start(3, Waker::fire, &waker);
        result = queue.wait(1000);
    }
    elapsed = now_us() - start;
    KCHECK(t, !result.is_error());
    KCHECK(t, elapsed >= 3'000 && elapsed <= 100'000); // woken by the timer, long before 1000 ms
    return true;
}

constexpr TestCase kTests[] = {
    { "sched.priority_order", priority_order },
    { "sched.round_robin", round_robin },
    { "sched.preempts_spinning_thread", preempts_spinning_thread },
    { "sched.priority_change", priority_change },
    { "timer.one_shot_accuracy", one_shot_timer_accuracy },
    { "timer.periodic", periodic_timer },
    { "sync.semaphore_contention", semaphore_contention },
    { "sync.mutex_contention", mutex_contention },
    { "sync.mutex_priority_inheritance", mutex_priority_inheritance },
    { "sync.message_queue_contention", message_queue_contention },
    { "sync.wait_queue_timeout", wait_queue_timeout_and_wake },
};

} // namespace

Span<TestCase const> scheduler_tests()
{
    return kTests;
}

} // namespace skiff::selftest
