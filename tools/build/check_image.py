#!/usr/bin/env python3
"""Checks a linked kernel image before anyone boots it.

1. x86_64, Multiboot a.out kludge: the loader copies file bytes [header_offset - (header_addr - load_addr),
   + load_end - load_addr) to load_addr. Every loadable segment's bytes must be where that copy
   puts them: p_offset - base_offset == p_paddr - load_addr.
   aarch64, the arm64 Image (Linux Documentation/arm64/booting.rst): the header's branch, magic
   "ARM\x64" at 56, text_offset 0x80000, an image_size that covers the bss, 4 KiB pages in the flags,
   and a file no longer than image_size.
2. The two-pass link moved no function: every text symbol of pass 1 has the same address in the
   final image (the .ksyms table was built from pass 1).

Usage: check_image.py [--arch x86_64|aarch64] [--nm NM] PASS1_ELF FINAL_ELF [IMAGE]
"""
import os
import struct
import subprocess
import sys

MAGIC = 0x1BADB002


def load_segments(data):
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise SystemExit("not an ELF64 file")
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    segments = []
    for i in range(phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            segments.append((p_offset, p_paddr, p_filesz, p_memsz))
    return segments


def check_multiboot(path):
    data = open(path, "rb").read()
    for offset in range(0, min(len(data), 8192) - 32, 4):
        magic, flags, checksum = struct.unpack_from("<III", data, offset)
        if magic == MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            break
    else:
        raise SystemExit(f"{path}: no Multiboot header in the first 8 KiB")
    if not flags & (1 << 16):
        raise SystemExit(f"{path}: Multiboot header lacks the a.out kludge flag")
    header_addr, load_addr, load_end, bss_end, entry = struct.unpack_from("<IIIII", data, offset + 12)
    base = offset - (header_addr - load_addr)
    if base < 0:
        raise SystemExit(f"{path}: header_addr/load_addr inconsistent")
    for p_offset, p_paddr, p_filesz, p_memsz in load_segments(data):
        if p_filesz == 0:
            continue
        if p_offset - base != p_paddr - load_addr:
            raise SystemExit(f"{path}: segment at paddr {p_paddr:#x} is at file offset {p_offset:#x}, "
                             f"the Multiboot copy puts offset {base + p_paddr - load_addr:#x} there")
        if p_paddr + p_filesz > load_end:
            raise SystemExit(f"{path}: segment at {p_paddr:#x} ends past load_end_addr {load_end:#x}")
    if base + (load_end - load_addr) > len(data):
        raise SystemExit(f"{path}: file shorter than load_end_addr needs")
    if not (load_addr <= entry < load_end and load_end <= bss_end):
        raise SystemExit(f"{path}: entry or bss_end outside the image")
    return load_end - load_addr, bss_end - load_addr


def check_arm64_image(path):
    data = open(path, "rb").read()
    if len(data) < 64:
        raise SystemExit(f"{path}: shorter than the 64-byte arm64 Image header")
    code0, code1, text_offset, image_size, flags = struct.unpack_from("<IIQQQ", data, 0)
    magic = data[56:60]
    if magic != b"ARM\x64":
        raise SystemExit(f"{path}: no arm64 Image magic at offset 56 (found {magic!r})")
    if (code0 >> 26) != 0b000101:
        raise SystemExit(f"{path}: the first word {code0:#x} is not a branch")
    if text_offset != 0x80000:
        raise SystemExit(f"{path}: text_offset {text_offset:#x}, the kernel is linked for 0x80000")
    if image_size < len(data):
        raise SystemExit(f"{path}: image_size {image_size:#x} smaller than the file ({len(data):#x} bytes)")
    if (flags >> 1) & 3 != 1:
        raise SystemExit(f"{path}: flags {flags:#x} do not say 4 KiB pages")
    return len(data), image_size


NM = "nm"


def text_symbols(path):
    out = subprocess.run([NM, "--defined-only", path], capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTWw":
            result[parts[2]] = parts[0]
    return result


def main():
    global NM
    args = sys.argv[1:]
    arch = "x86_64"
    while args and args[0].startswith("--"):
        option, value = args[0], args[1]
        args = args[2:]
        if option == "--arch":
            arch = value
        elif option == "--nm":
            NM = value
        else:
            raise SystemExit(f"unknown option {option}")
    pass1, final = args[0:2]
    if arch == "aarch64":
        loaded, total = check_arm64_image(args[2])
        what = "arm64 Image header ok"
    else:
        loaded, total = check_multiboot(final)
        what = "Multiboot layout ok"
    before, after = text_symbols(pass1), text_symbols(final)
    moved = [name for name, address in before.items() if after.get(name) != address]
    if moved:
        raise SystemExit(f"{final}: the second link moved {len(moved)} functions, e.g. {moved[:3]}")
    print(f"{os.path.basename(final)}: {what}, {loaded // 1024} KiB loaded, {total // 1024} KiB with bss, {len(after)} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
