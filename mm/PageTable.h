#pragma once

// The page-table walker for the architecture being built. Only x86-64 (4-level paging) exists so
// far; an AArch64 port adds mm/arch/aarch64/PageTable.h with the same class interface.

#include <mm/arch/x86_64/PageTable.h>
