// The Arm Generic Interrupt Controller (GIC Architecture Specification v3/v4, IHI 0069, "GIC spec"
// below; GICv2: IHI 0048). QEMU's virt machine has one CPU interface in use; interrupts are
// numbered by INTID: 0-15 SGIs, 16-31 PPIs (the timers), 32 and up SPIs (the UART, PCI INTx).
//
// GICv2: a memory-mapped distributor (GICD) and CPU interface (GICC): acknowledge by reading
// GICC_IAR, end by writing GICC_EOIR. GICv3: the distributor, one redistributor per CPU (its SGI
// and PPI configuration in the redistributor's second 64 KiB frame), and a CPU interface reached
// through system registers (ICC_*_EL1, with ICC_SRE_EL1.SRE set). Every interrupt here is Group 1
// (non-secure), priority 0xa0, level-triggered as the device tree says for the UART and PCI.

#include <kernel/arch/aarch64/Gic.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Print.h>

namespace skiff::arch::gic {

namespace {

// Distributor registers (GIC spec 12.9; the same offsets in v2).
constexpr u32 kGicdCtlr = 0x000;
constexpr u32 kGicdTyper = 0x004;
constexpr u32 kGicdIgroupr = 0x080;
constexpr u32 kGicdIsenabler = 0x100;
constexpr u32 kGicdIcenabler = 0x180;
constexpr u32 kGicdIspendr = 0x200;
constexpr u32 kGicdIcpendr = 0x280;
constexpr u32 kGicdIpriorityr = 0x400;
constexpr u32 kGicdItargetsr = 0x800; // v2 only
constexpr u32 kGicdIcfgr = 0xc00;
constexpr u64 kGicdIrouter = 0x6100; // v3 only, 64-bit per SPI
// GICv2 CPU interface (IHI 0048 4.4).
constexpr u32 kGiccCtlr = 0x000;
constexpr u32 kGiccPmr = 0x004;
constexpr u32 kGiccBpr = 0x008;
constexpr u32 kGiccIar = 0x00c;
constexpr u32 kGiccEoir = 0x010;
// GICv3 redistributor (GIC spec 12.10, 12.11): RD_base, then SGI_base 64 KiB later.
constexpr u32 kGicrWaker = 0x014;
constexpr u32 kGicrSgiBase = 0x10000;
constexpr u32 kWakerProcessorSleep = 1u << 1;
constexpr u32 kWakerChildrenAsleep = 1u << 2;

constexpr u8 kPriority = 0xa0;
constexpr u32 kMaxLines = 256; // the kernel's line table (kernel/base/Interrupts.cpp)

u32 s_version = 0;
u32 s_lines = 0;
u8 volatile* s_distributor = nullptr;
u8 volatile* s_cpu_interface = nullptr; // v2
u8 volatile* s_redistributor = nullptr; // v3, this CPU's

u32 read32(u8 volatile* base, u64 offset)
{
    return *reinterpret_cast<u32 volatile*>(base + offset);
}
void write32(u8 volatile* base, u64 offset, u32 value)
{
    asm volatile("dmb oshst" ::: "memory");
    *reinterpret_cast<u32 volatile*>(base + offset) = value;
}
void write8(u8 volatile* base, u64 offset, u8 value)
{
    *reinterpret_cast<u8 volatile*>(base + offset) = value;
}

// SGIs and PPIs are configured in the distributor on v2 and in the redistributor on v3.
u8 volatile* banked(u32 intid)
{
    return (s_version == 3 && intid < 32) ? s_redistributor + kGicrSgiBase : s_distributor;
}

void initialize_distributor()
{
    write32(s_distributor, kGicdCtlr, 0);
    for (u32 intid = 32; intid < s_lines; intid += 32) {
        write32(s_distributor, kGicdIcenabler + intid / 8, 0xffffffff);
        write32(s_distributor, kGicdIcpendr + intid / 8, 0xffffffff);
        if (s_version == 3)
            write32(s_distributor, kGicdIgroupr + intid / 8, 0xffffffff); // Group 1
    }
    for (u32 intid = 32; intid < s_lines; ++intid) {
        write8(s_distributor, kGicdIpriorityr + intid, kPriority);
        if (s_version == 2)
            write8(s_distributor, kGicdItargetsr + intid, 1); // CPU interface 0
        else
            *reinterpret_cast<u64 volatile*>(s_distributor + kGicdIrouter + (intid - 32) * 8) = 0; // affinity 0.0.0.0
    }
    // Level-sensitive (ICFGR 0b00) for every SPI: the UART and PCI INTx lines are level.
    for (u32 intid = 32; intid < s_lines; intid += 16)
        write32(s_distributor, kGicdIcfgr + intid / 4, 0);
    // v2: enable; v3: affinity routing (ARE_NS, bit 4) with Group 1 non-secure (bit 1).
    write32(s_distributor, kGicdCtlr, s_version == 2 ? 1 : ((1u << 4) | (1u << 1)));
}

void initialize_banked()
{
    u8 volatile* base = banked(0);
    write32(base, kGicdIcenabler, 0xffffffff);
    write32(base, kGicdIcpendr, 0xffffffff);
    if (s_version == 3)
        write32(base, kGicdIgroupr, 0xffffffff);
    for (u32 intid = 0; intid < 32; ++intid)
        write8(base, kGicdIpriorityr + intid, kPriority);
}

bool wake_redistributor()
{
    u32 waker = read32(s_redistributor, kGicrWaker);
    write32(s_redistributor, kGicrWaker, waker & ~kWakerProcessorSleep);
    for (u32 attempt = 0; attempt < 1000000; ++attempt) {
        if (!(read32(s_redistributor, kGicrWaker) & kWakerChildrenAsleep))
            return true;
    }
    return false;
}

void initialize_cpu_interface()
{
    if (s_version == 2) {
        write32(s_cpu_interface, kGiccPmr, 0xf0); // every priority above 0xf0 gets through
        write32(s_cpu_interface, kGiccBpr, 0);
        write32(s_cpu_interface, kGiccCtlr, 1);
        return;
    }
    // ICC_SRE_EL1.SRE: the system-register interface (GIC spec, ICC_SRE_EL1), then priority mask,
    // binary point, Group 1 enable.
    u64 sre;
    asm volatile("mrs %0, S3_0_C12_C12_5" : "=r"(sre)); // ICC_SRE_EL1
    asm volatile("msr S3_0_C12_C12_5, %0; isb" ::"r"(sre | 1));
    asm volatile("msr S3_0_C4_C6_0, %0" ::"r"(u64 { 0xf0 }));     // ICC_PMR_EL1
    asm volatile("msr S3_0_C12_C12_3, %0" ::"r"(u64 { 0 }));      // ICC_BPR1_EL1
    asm volatile("msr S3_0_C12_C12_7, %0; isb" ::"r"(u64 { 1 })); // ICC_IGRPEN1_EL1
}

} // namespace

bool initialize(BootInfo const& info)
{
    DeviceInfo const* v3 = info.find_device("arm,gic-v3");
    DeviceInfo const* v2 = info.find_device("arm,cortex-a15-gic");
    if (!v2)
        v2 = info.find_device("arm,gic-400");
    if (v3 && v3->base && v3->base2) {
        s_version = 3;
        s_distributor = phys_to_ptr<u8 volatile>(v3->base);
        s_redistributor = phys_to_ptr<u8 volatile>(v3->base2); // the first redistributor: CPU 0's
    } else if (v2 && v2->base && v2->base2) {
        s_version = 2;
        s_distributor = phys_to_ptr<u8 volatile>(v2->base);
        s_cpu_interface = phys_to_ptr<u8 volatile>(v2->base2);
    } else {
        kprintln("gic: the device tree describes no GICv2 or GICv3 with its register regions: no interrupts");
        return false;
    }
    u32 typer = read32(s_distributor, kGicdTyper);
    s_lines = min(32 * ((typer & 0x1f) + 1), kMaxLines);
    if (s_version == 3 && !wake_redistributor()) {
        kprintln("gic: the redistributor did not wake up (GICR_WAKER.ChildrenAsleep stays set)");
        return false;
    }
    initialize_distributor();
    initialize_banked();
    initialize_cpu_interface();
    kprintln("gic: GICv{} at {:#x}, {} interrupt lines", s_version, s_version == 3 ? v3->base : v2->base, s_lines);
    return true;
}

u32 version()
{
    return s_version;
}

u32 line_count()
{
    return s_lines;
}

void enable(u32 intid)
{
    if (intid < s_lines)
        write32(banked(intid), kGicdIsenabler + (intid / 32) * 4, 1u << (intid % 32));
}

void disable(u32 intid)
{
    if (intid < s_lines)
        write32(banked(intid), kGicdIcenabler + (intid / 32) * 4, 1u << (intid % 32));
}

// GICD_ISPENDR (GIC architecture specification, 4.3.7 / 12.9.23): the pending state, whether the
// interrupt is enabled or not.
bool is_pending(u32 intid)
{
    return intid < s_lines && (read32(banked(intid), kGicdIspendr + (intid / 32) * 4) >> (intid % 32) & 1);
}

u32 acknowledge()
{
    if (s_version == 2)
        return read32(s_cpu_interface, kGiccIar) & 0x3ff;
    if (s_version == 3) {
        u64 intid;
        asm volatile("mrs %0, S3_0_C12_C12_0" : "=r"(intid)::"memory"); // ICC_IAR1_EL1
        return static_cast<u32>(intid & 0xffffff);
    }
    return kSpurious;
}

void end_of_interrupt(u32 intid)
{
    if (s_version == 2)
        write32(s_cpu_interface, kGiccEoir, intid);
    else if (s_version == 3)
        asm volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"(u64 { intid }) : "memory"); // ICC_EOIR1_EL1
}

} // namespace skiff::arch::gic
