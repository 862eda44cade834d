#include <kernel/task/Programs.h>
#include <lib/Verify.h>

extern "C" skiff::task::Program const skiff_user_programs[];
extern "C" u64 const skiff_user_program_count;

namespace skiff::task {

usize program_count()
{
    return skiff_user_program_count;
}

Program const& program(usize index)
{
    VERIFY(index < skiff_user_program_count);
    return skiff_user_programs[index];
}

Program const* find_program(StringView name)
{
    for (usize i = 0; i < skiff_user_program_count; ++i) {
        if (StringView(skiff_user_programs[i].name) == name)
            return &skiff_user_programs[i];
    }
    return nullptr;
}

} // namespace skiff::task
