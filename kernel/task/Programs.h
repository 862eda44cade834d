#pragma once

// The user programs packed into the kernel image (user/CMakeLists.txt generates the table): what
// `programs` lists and `run` starts. Each is an ELF file in the image's read-only data, checked by
// kernel/task/ElfImage.h when it is loaded.

#include <lib/Span.h>
#include <lib/StringView.h>

namespace skiff::task {

struct Program {
    char const* name;
    u8 const* file;
    u64 size;
};

usize program_count();
Program const& program(usize index);
// Null when the image has no program of that name.
Program const* find_program(StringView name);

} // namespace skiff::task
