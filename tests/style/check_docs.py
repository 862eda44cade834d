#!/usr/bin/env python3
"""Fails if the repository's documentation does not stand alone.

1. Every relative link in every Markdown file resolves: `[text](path)` and `[text](path#anchor)`
   name a file or directory of the repository, and an anchor names a heading of the Markdown file
   it points into (GitHub's rule: lower case, punctuation dropped, spaces to hyphens).
2. No file of the repository refers to what a person who clones it does not have: the engineers'
   notes outside the repository (the shared folder beside it and the design, hardware and
   conventions notes in it, its folder of papers) or an issue by number. What the code relies on
   is said in docs/ in the project's own words.
3. docs/README.md indexes every Markdown file under docs/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

# Spelled in pieces so that this file does not match itself.
FORBIDDEN = [
    (re.compile(r"\.\./" + "shared"), "a path into the engineers' shared folder outside the repository"),
    (re.compile(r"\b" + "DESIGN" + r"\.md"), "the design notes outside the repository (docs/architecture.md)"),
    (re.compile(r"\b" + "HARDWARE" + r"\.md"), "the hardware notes outside the repository (docs/hardware.md)"),
    (re.compile(r"\b" + "CONVENTIONS" + r"\.md"), "the conventions notes outside the repository"),
    (re.compile(r"(?<![\w-])" + "seeds" + r"/"), "the papers folder outside the repository (docs/references.md)"),
    (re.compile(r"\b[Ii]ssues?\s*#?\s*\d+\b"), "an issue number (say what, not which ticket)"),
]
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|!\[[^\]]*\]\(\s*([^)\s]+)\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
FENCE = re.compile(r"^\s*(```|~~~)")


def repository_files(root: str) -> list[str]:
    """Tracked and untracked-but-not-ignored files, relative to root (git), or a walk without build/."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        return sorted({p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(root, p))})
    except (OSError, subprocess.CalledProcessError):
        found = []
        for directory, subdirs, names in os.walk(root):
            subdirs[:] = [d for d in subdirs if d != ".git" and d != "__pycache__"
                          and not (directory == root and d.startswith("build"))]
            found += [os.path.relpath(os.path.join(directory, n), root) for n in names]
        return sorted(found)


def slug(heading: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: str) -> set[str]:
    result, counts, in_fence = set(), {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            match = None if in_fence else re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if match:
                base = slug(match.group(1))
                n = counts.get(base, 0)
                counts[base] = n + 1
                result.add(base if n == 0 else f"{base}-{n}")
    return result


def markdown_links(path: str):
    """(line number, target) for every link outside code blocks and code spans."""
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            line = re.sub(r"`[^`]*`", "", line)
            for match in LINK.finditer(line):
                yield number, match.group(1) or match.group(2)
            match = REFERENCE_DEFINITION.match(line)
            if match:
                yield number, match.group(1)


def check_link(root: str, source: str, target: str, anchor_cache: dict) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
        return None  # http:, https:, mailto: ... are not files of the repository
    path_part, _, anchor = target.partition("#")
    if path_part:
        resolved = os.path.normpath(os.path.join(root, os.path.dirname(source), path_part))
        if os.path.relpath(resolved, root).startswith(".."):
            return f"points outside the repository: {target}"
        if not os.path.exists(resolved):
            return f"no such file: {target}"
    else:
        resolved = os.path.join(root, source)
    if anchor and resolved.endswith(".md") and os.path.isfile(resolved):
        if resolved not in anchor_cache:
            anchor_cache[resolved] = anchors(resolved)
        if anchor.lower() not in anchor_cache[resolved]:
            return f"no heading for #{anchor} in {os.path.relpath(resolved, root)}"
    return None


def main(argv: list[str]) -> int:
    root = os.path.abspath(argv[1] if len(argv) > 1 else ".")
    files = repository_files(root)
    problems, links, anchor_cache = [], 0, {}

    for rel in files:
        if rel.endswith(".md"):
            for number, target in markdown_links(os.path.join(root, rel)):
                links += 1
                problem = check_link(root, rel, target, anchor_cache)
                if problem:
                    problems.append(f"{rel}:{number}: broken link: {problem}")

    for rel in files:
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue  # binary
        for pattern, what in FORBIDDEN:
            for match in pattern.finditer(text):
                number = text.count("\n", 0, match.start()) + 1
                problems.append(f"{rel}:{number}: refers to {what}: {match.group(0)!r}")

    index_path = os.path.join(root, "docs", "README.md")
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as f:
            index = f.read()
        indexed = {os.path.normpath(os.path.join("docs", t.partition("#")[0]))
                   for _, t in markdown_links(index_path) if t.partition("#")[0]}
        for rel in files:
            if rel.startswith("docs/") and rel.endswith(".md") and rel != "docs/README.md" and rel not in indexed:
                problems.append(f"docs/README.md does not link to {rel}")
        del index

    for problem in problems:
        print(problem)
    markdown = sum(1 for f in files if f.endswith(".md"))
    print(f"{len(files)} files read, {markdown} Markdown files, {links} links")
    if problems:
        print(f"FAIL: {len(problems)} problem(s)")
        return 1
    print("docs ok: every relative link resolves; no reference outside the repository or to an issue number")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
