// Reads the flattened device tree QEMU's virt machine passes in x0 (Devicetree Specification
// v0.4, chapter 5 "Flattened Devicetree (DTB) Format"; the bindings of the Linux kernel's
// Documentation/devicetree/bindings for the GIC, the PL011, the generic timer, PSCI and the generic
// ECAM PCI host) into BootInfo: memory, the command line, an initrd, the devices the kernel drives
// and the PCI host bridge's windows and interrupt routing.
//
// The blob is untrusted input as far as its shape goes: every offset and length is checked against
// the blob, a property of the wrong size is reported and ignored, and a missing node costs only
// what it describes (the messages say what). Everything is copied, so mm/ may reuse the blob's
// memory afterwards.

#include <kernel/base/Arch.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Print.h>
#include <lib/ByteOrder.h>

extern "C" u8 const __image_start[];
extern "C" u8 const __kernel_end[];
extern "C" u64 boot_device_tree; // physical address from x0 (boot/aarch64/Boot.S)

namespace skiff::arch {

namespace {

constexpr u32 kMagic = 0xd00dfeed;
constexpr u32 kBeginNode = 1;
constexpr u32 kEndNode = 2;
constexpr u32 kProp = 3;
constexpr u32 kNop = 4;
constexpr u32 kEnd = 9;
constexpr u32 kMaxDepth = 16;
constexpr u64 kMaxBlob = 2 << 20; // QEMU's is a few KiB; anything this big is not a device tree

struct Blob {
    u8 const* bytes;
    u32 size;
    u32 structure;
    u32 structure_size;
    u32 strings;
    u32 strings_size;
};

struct Property {
    u8 const* value { nullptr };
    u32 length { 0 };
    bool present() const { return value != nullptr; }
    u32 cell(u32 index) const { return load_be32(value + index * 4); }
    u32 cells() const { return length / 4; }
    // `count` cells from `index` as one number (1 or 2 cells).
    u64 number(u32 index, u32 count) const
    {
        u64 result = 0;
        for (u32 i = 0; i < count; ++i)
            result = (result << 32) | cell(index + i);
        return result;
    }
    bool string_is(StringView expected) const
    {
        return length > 0 && value[length - 1] == 0 && StringView(reinterpret_cast<char const*>(value)) == expected;
    }
    // compatible is a list of NUL-terminated strings.
    bool list_contains(StringView expected) const
    {
        u32 start = 0;
        for (u32 i = 0; i < length; ++i) {
            if (value[i] == 0) {
                if (StringView(reinterpret_cast<char const*>(value + start), i - start) == expected)
                    return true;
                start = i + 1;
            }
        }
        return false;
    }
};

// What a node says, gathered until its end.
struct Node {
    char name[48] {};
    u32 address_cells { 2 }; // for its children (the specification's defaults)
    u32 size_cells { 1 };
    u32 parent_address_cells { 2 };
    u32 parent_size_cells { 1 };
    u32 phandle { 0 };
    u32 interrupt_cells { 0 };
    Property compatible, device_type, reg, interrupts, bootargs, initrd_start, initrd_end, ranges, interrupt_map,
        interrupt_map_mask, bus_range, method, status;
};

// Interrupt controllers by phandle: how many cells their interrupt specifiers and unit addresses
// have (an interrupt-map entry needs both).
struct Controller {
    u32 phandle;
    u32 address_cells;
    u32 interrupt_cells;
};
Controller s_controllers[8];
u32 s_controller_count = 0;

void record_property(Node& node, StringView name, Property property)
{
    if (name == "compatible")
        node.compatible = property;
    else if (name == "device_type")
        node.device_type = property;
    else if (name == "reg")
        node.reg = property;
    else if (name == "interrupts")
        node.interrupts = property;
    else if (name == "bootargs")
        node.bootargs = property;
    else if (name == "linux,initrd-start")
        node.initrd_start = property;
    else if (name == "linux,initrd-end")
        node.initrd_end = property;
    else if (name == "ranges")
        node.ranges = property;
    else if (name == "interrupt-map")
        node.interrupt_map = property;
    else if (name == "interrupt-map-mask")
        node.interrupt_map_mask = property;
    else if (name == "bus-range")
        node.bus_range = property;
    else if (name == "method")
        node.method = property;
    else if (name == "status")
        node.status = property;
    else if (name == "#address-cells" && property.length == 4)
        node.address_cells = property.cell(0);
    else if (name == "#size-cells" && property.length == 4)
        node.size_cells = property.cell(0);
    else if (name == "#interrupt-cells" && property.length == 4)
        node.interrupt_cells = property.cell(0);
    else if (name == "phandle" && property.length == 4)
        node.phandle = property.cell(0);
}

// A GIC interrupt specifier (3 cells: type, number, flags; bindings arm,gic.yaml) as an INTID; 0
// with a message for anything else.
u32 gic_intid(Node const& node, u32 type, u32 number)
{
    if (type == 0 && number < 988)
        return 32 + number; // SPI
    if (type == 1 && number < 16)
        return 16 + number; // PPI
    kprintln("dt: {}: interrupt of unknown type {} (number {}): not used", node.name, type, number);
    return 0;
}

u32 node_interrupt(Node const& node, u32 index)
{
    if (!node.interrupts.present())
        return 0;
    if (node.interrupts.length % 12 != 0) {
        kprintln("dt: {}: interrupts property of {} bytes is not a list of 3-cell GIC specifiers: not used", node.name,
            node.interrupts.length);
        return 0;
    }
    if ((index + 1) * 3 > node.interrupts.cells())
        return 0;
    return gic_intid(node, node.interrupts.cell(index * 3), node.interrupts.cell(index * 3 + 1));
}

bool reg_entry(Node const& node, u32 index, u64& base, u64& size)
{
    u32 per_entry = node.parent_address_cells + node.parent_size_cells;
    if (!node.reg.present() || per_entry == 0 || node.parent_address_cells > 2 || node.parent_size_cells > 2)
        return false;
    if (node.reg.length % (per_entry * 4) != 0) {
        if (index == 0)
            kprintln("dt: {}: reg of {} bytes is not a list of {}-cell entries: ignored", node.name, node.reg.length,
                per_entry);
        return false;
    }
    if ((index + 1) * per_entry > node.reg.cells())
        return false;
    base = node.reg.number(index * per_entry, node.parent_address_cells);
    size = node.reg.number(index * per_entry + node.parent_address_cells, node.parent_size_cells);
    return true;
}

constexpr char const* kKnownDevices[] = {
    "arm,pl011",
    "arm,gic-v3",
    "arm,cortex-a15-gic",
    "arm,gic-400",
    "arm,armv8-timer",
    "arm,psci-1.0",
    "arm,psci-0.2",
    "arm,psci",
};

void add_device(BootInfo& info, Node const& node, char const* compatible)
{
    if (info.device_count == BootInfo::kMaxDevices) {
        kprintln("dt: {}: more than {} devices; ignored", node.name, BootInfo::kMaxDevices);
        return;
    }
    DeviceInfo& device = info.devices[info.device_count++];
    usize i = 0;
    for (; compatible[i] && i + 1 < sizeof(device.compatible); ++i)
        device.compatible[i] = compatible[i];
    device.compatible[i] = 0;
    StringView kind(compatible);
    if (kind.find(',') >= 0 && StringView(compatible).substring(0, 8) == "arm,psci") {
        // PSCI has no registers: record the conduit instead (1: SMC, 0: HVC) and file it under
        // one name.
        device = {};
        StringView name("arm,psci-1.0");
        for (usize j = 0; j < name.length(); ++j)
            device.compatible[j] = name[j];
        device.base = node.method.string_is("smc") ? 1 : 0;
        return;
    }
    u64 base = 0, size = 0;
    if (reg_entry(node, 0, base, size)) {
        device.base = base;
        device.size = size;
    } else if (kind != "arm,armv8-timer") {
        kprintln("dt: {}: no usable reg for {}", node.name, compatible);
    }
    if (reg_entry(node, 1, base, size)) {
        device.base2 = base;
        device.size2 = size;
    }
    // The generic timer lists secure, non-secure, virtual and hypervisor PPIs: the kernel uses
    // the virtual one. Everything else: its first interrupt.
    device.interrupt = node_interrupt(node, kind == "arm,armv8-timer" ? 2 : 0);
}

Controller const* controller(u32 phandle)
{
    for (u32 i = 0; i < s_controller_count; ++i) {
        if (s_controllers[i].phandle == phandle)
            return &s_controllers[i];
    }
    return nullptr;
}

void read_pci_host(BootInfo& info, Node const& node)
{
    auto& pci = info.pci;
    u64 base = 0, size = 0;
    if (!reg_entry(node, 0, base, size) || size < (1 << 20)) {
        kprintln("dt: {}: no usable ECAM region in reg: PCI not used", node.name);
        return;
    }
    pci.ecam_base = base;
    pci.ecam_size = size;
    pci.bus_first = 0;
    pci.bus_last = static_cast<u8>(min<u64>(size >> 20, 256) - 1);
    if (node.bus_range.present() && node.bus_range.length == 8) {
        pci.bus_first = static_cast<u8>(node.bus_range.cell(0));
        pci.bus_last = static_cast<u8>(min<u32>(node.bus_range.cell(1), 255));
    }
    // ranges: (PCI address: 3 cells, the first saying the space; CPU address: the parent's
    // #address-cells; size: this node's #size-cells). Space code in bits 25:24: 01 I/O, 10 32-bit
    // memory, 11 64-bit memory (IEEE 1275 PCI binding).
    u32 entry = 3 + node.parent_address_cells + node.size_cells;
    if (!node.ranges.present() || node.ranges.length % (entry * 4) != 0) {
        kprintln("dt: {}: ranges missing or malformed: no windows for BARs", node.name);
    } else {
        for (u32 i = 0; i + entry <= node.ranges.cells(); i += entry) {
            u32 space = (node.ranges.cell(i) >> 24) & 3;
            PciHostInfo::Window window { node.ranges.number(i + 3, node.parent_address_cells),
                node.ranges.number(i + 1, 2), node.ranges.number(i + 3 + node.parent_address_cells, node.size_cells) };
            if (space == 1)
                pci.io = window;
            else if (space == 2)
                pci.memory32 = window;
        }
    }
    // interrupt-map: (child unit address: 3 cells; child interrupt: 1 cell, the pin; the parent's
    // phandle; the parent's unit address and interrupt, each as many cells as the parent says).
    if (node.interrupt_map_mask.present() && node.interrupt_map_mask.length == 16)
        pci.device_mask = static_cast<u8>((node.interrupt_map_mask.cell(0) >> 11) & 0x1f);
    if (node.interrupt_map.present()) {
        u32 i = 0;
        while (i + 5 <= node.interrupt_map.cells()) {
            u32 device = (node.interrupt_map.cell(i) >> 11) & 0x1f;
            u32 pin = node.interrupt_map.cell(i + 3);
            Controller const* parent = controller(node.interrupt_map.cell(i + 4));
            if (!parent || parent->interrupt_cells != 3) {
                kprintln("dt: {}: interrupt-map entry {} names an interrupt controller this kernel does not know: "
                         "INTx routing stops there",
                    node.name, pci.route_count);
                break;
            }
            u32 at = i + 5 + parent->address_cells;
            if (at + 3 > node.interrupt_map.cells()) {
                kprintln("dt: {}: interrupt-map ends inside an entry", node.name);
                break;
            }
            u32 line = gic_intid(node, node.interrupt_map.cell(at), node.interrupt_map.cell(at + 1));
            if (line && pin >= 1 && pin <= 4 && pci.route_count < PciHostInfo::kMaxRoutes)
                pci.routes[pci.route_count++] = { static_cast<u8>(device), static_cast<u8>(pin), line };
            i = at + 3;
        }
    }
    pci.present = true;
}

void finish_node(BootInfo& info, Node const& node, bool first_pass)
{
    if (first_pass) {
        if (node.phandle && node.interrupt_cells && s_controller_count < 8)
            s_controllers[s_controller_count++] = { node.phandle, node.address_cells, node.interrupt_cells };
        return;
    }
    if (node.status.present() && !node.status.string_is("okay") && !node.status.string_is("ok"))
        return;
    if (node.device_type.string_is("memory")) {
        u64 base = 0, size = 0;
        u32 entries = 0;
        for (u32 index = 0; reg_entry(node, index, base, size); ++index, ++entries)
            info.add_usable(base, size);
        if (!entries)
            kprintln("dt: {}: memory node without a usable reg", node.name);
        return;
    }
    if (StringView(node.name) == "chosen") {
        if (node.bootargs.present() && node.bootargs.length > 0 && node.bootargs.value[node.bootargs.length - 1] == 0)
            info.set_command_line(StringView(reinterpret_cast<char const*>(node.bootargs.value)));
        if (node.initrd_start.present() && node.initrd_end.present()) {
            u64 start = node.initrd_start.number(0, node.initrd_start.cells() >= 2 ? 2 : 1);
            u64 end = node.initrd_end.number(0, node.initrd_end.cells() >= 2 ? 2 : 1);
            if (end > start && info.module_count < BootInfo::kMaxModules) {
                auto& module = info.modules[info.module_count++];
                module.physical = start;
                module.length = end - start;
                StringView name("initrd");
                for (usize i = 0; i < name.length(); ++i)
                    module.name[i] = name[i];
            }
        }
        return;
    }
    if (!node.compatible.present())
        return;
    if (node.compatible.list_contains("pci-host-ecam-generic")) {
        read_pci_host(info, node);
        return;
    }
    for (char const* known : kKnownDevices) {
        if (node.compatible.list_contains(known)) {
            add_device(info, node, known);
            return;
        }
    }
}

// One walk over the structure block. Returns false (with a message) if the blob is malformed.
bool walk(Blob const& blob, BootInfo& info, bool first_pass)
{
    Node nodes[kMaxDepth];
    u32 depth = 0;
    u32 offset = blob.structure;
    u32 end = blob.structure + blob.structure_size;
    while (offset + 4 <= end) {
        u32 token = load_be32(blob.bytes + offset);
        offset += 4;
        if (token == kBeginNode) {
            if (depth == kMaxDepth) {
                kprintln("dt: nodes nested deeper than {}: the rest of the device tree is ignored", kMaxDepth);
                return false;
            }
            Node& node = nodes[depth];
            node = {};
            if (depth > 0) {
                node.parent_address_cells = nodes[depth - 1].address_cells;
                node.parent_size_cells = nodes[depth - 1].size_cells;
            }
            u32 length = 0;
            while (offset + length < end && blob.bytes[offset + length])
                ++length;
            if (offset + length >= end)
                return false;
            u32 copy = min<u32>(length, sizeof(node.name) - 1);
            __builtin_memcpy(node.name, blob.bytes + offset, copy);
            // The unit address ("@9000000") is not part of the name the code matches.
            for (u32 i = 0; i < copy; ++i) {
                if (node.name[i] == '@') {
                    node.name[i] = 0;
                    break;
                }
            }
            offset = static_cast<u32>(align_up(offset + length + 1, 4));
            ++depth;
        } else if (token == kEndNode) {
            if (depth == 0)
                return false;
            --depth;
            finish_node(info, nodes[depth], first_pass);
        } else if (token == kProp) {
            if (depth == 0 || offset + 8 > end)
                return false;
            u32 length = load_be32(blob.bytes + offset);
            u32 name_offset = load_be32(blob.bytes + offset + 4);
            offset += 8;
            if (length > end - offset || name_offset >= blob.strings_size)
                return false;
            auto const* name = reinterpret_cast<char const*>(blob.bytes + blob.strings + name_offset);
            usize name_length = 0;
            while (name_offset + name_length < blob.strings_size && name[name_length])
                ++name_length;
            record_property(nodes[depth - 1], StringView(name, name_length), { blob.bytes + offset, length });
            offset = static_cast<u32>(align_up(offset + length, 4));
        } else if (token == kNop) {
            continue;
        } else if (token == kEnd) {
            return depth == 0;
        } else {
            return false;
        }
    }
    return false;
}

} // namespace

bool read_boot_info(BootInfo& info)
{
    info.kernel_physical_start = image_virt_to_phys(__image_start);
    info.kernel_physical_end = image_virt_to_phys(__kernel_end);
    u64 physical = boot_device_tree;
    if (!physical || physical < 0x40000000 || physical + 40 > kBootMappedPhysicalEnd) {
        kprintln("dt: no device tree from the loader (x0 = {:#x}); boot with the arm64 Image, not the ELF", physical);
        return false;
    }
    u8 const* bytes = phys_to_ptr<u8 const>(physical);
    Blob blob { bytes, load_be32(bytes + 4), load_be32(bytes + 8), load_be32(bytes + 36), load_be32(bytes + 12),
        load_be32(bytes + 32) };
    if (load_be32(bytes) != kMagic || blob.size > kMaxBlob || physical + blob.size > kBootMappedPhysicalEnd
        || blob.structure > blob.size || blob.structure_size > blob.size - blob.structure || blob.strings > blob.size
        || blob.strings_size > blob.size - blob.strings) {
        kprintln("dt: the blob at {:#x} is not a device tree (magic {:#x}, {} bytes)", physical, load_be32(bytes),
            blob.size);
        return false;
    }
    info.loader_data = { physical, blob.size };
    s_controller_count = 0;
    bool first = walk(blob, info, true);
    bool second = walk(blob, info, false);
    if (!first || !second) {
        kprintln("dt: the structure block is malformed; what was read before the fault is used");
    }
    if (!info.loader_name[0]) {
        StringView name("device tree");
        for (usize i = 0; i < name.length(); ++i)
            info.loader_name[i] = name[i];
    }
    if (info.usable_count == 0)
        kprintln("dt: no memory node with a usable reg");
    if (!info.pci.present)
        kprintln("dt: no pci-host-ecam-generic node: no PCI devices");
    return info.usable_count > 0;
}

} // namespace skiff::arch
