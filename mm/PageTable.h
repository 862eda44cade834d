#pragma once

// The page-table walker of the architecture being built (CMake names its header and class:
// SKIFF_ARCH_PAGE_TABLE_HEADER, SKIFF_ARCH_PAGE_TABLE_CLASS). Each walker has the same interface
// and speaks mm/PageTableTypes.h; host tests include a walker's own header to test it.

#include <mm/PageTableTypes.h>

#include SKIFF_ARCH_PAGE_TABLE_HEADER

namespace skiff::mm {
using PageTable = SKIFF_ARCH_PAGE_TABLE_CLASS;
} // namespace skiff::mm
