#!/usr/bin/env python3
"""Host tests of the Linux guest's builder and driver, no boot and no download: the cpio "newc"
writer (read back by an independent parser written here from the format's description), module
dependency order from `depends=` (plain and compressed modules), the ldd parser, and the console
status marker. CTest: net.linux.builder_unit (label unit)."""

from __future__ import annotations

import gzip
import lzma
import os
import re
import stat
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "qemu"))
sys.path.insert(0, os.path.join(ROOT, "qemu", "linux"))

import guestimage  # noqa: E402
import linuxguest  # noqa: E402


def read_newc(data: bytes) -> list[dict]:
    """Parses a newc archive: '070701', 13 eight-digit hex fields, the name (NUL-terminated) padded
    to 4 bytes counting the 110-byte header, then the data padded to 4 bytes; ends at TRAILER!!!."""
    entries, offset = [], 0
    names = ["ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor",
             "rdevminor", "namesize", "check"]
    while True:
        assert data[offset:offset + 6] == b"070701", f"bad magic at {offset}"
        fields = {name: int(data[offset + 6 + 8 * i: offset + 14 + 8 * i], 16) for i, name in enumerate(names)}
        name_start = offset + 110
        name = data[name_start:name_start + fields["namesize"] - 1].decode()
        assert data[name_start + fields["namesize"] - 1] == 0
        data_start = name_start + fields["namesize"]
        data_start += -data_start % 4
        body = data[data_start:data_start + fields["filesize"]]
        offset = data_start + fields["filesize"]
        offset += -offset % 4
        if name == "TRAILER!!!":
            assert offset == len(data), "bytes after the trailer"
            return entries
        entries.append(dict(fields, name=name, data=body))


def fake_module(depends: str) -> bytes:
    # What matters to the builder is the .modinfo strings: NUL-separated key=value.
    return b"\x7fELF" + b"\0" * 60 + b"license=GPL\0" + f"depends={depends}\0".encode() + b"vermagic=6.1\0"


class Archive(unittest.TestCase):
    def test_entries_round_trip_with_parents_and_alignment(self):
        archive = guestimage.Archive()
        archive.file("usr/bin/tool", b"abc", 0o755)  # 3 bytes: padding follows
        archive.symlink("bin/sh", "busybox")
        archive.char_device("dev/console", 5, 1)
        archive.file("init", b"#!/bin/sh\n", 0o755)
        entries = read_newc(archive.bytes())
        by_name = {e["name"]: e for e in entries}
        self.assertEqual([e["name"] for e in entries][:3], ["usr", "usr/bin", "usr/bin/tool"])
        self.assertTrue(stat.S_ISDIR(by_name["usr"]["mode"]))
        self.assertEqual(by_name["usr/bin/tool"]["data"], b"abc")
        self.assertEqual(stat.S_IMODE(by_name["usr/bin/tool"]["mode"]), 0o755)
        self.assertTrue(stat.S_ISLNK(by_name["bin/sh"]["mode"]))
        self.assertEqual(by_name["bin/sh"]["data"], b"busybox")
        console = by_name["dev/console"]
        self.assertTrue(stat.S_ISCHR(console["mode"]))
        self.assertEqual((console["rdevmajor"], console["rdevminor"]), (5, 1))
        self.assertEqual(len({e["ino"] for e in entries}), len(entries), "inode numbers must differ")
        self.assertTrue(all(e["mtime"] == 0 for e in entries), "time stamps are fixed (a reproducible image)")

    def test_gzip_is_reproducible(self):
        def make():
            archive = guestimage.Archive()
            archive.file("a/b", b"x" * 1000)
            return archive.gzip()
        self.assertEqual(make(), make())
        self.assertEqual(read_newc(gzip.decompress(make()))[-1]["data"], b"x" * 1000)


