#!/usr/bin/env python3
"""The architecture seam speaks intent: outside arch/ folders (kernel/arch/, mm/arch/, boot/, user/arch/) no C++
file names an instruction or register of one architecture, and none chooses code by the compiler's
architecture macros. The rest of the kernel says arch::disable_interrupts(), not cli.

Usage: check_arch_seam.py ROOT
"""
import os
import re
import sys

# x86-64 and AArch64 instruction and register names as they would appear in C++ (a call, an asm
# string or a builtin), and the predefined architecture macros.
FORBIDDEN = re.compile(
    r"\b(cli|sti|sti_hlt|hlt|rdtsc|rdtscp|lfence|mfence|sfence|inb|outb|inw|outw|inl|outl|insw|outsw|insl|outsl|"
    r"invlpg|read_cr[0-4]|write_cr[0-4]|rdmsr|wrmsr|cpuid|wfi|wfe|tlbi|dsb|dmb|isb|msr|mrs|eret)\s*\("
    r"|asm\s*(volatile\s*)?\(\s*\"\s*(cli|sti|hlt|rdtsc|lfence|invlpg|pause|wfi|dsb|dmb|isb|msr|mrs|tlbi)"
    r"|__builtin_ia32_|__x86_64__|__aarch64__|__i386__|__arm__")
ARCH_FOLDERS = ("kernel/arch/", "mm/arch/", "boot/", "user/arch/")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    violations, checked = [], 0
    for directory, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "build"]
        for name in files:
            if not name.endswith((".cpp", ".h")):
                continue
            path = os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
            if path.startswith(ARCH_FOLDERS) or path.startswith("tests/") or path.startswith("tools/"):
                continue
            checked += 1
            with open(os.path.join(root, path), encoding="utf-8", errors="replace") as source:
                for number, line in enumerate(source, 1):
                    code = line.split("//", 1)[0]
                    match = FORBIDDEN.search(code)
                    if match:
                        violations.append(f"{path}:{number}: '{match.group(0).strip()}' outside the arch/ folders")
    for violation in violations:
        print(violation)
    if violations:
        print(f"arch seam: {len(violations)} violation(s); say it through kernel/base/Arch.h instead")
        return 1
    print(f"arch seam ok: {checked} C++ files outside kernel/arch/, mm/arch/, user/arch/ and boot/ name no instruction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
