#pragma once

// Running a user program from a console command (apps/TaskCommands.cpp): `run`, and the commands
// whose program moved to user space keep their names by calling this.

#include <lib/Span.h>
#include <lib/StringView.h>

namespace skiff::apps {

// Starts `name` with `arguments` (arguments[0] is the program's name as typed). In the foreground
// it waits for the end, Ctrl-C killing the task, and returns the task's status; in the background
// it returns 0 at once. A program that cannot start is reported and returns 1.
int run_program(StringView name, Span<StringView const> arguments, bool background);

} // namespace skiff::apps
