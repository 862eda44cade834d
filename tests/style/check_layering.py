#!/usr/bin/env python3
"""Fails if net/ includes anything from kernel/, mm/ or drivers/.

net/ is an OS-independent component: it reaches the operating system only through its port
interface, so it builds unchanged for the kernel and for the host. It may include lib/ and net/.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
FORBIDDEN = ("kernel/", "mm/", "drivers/", "apps/", "boot/")


def main():
    root = sys.argv[1]
    violations = []
    checked = 0
    for directory, _, files in os.walk(os.path.join(root, "net")):
        for name in files:
            if not name.endswith((".cpp", ".h")):
                continue
            path = os.path.join(directory, name)
            checked += 1
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and m.group(1).startswith(FORBIDDEN):
                        violations.append(f"{os.path.relpath(path, root)}:{number}: includes {m.group(1)}")
    for v in violations:
        print(v)
    if violations:
        print(f"net/ must depend only on lib/ and its port interface: {len(violations)} violation(s)")
        return 1
    print(f"layering ok: {checked} files under net/ include nothing from {', '.join(FORBIDDEN)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
