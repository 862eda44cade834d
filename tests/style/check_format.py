#!/usr/bin/env python3
"""Fails if any tracked C/C++ source differs from what clang-format makes of it.

Usage: check_format.py REPO [--fix]
Prints each offending file with a short diff; --fix rewrites them in place.
"""
import difflib
import os
import shutil
import subprocess
import sys

EXTENSIONS = (".cpp", ".h", ".hpp", ".cc")
SKIP_DIRS = {"build", ".git", "third_party"}


def sources(root):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS and not d.startswith("build")]
        for name in sorted(files):
            if name.endswith(EXTENSIONS):
                yield os.path.join(directory, name)


def main():
    root = sys.argv[1]
    fix = "--fix" in sys.argv
    clang_format = shutil.which("clang-format") or shutil.which("clang-format-14")
    if not clang_format:
        print("clang-format not found: install clang-format (the test command does this as root)")
        return 1
    bad = 0
    for path in sources(root):
        with open(path, encoding="utf-8") as f:
            original = f.read()
        formatted = subprocess.run([clang_format, "--style=file", "--assume-filename=" + path],
                                   input=original, capture_output=True, text=True, check=True).stdout
        if formatted != original:
            bad += 1
            rel = os.path.relpath(path, root)
            if fix:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(formatted)
                print(f"fixed {rel}")
                continue
            print(f"not formatted: {rel}")
            diff = difflib.unified_diff(original.splitlines(), formatted.splitlines(), rel, rel + " (clang-format)", lineterm="", n=1)
            for i, line in enumerate(diff):
                if i > 20:
                    print("  ...")
                    break
                print("  " + line)
    if bad and not fix:
        print(f"{bad} file(s) need formatting: run tests/style/check_format.py . --fix")
        return 1
    print("format ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
