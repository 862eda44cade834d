#!/usr/bin/env python3
"""Fails if a test, a tool or a qemu/ script needs something the install list does not install.

The install list is SKIFF_PACKAGES_BUILD + SKIFF_PACKAGES_EXTRA in qemu/lib.sh: what `qemu/run` and
`tests/run` install on a fresh Debian 12 machine. This check reads, without running anything:
- Python (every *.py and every script with a python shebang under tests/, tools/, qemu/): the
  modules imported, and the programs started — the first element of a list literal handed to
  subprocess.run/Popen/check_output/..., to a namespace's `run`/`popen`, or to a helper such as
  `sh("ip", ...)`; names given to shutil.which(); lists of required tools (`tools = [...]`,
  `enter_namespace([...])`); module-level string constants used as a program (QEMU = "...").
- shell (*.sh and scripts with an sh/bash shebang, .ci/run): the first word of each simple command,
  outside quotes, comments, here-documents and case patterns, and inside $(...).
- CMake (every CMakeLists.txt and *.cmake): `COMMAND name` and `find_program(VAR name)`.
- needs no program shows: scapy compiles a BPF `filter=` only when libpcap is installed.
Each program is mapped to the Debian package that provides it by the table below; each module by
MODULES. A program or module that is not in the tables fails the check, and so does one whose
package is neither in the install list nor in BASE (what every Debian 12 system has). Where dpkg
is available the tables are checked against it: the installed program must come from the package
the table names, and every BASE package must have priority `required` (present even in
`debootstrap --variant=minbase`).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys

# Packages of priority `required` in Debian 12: on every installed system, including a minbase
# debootstrap. (checked against dpkg where it is installed)
BASE = {
    "apt": "apt-get",
    "bash": "bash",
    "coreutils": "cat, chroot, cp, mkdir, mktemp, rm, sort, ...",
    "dash": "sh",
    "debianutils": "run-parts, which",
    "diffutils": "cmp, diff",
    "dpkg": "dpkg, dpkg-query",
    "findutils": "find, xargs",
    "grep": "grep",
    "gzip": "gzip",
    "libc-bin": "ldd",
    "mount": "mount, umount",
    "sed": "sed",
    "tar": "tar",
    "util-linux": "flock, unshare, nsenter, setsid",
}

# Program -> the Debian 12 package that installs it.
PROGRAMS = {
    # base system
    "apt-get": "apt", "bash": "bash", "sh": "dash",
    "basename": "coreutils", "cat": "coreutils", "chmod": "coreutils", "chroot": "coreutils",
    "cp": "coreutils", "cut": "coreutils", "date": "coreutils", "dirname": "coreutils",
    "du": "coreutils", "env": "coreutils", "head": "coreutils", "id": "coreutils", "ls": "coreutils",
    "mkdir": "coreutils", "mkfifo": "coreutils", "mktemp": "coreutils", "mv": "coreutils",
    "nproc": "coreutils", "readlink": "coreutils", "realpath": "coreutils", "rm": "coreutils",
    "sha256sum": "coreutils", "sleep": "coreutils", "sort": "coreutils", "stat": "coreutils",
    "tail": "coreutils", "tee": "coreutils", "timeout": "coreutils", "touch": "coreutils",
    "tr": "coreutils", "uname": "coreutils", "uniq": "coreutils", "wc": "coreutils",
    "diff": "diffutils", "cmp": "diffutils",
    "dpkg": "dpkg", "dpkg-query": "dpkg", "dpkg-deb": "dpkg", "apt-cache": "apt",
    "ldd": "libc-bin",
    "find": "findutils", "xargs": "findutils",
    "grep": "grep", "gzip": "gzip", "sed": "sed", "tar": "tar",
    "mount": "mount", "umount": "mount",
    "flock": "util-linux", "lscpu": "util-linux", "nsenter": "util-linux", "setsid": "util-linux",
    "unshare": "util-linux",
    "which": "debianutils",
    # the install list (and programs other branches are adding)
    "ab": "apache2-utils", "cpio": "cpio", "curl": "curl", "wget": "wget",
    "clang": "clang", "clang++": "clang",
    "clang-format": "clang-format", "clang-format-14": "clang-format-14",
    "cmake": "cmake", "ctest": "cmake",
    "gcc": "gcc", "g++": "g++", "make": "make",
    "git": "git",
    "grub-mkrescue": "grub-common",
    "iperf": "iperf",
    "qemu-system-aarch64": "qemu-system-arm",
    "zstd": "zstd",
    "ip": "iproute2",
    "llvm-symbolizer": "llvm",
    "nc": "netcat-openbsd",
    "nft": "nftables",
    "ninja": "ninja-build",
    "nm": "binutils", "objdump": "binutils", "readelf": "binutils", "size": "binutils",
    "ping": "iputils-ping",
    "python3": "python3",
    "qemu-system-x86_64": "qemu-system-x86",
    "socat": "socat",
    "tcpdump": "tcpdump",
    "xorriso": "xorriso",
}

# Packages the install list brings in as dependencies, with the listed package that depends on
# them (checked against dpkg where both are installed).
VIA = {
    "clang-format-14": "clang-format",  # check_format.py falls back to the versioned name
    "python3-minimal": "python3",  # owns /usr/bin/python3
}

# Programs a script installs for itself, with the script that does.
SELF_INSTALLED = {
    "debootstrap": "tools/fresh-machine-check installs it on the host (apt-get) before using it",
}

# Python modules outside the standard library -> the Debian package (for /usr/bin/python3).
MODULES = {
    "scapy": "python3-scapy",
    "matplotlib": "python3-matplotlib",
}

# What code needs without naming a program: (pattern in a Python call, package, why).
SCAPY_FILTER_PACKAGE = "tcpdump"  # depends on libpcap0.8, which scapy loads to compile filters

SHELL_KEYWORDS = {
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac",
    "function", "select", "time", "!", "{", "}", "[[", "]]",
}
SHELL_BUILTINS = {
    ".", ":", "[", "alias", "bg", "break", "builtin", "cd", "command", "compgen", "complete",
    "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export",
    "false", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let", "local", "logout",
    "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set",
    "shift", "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset",
    "ulimit", "umask", "unalias", "unset", "wait",
}
# Words that start a command and hand the rest of it to another program (options first, no option
# arguments). chroot, unshare and the like take arguments: their program is not looked for.
SHELL_WRAPPERS = {"exec", "command", "builtin", "nohup", "env", "time"}

RUNNER_CALLS = {"run", "Popen", "call", "check_call", "check_output", "popen", "execvp", "execv", "sh"}
PROGRAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]*$")
SKIP_DIRS = {".git", "__pycache__", "third_party"}
# Scripts that run inside a guest, not on the host: the Linux reference guest's /init runs under
# its own busybox (qemu/linux/README.md), so its programs come from the guest image, not from here.
GUEST_SIDE = {os.path.join("qemu", "linux", "init")}


def install_list(root: str) -> set[str]:
    """The packages of every `SKIFF_PACKAGES_<GROUP>=(` ... `)` array in qemu/lib.sh (one or more a
    line, each line's comment after #)."""
    with open(os.path.join(root, "qemu", "lib.sh"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    packages, inside = set(), False
    for line in lines:
        code = line.split("#", 1)[0]
        if not inside:
            match = re.match(r"^SKIFF_PACKAGES_\w+=\((.*)$", code)
            if not match:
                continue
            code, inside = match.group(1), True
        if ")" in code:
            code, inside = code.split(")", 1)[0], False
        packages.update(code.split())
    if not packages:
        raise SystemExit("no SKIFF_PACKAGES_*=( ... ) arrays found in qemu/lib.sh")
    return packages


def files(root: str):
    """(path, kind) for every script under tests/, tools/, qemu/, .ci/ and every CMake file."""
    for top in ("tests", "tools", "qemu", ".ci", "."):
        base = os.path.normpath(os.path.join(root, top))
        for directory, subdirs, names in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS
                                and not (directory == root and (d.startswith("build") or d.startswith(".")))
                                and not (top == "." and directory == root and d in ("tests", "tools", "qemu")))
            if top == ".":
                # Elsewhere only CMake files (the build needs their programs too).
                for name in sorted(names):
                    if name == "CMakeLists.txt" or name.endswith(".cmake"):
                        yield os.path.join(directory, name), "cmake"
                continue
            for name in sorted(names):
                path = os.path.join(directory, name)
                if os.path.relpath(path, root) in GUEST_SIDE:
                    continue
                if name == "CMakeLists.txt" or name.endswith(".cmake"):
                    yield path, "cmake"
                    continue
                if name.endswith(".py"):
                    yield path, "python"
                    continue
                if name.endswith(".sh"):
                    yield path, "shell"
                    continue
                try:
                    with open(path, "rb") as f:
                        first = f.readline(200)
                except OSError:
                    continue
                if first.startswith(b"#!"):
                    if b"python" in first:
                        yield path, "python"
                    elif re.search(rb"\b(ba)?sh\b", first):
                        yield path, "shell"


# ---------------------------------------------------------------- Python

def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def python_needs(path: str, local_modules: set[str]):
    """Yields (kind, name, line): kind is 'program', 'module' or 'package'."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value

    def program_of(element: ast.expr) -> str | None:
        value = None
        if isinstance(element, ast.Constant) and isinstance(element.value, str):
            value = element.value
        elif isinstance(element, ast.Name) and element.id in constants:
            value = constants[element.id]
        if value is None:
            return None
        if value.startswith("/"):
            value = os.path.basename(value)
        return value if PROGRAM_NAME.match(value) else None

    def argv_programs(node: ast.expr):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            yield from argv_programs(node.left)
            return
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            elements = node.elts
            first = program_of(elements[0])
            if first:
                yield first
            # `ip netns exec NAME PROGRAM ...`
            words = [e.value if isinstance(e, ast.Constant) else None for e in elements]
            if words[:3] == ["ip", "netns", "exec"] and len(elements) > 4:
                inner = program_of(elements[4])
                if inner:
                    yield inner

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and re.search(r"(command|cmd|argv)$", t.id.lower())
                                                for t in node.targets):
            for program in argv_programs(node.value):
                yield "program", program, node.lineno
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield "module", alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield "module", node.module.split(".")[0], node.lineno
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in RUNNER_CALLS and node.args:
                first = node.args[0]
                if name == "sh":
                    program = program_of(first)
                    if program:
                        yield "program", program, node.lineno
                for program in argv_programs(first):
                    yield "program", program, node.lineno
            for keyword in node.keywords:
                if keyword.arg == "args" and name in RUNNER_CALLS:
                    for program in argv_programs(keyword.value):
                        yield "program", program, node.lineno
                if keyword.arg == "filter" and name in ("sniff", "AsyncSniffer", "L2ListenSocket", "conf.L2listen"):
                    yield "package", SCAPY_FILTER_PACKAGE, node.lineno
            if name == "which" and node.args:
                program = program_of(node.args[0])
                if program:
                    yield "program", program, node.lineno
            if "namespace" in name.lower() or "require" in name.lower():
                for argument in node.args:
                    if isinstance(argument, (ast.List, ast.Tuple)):
                        for element in argument.elts:
                            program = program_of(element)
                            if program:
                                yield "program", program, node.lineno
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and "tool" in t.id.lower() for t in node.targets):
            values = [node.value]
            if isinstance(node.value, ast.Dict):
                values = node.value.values
            for value in values:
                if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
                    for element in value.elts:
                        program = program_of(element)
                        if program:
                            yield "program", program, node.lineno


# ---------------------------------------------------------------- shell

def _skip_parens(text: str, i: int) -> int:
    """text[i] is '(' : the index after its matching ')'."""
    depth = 0
    while i < len(text):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _scan(text: str, i: int, nested: bool):
    """Splits shell text into simple commands (lists of words). Quoted strings become one word 'Q';
    the commands inside $(...) and `...` are returned too; an array assignment `a=(x y)` is one
    word. Returns (commands, index)."""
    commands, words, word = [], [], ""
    extra = []

    def flush():
        nonlocal word
        if word:
            words.append(word)
            word = ""

    def end_command():
        flush()
        if words:
            commands.append(list(words))
        words.clear()

    while i < len(text):
        c = text[i]
        if nested and c == ")":
            end_command()
            return commands + extra, i + 1
        if c == "#" and not word:
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif c == "\\":
            word += text[i:i + 2]
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            i = len(text) if end < 0 else end + 1
            word += QUOTED
        elif c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\":
                    i += 2
                elif text.startswith("$((", i):
                    i = _skip_parens(text, i + 1)
                elif text.startswith("$(", i):
                    inner, i = _scan(text, i + 2, True)
                    extra += inner
                elif text[i] == "`":
                    end = text.find("`", i + 1)
                    end = len(text) if end < 0 else end
                    extra += _scan(text[i + 1:end], 0, False)[0]
                    i = end + 1
                else:
                    i += 1
            i += 1
            word += QUOTED
        elif text.startswith("$((", i):
            i = _skip_parens(text, i + 1)
            word += "$A"
        elif text.startswith("$(", i):
            inner, i = _scan(text, i + 2, True)
            extra += inner
            word += "$S"
        elif text.startswith("${", i):
            end = text.find("}", i)
            i = len(text) if end < 0 else end + 1
            word += "$V"
        elif c == "`":
            end = text.find("`", i + 1)
            end = len(text) if end < 0 else end
            extra += _scan(text[i + 1:end], 0, False)[0]
            i = end + 1
            word += "$S"
        elif c in " \t":
            flush()
            i += 1
        elif c == "(" and word.endswith("="):
            end = _skip_parens(text, i)
            word += "(...)"
            i = end
        elif c in ";|&(){}\n":
            end_command()
            i += 1
        elif c in "<>":
            flush()
            while i < len(text) and text[i] in "<>&-|":
                i += 1
            words.append(">")  # the next word is the redirection's target
        else:
            word += c
            i += 1
    end_command()
    return commands + extra, i


QUOTED = "\x00"  # stands for a quoted string: never a program name

CASE_PATTERN = re.compile(r"^\s*\(?\s*[^\s()|;]+(?:\s*\|\s*[^\s()|;]+)*\s*\)")


def shell_functions(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)", f.read(), re.MULTILINE))


def shell_needs(path: str, functions: set[str]):
    """`functions`: the shell functions defined in every script (lib.sh's are used by others)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    heredoc_end = None
    in_case = 0
    in_array = False
    number = 0
    pending = ""
    for number, raw in enumerate(lines, 1):
        if heredoc_end is not None:
            if raw.strip() == heredoc_end:
                heredoc_end = None
            continue
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if heredoc and "<<<" not in line:
            heredoc_end = heredoc.group(1)
        if in_array:
            in_array = ")" not in line.split("#", 1)[0]
            continue
        if re.search(r"[A-Za-z_]\w*\+?=\([^)]*$", line.split(" #", 1)[0]):
            in_array = True  # a multi-line array assignment: data, not commands
            continue
        stripped = line.strip()
        if re.match(r"^case\b.*\bin$", stripped):
            in_case += 1
            continue
        if stripped.startswith("esac"):
            in_case = max(0, in_case - 1)
            continue
        if in_case:
            match = CASE_PATTERN.match(line)
            if match and not stripped.startswith("$("):
                line = line[match.end():]
        for command in _scan(line, 0, False)[0]:
            words = [w for w in command]
            # Drop redirections and their targets, then leading assignments and keywords.
            cleaned, skip_next = [], False
            for w in words:
                if skip_next:
                    skip_next = False
                    continue
                if w == ">":
                    skip_next = True
                    continue
                cleaned.append(w)
            index = 0
            while index < len(cleaned):
                w = cleaned[index]
                if re.match(r"^[A-Za-z_]\w*(\[[^\]]*\])?\+?=", w) or w in SHELL_KEYWORDS:
                    if w in ("for", "case", "select", "function"):
                        index = len(cleaned)
                        break
                    index += 1
                    continue
                if w in SHELL_WRAPPERS:
                    # `command -v X`, `exec X`, `env -i A=B X`, `nohup X`: X is the program too.
                    if w not in SHELL_BUILTINS:
                        yield "program", w, number
                    index += 1
                    while index < len(cleaned) and (cleaned[index].startswith("-") or "=" in cleaned[index]):
                        index += 1
                    continue
                break
            if index >= len(cleaned):
                continue
            w = cleaned[index]
            if w.startswith("/"):
                w = os.path.basename(w)
            if not PROGRAM_NAME.match(w) or w in SHELL_BUILTINS or w in functions or w.isdigit():
                continue
            yield "program", w, number


# ---------------------------------------------------------------- CMake

def cmake_needs(path: str):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for match in re.finditer(r"\bCOMMAND\s+([^\s)]+)", text):
        word = match.group(1)
        if word.startswith("/"):
            word = os.path.basename(word)
        if PROGRAM_NAME.match(word) and not word.startswith("skiff"):
            yield "program", word, text.count("\n", 0, match.start()) + 1
    for match in re.finditer(r"find_program\(\s*\w+\s+(?:NAMES\s+)?([^\s)]+)", text):
        yield "program", match.group(1), text.count("\n", 0, match.start()) + 1


# ---------------------------------------------------------------- dpkg cross-checks

def dpkg_packages_of(program: str) -> set[str] | None:
    """The packages dpkg says own the installed program, or None when it is not installed here
    (or there is no dpkg)."""
    found = shutil.which(program, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if not found or not shutil.which("dpkg-query"):
        return None
    candidates = {found, os.path.realpath(found)}
    for path in list(candidates):
        if path.startswith("/usr/"):
            candidates.add(path[len("/usr"):])
        else:
            candidates.add("/usr" + path)
    for path in sorted(candidates):
        result = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
        if result.returncode == 0:
            return {line.split(":")[0].strip() for line in result.stdout.splitlines() if ":" in line}
    return None


def dpkg_depends(package: str) -> set[str] | None:
    """The names in the installed package's Depends and Pre-Depends, or None if not installed."""
    if not shutil.which("dpkg-query"):
        return None
    result = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package], capture_output=True,
                            text=True)
    if result.returncode != 0:
        return None
    return {re.split(r"[\s:(]", alternative.strip())[0] for group in result.stdout.split(",")
            for alternative in group.split("|") if alternative.strip()}


def dpkg_priority(package: str) -> str | None:
    if not shutil.which("dpkg-query"):
        return None
    result = subprocess.run(["dpkg-query", "-W", "-f=${Priority}", package], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def main(argv: list[str]) -> int:
    root = os.path.abspath(argv[1] if len(argv) > 1 else ".")
    listed = install_list(root)
    local_modules = set()
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS and not (directory == root and d.startswith("build"))]
        local_modules.update(name[:-3] for name in names if name.endswith(".py"))
    stdlib = set(sys.stdlib_module_names) | {"__future__"}

    problems: list[str] = []
    programs: dict[str, list[str]] = {}
    modules: dict[str, list[str]] = {}
    packages: dict[str, list[str]] = {}
    scanned = 0
    everything = list(files(root))
    functions = set()
    for path, kind in everything:
        if kind == "shell":
            functions |= shell_functions(path)
    for path, kind in everything:
        scanned += 1
        rel = os.path.relpath(path, root)
        try:
            needs = list({"python": lambda p: python_needs(p, local_modules), "shell": lambda p: shell_needs(p, functions),
                          "cmake": cmake_needs}[kind](path))
        except (SyntaxError, UnicodeDecodeError) as error:
            problems.append(f"{rel}: cannot read as {kind}: {error}")
            continue
        if kind != "cmake":
            with open(path, "rb") as f:
                shebang = f.readline(200).decode(errors="replace")
            if shebang.startswith("#!"):
                for word in shebang[2:].split()[:2]:
                    word = os.path.basename(word)
                    if PROGRAM_NAME.match(word):
                        needs.append(("program", word, 1))
        for need, name, line in needs:
            where = f"{rel}:{line}"
            if need == "module":
                if name not in stdlib and name not in local_modules:
                    modules.setdefault(name, []).append(where)
            elif need == "program":
                programs.setdefault(name, []).append(where)
            else:
                packages.setdefault(name, []).append(where)

    def allowed(package: str) -> bool:
        return package in listed or package in BASE or VIA.get(package) in listed

    for package, parent in sorted(VIA.items()):
        depends = dpkg_depends(parent)
        if depends is not None and package not in depends:
            problems.append(f"VIA says `{parent}` brings `{package}`, but dpkg lists {parent}'s dependencies as "
                            f"{sorted(depends)}")

    for program, wheres in sorted(programs.items()):
        if program in SELF_INSTALLED:
            continue
        package = PROGRAMS.get(program)
        if package is None:
            problems.append(f"program `{program}` ({', '.join(wheres[:3])}): not in this check's table: add its "
                            f"Debian package to qemu/lib.sh and the pair to PROGRAMS in {os.path.basename(__file__)}")
            continue
        if not allowed(package):
            problems.append(f"program `{program}` ({', '.join(wheres[:3])}) comes from `{package}`, which "
                            f"qemu/lib.sh does not install")
        owners = dpkg_packages_of(program)
        if owners is not None and package not in owners and not any(VIA.get(o) == package for o in owners):
            problems.append(f"program `{program}`: the table says `{package}`, dpkg says {sorted(owners)}")
    for module, wheres in sorted(modules.items()):
        package = MODULES.get(module)
        if package is None:
            problems.append(f"Python module `{module}` ({', '.join(wheres[:3])}): not in the standard library, "
                            f"not in the repository, not in MODULES of {os.path.basename(__file__)}")
        elif not allowed(package):
            problems.append(f"Python module `{module}` ({', '.join(wheres[:3])}) comes from `{package}`, which "
                            f"qemu/lib.sh does not install")
    for package, wheres in sorted(packages.items()):
        if not allowed(package):
            problems.append(f"`{package}` is needed ({', '.join(wheres[:3])}: scapy filter=, needs libpcap) but "
                            f"qemu/lib.sh does not install it")
    for package in sorted(BASE):
        priority = dpkg_priority(package)
        if priority is not None and priority != "required":
            problems.append(f"BASE lists `{package}`, but its priority is `{priority}`, not `required`: "
                            f"a minimal Debian 12 does not have it; put it in qemu/lib.sh")

    for problem in problems:
        print(problem)
    print(f"{scanned} files read: {len(programs)} programs, {len(modules)} non-standard Python modules, "
          f"{len(listed)} packages in the install list")
    if problems:
        print(f"FAIL: {len(problems)} problem(s)")
        return 1
    print("install list ok: " + ", ".join(sorted(programs)) + "; modules: " + ", ".join(sorted(modules)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
