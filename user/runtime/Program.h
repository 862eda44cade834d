#pragma once

// What a user program defines: main over its arguments (the program's name first, as the console
// typed it). The runtime (Start.cpp) calls it and exits with what it returns.

#include <lib/Span.h>
#include <lib/StringView.h>

namespace skiff::user {

int main(Span<StringView const> arguments);

} // namespace skiff::user
