#pragma once

// The kernel's TLB operations for the page-table walker (kernel only: privileged instructions).

#include <kernel/base/Arch.h>
#include <mm/arch/x86_64/PageTable.h>

namespace skiff::mm::arch_tlb {

inline void flush_page(uptr address)
{
    arch::invlpg(address);
}
// Reloading CR3 drops every non-global translation (SDM §4.10.4.1). The kernel maps nothing
// global, so this is a complete flush.
inline void flush_all()
{
    arch::write_cr3(arch::read_cr3());
}
// Also drops global translations: toggling CR4.PGE (SDM §4.10.4.1), used once after the boot
// tables are replaced.
inline void flush_everything()
{
    u64 cr4 = arch::read_cr4();
    arch::write_cr4(cr4 & ~(1ull << 7));
    arch::write_cr4(cr4);
}
inline void activate(PhysicalAddress root)
{
    arch::write_cr3(root);
}

constexpr TlbOperations kOperations { flush_page, flush_all };

} // namespace skiff::mm::arch_tlb