class Modules(unittest.TestCase):
    def test_depends_field(self):
        self.assertEqual(guestimage.module_depends(fake_module("8390")), ["8390"])
        self.assertEqual(guestimage.module_depends(fake_module("a,b_c")), ["a", "b_c"])
        self.assertEqual(guestimage.module_depends(fake_module("")), [])

    def test_dependencies_first_names_with_dashes_or_underscores_and_compression(self):
        with tempfile.TemporaryDirectory() as root:
            net = os.path.join(root, "kernel", "drivers", "net")
            os.makedirs(net)
            with open(os.path.join(net, "ne2k-pci.ko"), "wb") as file:
                file.write(fake_module("8390,mii_lib"))
            with lzma.open(os.path.join(net, "8390.ko.xz"), "wb") as file:
                file.write(fake_module("mii-lib"))
            with gzip.open(os.path.join(net, "mii-lib.ko.gz"), "wb") as file:
                file.write(fake_module(""))
            with open(os.path.join(net, "e1000.ko"), "wb") as file:
                file.write(fake_module(""))
            order = guestimage.collect_modules(root, ["e1000", "ne2k-pci"])
            self.assertEqual([name for name, _, _ in order], ["e1000", "mii-lib", "8390", "ne2k-pci"])
            self.assertEqual(order[2][1], "kernel/drivers/net/8390.ko", "stored decompressed")
            self.assertTrue(order[2][2].startswith(b"\x7fELF"))

    def test_missing_module_is_an_error(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "kernel"))
            with self.assertRaises(guestimage.BuildError):
                guestimage.collect_modules(root, ["e1000"])


class Elf(unittest.TestCase):
    def test_needed_and_interpreter_agree_with_ldd(self):
        # A dynamically linked host binary: what the ELF reader finds must be what the loader maps.
        binary = "/usr/bin/iperf" if os.path.exists("/usr/bin/iperf") else "/bin/ls"
        with open(binary, "rb") as file:
            interp, needed = guestimage.elf_dynamic(file.read())
        mapped = guestimage.shared_libraries(binary)
        self.assertIn(interp, mapped)
        self.assertIn("libc.so.6", needed)
        self.assertEqual(sorted(needed), sorted(os.path.basename(p) for p in mapped if p != interp
                                                if os.path.basename(p) in needed))

    def test_not_elf_is_refused(self):
        with self.assertRaises(guestimage.BuildError):
            guestimage.elf_dynamic(b"#!/bin/sh\n")

    def test_resolve_follows_absolute_links_inside_the_root(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "lib", "aarch64-linux-gnu"))
            real = os.path.join(root, "lib", "aarch64-linux-gnu", "ld-linux-aarch64.so.1")
            with open(real, "wb") as file:
                file.write(b"x")
            os.symlink("/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", os.path.join(root, "lib", "ld-linux-aarch64.so.1"))
            self.assertEqual(guestimage.resolve_in_roots("/lib/ld-linux-aarch64.so.1", [root]), real)
            self.assertIsNone(guestimage.resolve_in_roots("/lib/missing.so", [root]))

    def test_depends_names(self):
        fields = {"Depends": "libc6 (>= 2.34), libgcc-s1 (>= 3.0) | libgcc1, libstdc++6:any (>= 5)"}
        self.assertEqual(guestimage.depends_names(fields), ["libc6", "libgcc-s1", "libstdc++6"])


class Console(unittest.TestCase):
    def test_status_marker_matches_output_not_the_echoed_command(self):
        echoed = "linux# iperf -c 10.0.2.2; " + linuxguest.STATUS_PRINTF + "\n"
        self.assertIsNone(linuxguest.STATUS.search(echoed))
        self.assertEqual(linuxguest.STATUS.search(echoed + "output\n@@rc=124@@\n").group(1), "124")

    def test_ldd_lines(self):
        lines = ["\tlinux-vdso.so.1 (0x00007ffd)", "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f00)",
                 "\t/lib64/ld-linux-x86-64.so.2 (0x00007f11)"]
        paths = [m.group(2) for m in (guestimage.LDD_LINE.match(line) for line in lines) if m]
        self.assertEqual(paths, ["/lib/x86_64-linux-gnu/libm.so.6", "/lib64/ld-linux-x86-64.so.2"])

    def test_init_reads_the_words_skiff_reads(self):
        with open(guestimage.INIT_SCRIPT) as file:
            init = file.read()
        for word in ("ip=*", "gw=*", "mtu=*"):
            self.assertIn(word, init)
        self.assertTrue(re.search(r"linux-guest: ready: ", init))


if __name__ == "__main__":
    unittest.main()
