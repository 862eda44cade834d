#!/usr/bin/env python3
"""The layering and arch-seam checkers catch what they are for: each runs over small trees made
here, one clean and several broken, and must pass the first and fail (naming the file) the rest."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def make_tree(root, files):
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)


BASE = {
    "lib/README.md": "# lib\n\nMay include: `lib/`\n",
    "lib/Types.h": "#pragma once\n",
    "mm/README.md": "# mm\n\nMay include: `lib/`, `mm/`, `kernel/base/`\n",
    "mm/Memory.h": "#pragma once\n#include <lib/Types.h>\n#include <kernel/base/Arch.h>\n#include <stddef.h>\n",
    "kernel/README.md": "# kernel\n\nMay include: `lib/`, `kernel/`, `mm/Memory.h`\n\n"
                        "`kernel/Main.cpp` may also include: `apps/`\n",
    "kernel/base/README.md": "May include: `lib/`, `kernel/base/`\n",
    "kernel/base/Arch.h": "#pragma once\nnamespace arch { inline void disable_interrupts(); }\n",
    "kernel/Main.cpp": "#include <apps/Apps.h>\n#include <mm/Memory.h>\n",
    "kernel/arch/x86_64/Cpu.h": "inline void cli() { asm volatile(\"cli\"); }\n",
    "apps/README.md": "May include: `lib/`, `apps/`, `kernel/`\n",
    "apps/Apps.h": "#pragma once\n",
}

BROKEN = {
    "layering: mm includes the kernel above base": ("layering", {"mm/Bad.cpp": "#include <kernel/Main.cpp>\n"}),
    "layering: kernel includes an mm header it may not": ("layering", {"kernel/sync/Q.cpp": "#include <mm/Heap.h>\n",
                                                                        "mm/Heap.h": "#pragma once\n"}),
    "layering: the exception is for Main.cpp only": ("layering", {"kernel/Other.cpp": "#include <apps/Apps.h>\n"}),
    "layering: a folder without a rule": ("layering", {"newdir/X.cpp": "#include <lib/Types.h>\n"}),
    "seam: cli outside arch/": ("seam", {"kernel/sched/S.cpp": "void f() { arch::cli(); }\n"}),
    "seam: an architecture macro": ("seam", {"drivers/D.cpp": "#ifdef __x86_64__\n#endif\n"}),
    "seam: inline asm": ("seam", {"apps/A.cpp": "void f() { asm volatile(\"lfence\" ::: \"memory\"); }\n"}),
}


def run(checker, root):
    script = {"layering": "check_layering.py", "seam": "check_arch_seam.py"}[checker]
    return subprocess.run([sys.executable, os.path.join(HERE, script), root], capture_output=True, text=True)


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as root:
        make_tree(root, BASE)
        for checker in ("layering", "seam"):
            result = run(checker, root)
            if result.returncode != 0:
                print(f"FAIL: {checker} rejects the clean tree:\n{result.stdout}")
                failures += 1
    for name, (checker, extra) in BROKEN.items():
        with tempfile.TemporaryDirectory() as root:
            make_tree(root, {**BASE, **extra})
            result = run(checker, root)
            named = any(path in result.stdout for path in extra)
            if result.returncode == 0 or not named:
                print(f"FAIL: {name}: exit {result.returncode}, output:\n{result.stdout}")
                failures += 1
            else:
                print(f"ok: {name}: {result.stdout.splitlines()[0]}")
    print(f"{len(BROKEN) + 2 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
