#pragma once

// The system calls of lib/Abi.h, as the kernel serves them: one handler the architecture's entry
// calls with the trap frame (kernel/base/Interrupts.h), which checks every pointer and length the
// task passes before anything is done with it.

#include <lib/Types.h>

namespace skiff::task {
class Task;
}

namespace skiff::syscall {

// Installs the handler (kernel/task/Tasks.cpp calls it).
void initialize();
// Closes every descriptor of a task that is ending (its last thread, in kernel mode).
void close_all_descriptors(task::Task& task);

// Calls served since boot, for `tasks`.
u64 call_count();

} // namespace skiff::syscall
