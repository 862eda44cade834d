#!/usr/bin/env python3
"""Checks a linked skiff.elf before anyone boots it.

1. Multiboot a.out kludge: the loader copies file bytes [header_offset - (header_addr - load_addr),
   + load_end - load_addr) to load_addr. Every loadable segment's bytes must be where that copy
   puts them: p_offset - base_offset == p_paddr - load_addr.
2. The two-pass link moved no function: every text symbol of pass 1 has the same address in the
   final image (the .ksyms table was built from pass 1).

Usage: check_image.py PASS1_ELF FINAL_ELF
"""
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


def text_symbols(path):
    out = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTWw":
            result[parts[2]] = parts[0]
    return result


def main():
    pass1, final = sys.argv[1:3]
    loaded, total = check_multiboot(final)
    before, after = text_symbols(pass1), text_symbols(final)
    moved = [name for name, address in before.items() if after.get(name) != address]
    if moved:
        raise SystemExit(f"{final}: the second link moved {len(moved)} functions, e.g. {moved[:3]}")
    print(f"skiff.elf: Multiboot layout ok, {loaded // 1024} KiB loaded, {total // 1024} KiB with bss, {len(after)} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
