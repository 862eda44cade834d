#!/usr/bin/env python3
"""A flattened device tree (Devicetree Specification v0.4, chapter 5) read into nodes and written
back, so a test can give QEMU's virt machine a device tree with a node missing or malformed
(`-dtb FILE`). Standard library only.

    tree = Fdt.parse(open("virt.dtb", "rb").read())
    uart = tree.find(lambda node: node.name.startswith("pl011@"))
    uart.props["reg"] = b"\\0" * 12
    open("odd.dtb", "wb").write(tree.serialize())
"""

from __future__ import annotations

import struct

MAGIC = 0xD00DFEED
BEGIN_NODE, END_NODE, PROP, NOP, END = 1, 2, 3, 4, 9


class Node:
    def __init__(self, name: str):
        self.name = name
        self.props: dict[str, bytes] = {}
        self.children: list[Node] = []

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class Fdt:
    def __init__(self, root: Node, reserved: bytes, boot_cpu: int):
        self.root = root
        self.reserved = reserved  # the memory reservation block, as it was
        self.boot_cpu = boot_cpu

    @staticmethod
    def parse(blob: bytes) -> "Fdt":
        (magic, total, off_struct, off_strings, off_rsv, version, _last, boot_cpu, size_strings,
         size_struct) = struct.unpack_from(">10I", blob, 0)
        if magic != MAGIC:
            raise ValueError(f"not a device tree (magic {magic:#x})")
        strings = blob[off_strings:off_strings + size_strings]
        rsv_end = off_rsv
        while struct.unpack_from(">QQ", blob, rsv_end) != (0, 0):
            rsv_end += 16
        reserved = blob[off_rsv:rsv_end + 16]
        offset, stack, root = off_struct, [], None
        while True:
            (token,) = struct.unpack_from(">I", blob, offset)
            offset += 4
            if token == BEGIN_NODE:
                end = blob.index(b"\0", offset)
                node = Node(blob[offset:end].decode())
                offset = (end + 1 + 3) & ~3
                if stack:
                    stack[-1].children.append(node)
                else:
                    root = node
                stack.append(node)
            elif token == END_NODE:
                stack.pop()
            elif token == PROP:
                length, name_offset = struct.unpack_from(">II", blob, offset)
                offset += 8
                name = strings[name_offset:strings.index(b"\0", name_offset)].decode()
                stack[-1].props[name] = blob[offset:offset + length]
                offset = (offset + length + 3) & ~3
            elif token == NOP:
                continue
            elif token == END:
                return Fdt(root, reserved, boot_cpu)
            else:
                raise ValueError(f"bad token {token} at {offset - 4}")

    def find(self, predicate) -> Node | None:
        return next((node for node in self.root.walk() if predicate(node)), None)

    def remove(self, predicate) -> int:
        removed = 0
        for node in list(self.root.walk()):
            before = len(node.children)
            node.children = [child for child in node.children if not predicate(child)]
            removed += before - len(node.children)
        return removed

    def serialize(self) -> bytes:
        strings, string_offsets = bytearray(), {}
        structure = bytearray()

        def string(name: str) -> int:
            if name not in string_offsets:
                string_offsets[name] = len(strings)
                strings.extend(name.encode() + b"\0")
            return string_offsets[name]

        def emit(node: Node) -> None:
            structure.extend(struct.pack(">I", BEGIN_NODE))
            name = node.name.encode() + b"\0"
            structure.extend(name + b"\0" * (-len(name) % 4))
            for key, value in node.props.items():
                structure.extend(struct.pack(">III", PROP, len(value), string(key)))
                structure.extend(value + b"\0" * (-len(value) % 4))
            for child in node.children:
                emit(child)
            structure.extend(struct.pack(">I", END_NODE))

        emit(self.root)
        structure.extend(struct.pack(">I", END))
        off_rsv = 40
        off_struct = off_rsv + len(self.reserved)
        off_strings = off_struct + len(structure)
        total = off_strings + len(strings)
        header = struct.pack(">10I", MAGIC, total, off_struct, off_strings, off_rsv, 17, 16, self.boot_cpu,
                             len(strings), len(structure))
        return header + self.reserved + bytes(structure) + bytes(strings)
