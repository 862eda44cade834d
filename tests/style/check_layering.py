#!/usr/bin/env python3
"""Layering, as each folder's README.md states it: every #include of a file in this repository must
be one its folder may include.

Rules come from README files. The README nearest to a source file (its own folder, else the closest
folder above) that has a line starting "May include:" governs it; the backticked repository paths
on that line are what its files may include: a path ending in "/" allows everything under it, any
other path that one file ("May include: nothing" allows nothing). A line of the form

    `kernel/Main.cpp` may also include: `apps/Apps.h`, `drivers/`

in the same README adds paths for that one file. A file always may include files of its own folder
(the governing README's), and a source file its own header.

Checked: every .cpp, .h and .S file in the repository outside build/ and hidden folders. An include
counts as the repository's only when the path exists in it (<net/if.h> is the system's). A source
file that no README governs is a failure too, so a new folder needs its README line.

Usage: check_layering.py ROOT          exit 0 when every include is allowed
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
MAY_INCLUDE = re.compile(r"^May include:(.*)$")
ALSO = re.compile(r"^`([^`]+)`[^`]*may also include:(.*)$", re.IGNORECASE)
TOKEN = re.compile(r"`([^`]+)`")
SOURCE_SUFFIXES = (".cpp", ".h", ".S")


def read_rules(root):
    """folder (relative, '' for the root) -> (allowed paths, {file: extra allowed paths})"""
    rules = {}
    for directory, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "build"]
        if "README.md" not in files:
            continue
        allowed, extra, found = [], {}, False
        with open(os.path.join(directory, "README.md"), encoding="utf-8") as readme:
            for line in readme:
                line = line.rstrip("\n")
                match = MAY_INCLUDE.match(line)
                if match:
                    found = True
                    allowed += TOKEN.findall(match.group(1))
                    continue
                match = ALSO.match(line)
                if match:
                    extra.setdefault(match.group(1), []).extend(TOKEN.findall(match.group(2)))
        if found:
            rules[os.path.relpath(directory, root).replace(os.sep, "/").strip(".")] = (allowed, extra)
    return rules


def governing(rules, folder):
    while True:
        if folder in rules:
            return folder
        if not folder:
            return None
        folder = folder.rpartition("/")[0]


def allowed_by(path, patterns):
    return any(path.startswith(p) if p.endswith("/") else path == p for p in patterns)


def check(root):
    rules = read_rules(root)
    violations, checked = [], 0
    for directory, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "build"]
        for name in sorted(files):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            path = os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
            folder = path.rpartition("/")[0]
            owner = governing(rules, folder)
            if owner is None:
                violations.append(f"{path}: no README.md with a 'May include:' line governs this folder")
                continue
            allowed, extra = rules[owner]
            patterns = allowed + extra.get(path, []) + [(owner + "/") if owner else ""]
            stem = path.rsplit(".", 1)[0]
            checked += 1
            with open(os.path.join(root, path), encoding="utf-8", errors="replace") as source:
                for number, line in enumerate(source, 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    target = match.group(1)
                    if not os.path.isfile(os.path.join(root, target)):
                        continue  # a system or compiler header
                    if target.rsplit(".", 1)[0] == stem or allowed_by(target, patterns):
                        continue
                    violations.append(f"{path}:{number}: includes {target}, which {owner or '.'}/README.md "
                                      f"does not allow (May include: {', '.join(allowed) or 'nothing'})")
    return rules, checked, violations


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    rules, checked, violations = check(root)
    for violation in violations:
        print(violation)
    if violations:
        print(f"layering: {len(violations)} violation(s) in {checked} files")
        return 1
    print(f"layering ok: {checked} files under {len(rules)} README rules ({', '.join(sorted(f or '.' for f in rules))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
