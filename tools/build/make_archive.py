#!/usr/bin/env python3
"""Makes Skiff's file archive: a POSIX ustar/pax archive whose every file's data starts on a 4 KiB
boundary of the archive, so that once a loader puts the archive on a page boundary (the Multiboot
header asks for that) each file lies in whole pages of its own and can be handed to a NIC as it is.

The padding is a standard pax extended header ('x') in front of each file, holding a `comment`
record of the right length: every tar reader (GNU tar, bsdtar, Python's tarfile, busybox tar)
ignores comments, so `tar tf www.tar` lists exactly the files, and `tar xf` gives them back.

    make_archive.py --output www.tar --site apps/httpd/www --pattern test/1M.bin:1048576:1

--pattern NAME:SIZE:SEED adds a generated file of SIZE bytes: SHA-256 in counter mode over the seed
(block i is SHA-256("skiff-pattern:SEED:i")), so a test can rebuild the same bytes with pattern().
Times: each site file's own mtime, a generated file the mtime of this script; SOURCE_DATE_EPOCH
overrides both (reproducible archives). After writing, the archive is read back with Python's
tarfile and every member's bytes and alignment are checked.

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tarfile

BLOCK = 512
PAGE = 4096


def pattern(size: int, seed: int) -> bytes:
    """The deterministic test file: SHA-256 counter mode, truncated to `size` bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"skiff-pattern:{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def octal(value: int, width: int) -> bytes:
    text = f"{value:0{width - 1}o}".encode()
    if len(text) > width - 1:
        raise ValueError(f"{value} does not fit a {width}-byte octal field")
    return text + b"\0"


def header(name: str, kind: bytes, size: int, mtime: int, mode: int) -> bytes:
    """One POSIX ustar header block (pax, "ustar Interchange Format")."""
    encoded = name.encode()
    prefix = b""
    if len(encoded) > 100:
        # Split at a slash into prefix (<= 155) and name (<= 100); the caller adds a pax path
        # record too when that cannot be done.
        cut = encoded.rfind(b"/", 0, 156)
        if cut <= 0 or len(encoded) - cut - 1 > 100:
            prefix, encoded = b"", encoded[:100]
        else:
            prefix, encoded = encoded[:cut], encoded[cut + 1:]
    block = bytearray(BLOCK)
    block[0:len(encoded)] = encoded
    block[100:108] = octal(mode, 8)
    block[108:116] = octal(0, 8)
    block[116:124] = octal(0, 8)
    block[124:136] = octal(size, 12)
    block[136:148] = octal(mtime, 12)
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[265:270] = b"skiff"
    block[297:302] = b"skiff"
    block[345:345 + len(prefix)] = prefix
    checksum = sum(block)
    block[148:156] = f"{checksum:06o}".encode() + b"\0 "
    return bytes(block)


def pax_record(key: str, value: str) -> bytes:
    """"LENGTH key=value\\n" where LENGTH counts the whole record, its own digits included."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


class ArchiveWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.offsets: dict[str, int] = {}  # name -> data offset

    def directory(self, name: str, mtime: int) -> None:
        self.out += header(name.rstrip("/") + "/", b"5", 0, mtime, 0o755)

    def file(self, name: str, data: bytes, mtime: int) -> None:
        # [pax header][pax data: path record if needed + comment padding][ustar header][data]
        # with the data at the first 4 KiB boundary that leaves room for all three.
        here = len(self.out)
        path = pax_record("path", name) if len(name.encode()) > 100 else b""
        data_at = -(-(here + 3 * BLOCK) // PAGE) * PAGE
        while True:
            pax_bytes = data_at - here - 2 * BLOCK  # pax data, a whole number of blocks
            want = pax_bytes - len(path)
            comment = b""
            for fill in range(want, 0, -1):
                comment = pax_record("comment", "x" * fill)
                if len(comment) <= want:
                    break
            records = path + comment
            if pax_bytes - BLOCK < len(records) <= pax_bytes:
                break
            data_at += PAGE  # a long path left too little room before this page: use the next
        # Records may fall short of the padded size by a byte or two; the pax header's size says
        # how much is records, the rest of its last block is zero.
        self.out += header("PaxHeader/" + os.path.basename(name)[:80], b"x", len(records), mtime, 0o644)
        self.out += padded(records)
        if len(self.out) + BLOCK != data_at:
            raise AssertionError(f"{name}: padding put the data at {len(self.out) + BLOCK}, not {data_at}")
        self.out += header(name, b"0", len(data), mtime, 0o644)
        self.offsets[name] = len(self.out)
        self.out += padded(data)

    def finish(self) -> bytes:
        self.out += b"\0" * (2 * BLOCK)
        return bytes(self.out)


def collect_site(site: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Directories and (archive name, host path) of every file under site/, sorted."""
    directories, files = [], []
    for root, dirs, names in os.walk(site):
        dirs.sort()
        relative = os.path.relpath(root, site)
        if relative != ".":
            directories.append(relative.replace(os.sep, "/"))
        for name in sorted(names):
            path = os.path.join(root, name)
            files.append((os.path.relpath(path, site).replace(os.sep, "/"), path))
    return directories, files


def verify(archive: bytes, expected: dict[str, bytes], offsets: dict[str, int]) -> None:
    """Reads the archive back with Python's tarfile: the same files, bytes and page alignment."""
    seen = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                seen[member.name] = tar.extractfile(member).read()
                if member.offset_data % PAGE:
                    raise AssertionError(f"{member.name}: data at {member.offset_data}, not on a 4 KiB boundary")
                if offsets[member.name] != member.offset_data:
                    raise AssertionError(f"{member.name}: tarfile finds its data at {member.offset_data}")
    if seen != expected:
        raise AssertionError(f"tarfile reads back {sorted(seen)} instead of {sorted(expected)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True)
    parser.add_argument("--site", required=True, help="directory whose tree becomes the archive's root")
    parser.add_argument("--pattern", action="append", default=[], metavar="NAME:SIZE:SEED",
                        help="a generated file (repeatable)")
    args = parser.parse_args()

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    script_mtime = int(epoch) if epoch else int(os.stat(__file__).st_mtime)
    writer = ArchiveWriter()
    expected: dict[str, bytes] = {}
    directories, files = collect_site(args.site)
    generated = []
    for spec in args.pattern:
        name, size, seed = spec.rsplit(":", 2)
        generated.append((name, int(size), int(seed)))
        parent = os.path.dirname(name)
        while parent and parent not in directories:
            directories.append(parent)
            parent = os.path.dirname(parent)
    for directory in sorted(set(directories)):
        writer.directory(directory, script_mtime)
    for name, path in files:
        with open(path, "rb") as f:
            data = f.read()
        writer.file(name, data, int(epoch) if epoch else int(os.stat(path).st_mtime))
        expected[name] = data
    for name, size, seed in generated:
        data = pattern(size, seed)
        writer.file(name, data, script_mtime)
        expected[name] = data
    archive = writer.finish()
    verify(archive, expected, writer.offsets)

    temporary = args.output + ".tmp"
    with open(temporary, "wb") as f:
        f.write(archive)
    os.replace(temporary, args.output)
    total = sum(len(data) for data in expected.values())
    print(f"make_archive: {args.output}: {len(expected)} files ({total} bytes) in {len(archive)} bytes, "
          f"every file's data on a 4 KiB boundary")
    return 0


if __name__ == "__main__":
    sys.exit(main())
