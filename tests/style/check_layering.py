#!/usr/bin/env python3
"""Fails if a freestanding component includes what it must not (DESIGN.md section 2):

- net/ is an OS-independent component: it reaches the operating system only through its port
  interface, so it builds unchanged for the kernel and for the host. It may include lib/ and net/.
- fs/ (the archive reader and the file index) runs on the host tests as it runs in the kernel: it
  may include lib/ and fs/.
- apps/httpd/protocol/ (the HTTP request parser, ranges, dates, content types) is a pure unit fed
  bytes by the host tests: it may include lib/ and itself.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
# The tree's own top-level folders; anything else (<new>, "TarBuilder.h") is not a project include.
PROJECT = ("kernel/", "mm/", "drivers/", "apps/", "boot/", "net/", "lib/", "fs/", "tools/", "tests/")
RULES = (
    ("net", ("lib/", "net/")),
    ("fs", ("lib/", "fs/")),
    ("apps/httpd/protocol", ("lib/", "apps/httpd/protocol/")),
)


def main():
    root = sys.argv[1]
    violations = []
    summary = []
    for folder, allowed in RULES:
        checked = 0
        for directory, _, files in os.walk(os.path.join(root, folder)):
            for name in files:
                if not name.endswith((".cpp", ".h")):
                    continue
                path = os.path.join(directory, name)
                checked += 1
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1).startswith(PROJECT) and not m.group(1).startswith(allowed):
                            violations.append(f"{os.path.relpath(path, root)}:{number}: includes {m.group(1)} "
                                              f"({folder}/ may include only {', '.join(allowed)})")
        summary.append(f"{checked} files under {folder}/ include only {', '.join(allowed)}")
    for v in violations:
        print(v)
    if violations:
        print(f"layering: {len(violations)} violation(s)")
        return 1
    print("layering ok: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
