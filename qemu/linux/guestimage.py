#!/usr/bin/python3
"""Builds the Linux reference guest from Debian packages: a kernel and an initramfs that Skiff's
benchmarks boot on the same QEMU, NIC, machine and memory as Skiff (qemu/linux/README.md).

    qemu/linux/build [--out build/linux-guest]

Idempotent: the packages are fetched with `apt-get download` (never installed on this machine) into
<out>/debs, unpacked with `dpkg-deb -x`, and the image is rebuilt only when a package version, this
script, the init script or a library changed. The image goes to <out>/vmlinuz and
<out>/initramfs.cpio.gz, with <out>/manifest.json saying what is in it.

Standard library only; needs apt-get, apt-cache, dpkg-deb and ldd (Debian's own dpkg, apt, libc-bin).
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import glob
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(ROOT, "build", "linux-guest")
INIT_SCRIPT = os.path.join(HERE, "init")



@dataclasses.dataclass(frozen=True)
class Arch:
    """A Debian architecture the guest can be built for."""

    name: str  # Debian's name: amd64, arm64
    kernel_meta: str  # the meta-package; its one dependency names the real image package
    triplet: str  # the multiarch library directory
    console: str  # the serial console the kernel is told to use
    out: str  # default output directory


ARCHES = {
    "amd64": Arch("amd64", "linux-image-amd64", "x86_64-linux-gnu", "ttyS0", DEFAULT_OUT),
    "arm64": Arch("arm64", "linux-image-arm64", "aarch64-linux-gnu", "ttyAMA0", DEFAULT_OUT + "-arm64"),
}
# Packages whose files go into the image, and the files taken from each.
USER_PACKAGES = {
    "busybox-static": ["bin/busybox"],  # the shell, init, ip, httpd, nc, sha256sum, poweroff, ...
    "iperf": ["usr/bin/iperf"],  # iperf 2, the same version the host runs
    "ethtool": ["sbin/ethtool"],  # offload state (ethtool -k eth0)
}
# NIC drivers, by module file name; their dependencies are added from the modules' own
# `depends=` (the package carries no modules.dep: depmod writes it at install time).
NIC_MODULES = ["e1000", "ne2k-pci"]

# Where the archive's files come from is recorded; their time stamps are not (a reproducible image).
FIXED_MTIME = 0


class BuildError(Exception):
    pass


QUIET = False


def say(message: str) -> None:
    if not QUIET:
        print(f"qemu/linux/build: {message}", flush=True)


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    result = subprocess.run(argv, **kwargs)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(argv)} exited {result.returncode}: {(result.stderr or '').strip()[-800:]}")
    return result


# --------------------------------------------------------------------------------------------
# Debian packages


def apt_lists_empty() -> bool:
    return not glob.glob("/var/lib/apt/lists/*_Packages*")


def host_arch() -> str:
    return run(["dpkg", "--print-architecture"]).stdout.strip()


def apt_name(package: str, arch: str) -> str:
    return package if arch == host_arch() else f"{package}:{arch}"


def ensure_arch(arch: str) -> None:
    """A foreign architecture's packages need `dpkg --add-architecture` and `apt-get update` once
    (root). Only `build --arch arm64` asks for it; the amd64 guest never changes apt's set-up."""
    if arch == host_arch() or arch in run(["dpkg", "--print-foreign-architectures"]).stdout.split():
        return
    if os.geteuid() != 0:
        raise BuildError(f"apt has no {arch} packages; as root: dpkg --add-architecture {arch} && apt-get update")
    say(f"dpkg --add-architecture {arch}; apt-get update")
    run(["dpkg", "--add-architecture", arch])
    run(["apt-get", "update", "-q"], capture_output=False)


def ensure_apt_lists() -> None:
    """`apt-get download` needs the package lists, as qemu/lib.sh's install does."""
    if not apt_lists_empty():
        return
    if os.geteuid() != 0:
        raise BuildError("the apt package lists are empty; run `sudo apt-get update` (or qemu/run as root once)")
    say("the apt package lists are empty: apt-get update")
    run(["apt-get", "update", "-q"], capture_output=False)


def candidates(packages: list[str], arch: str) -> dict[str, dict]:
    """{package: the fields of the version apt would install for `arch` (Package, Version,
    Depends, ...)}, in one apt-cache call (each call reads the whole cache: seconds on a busy
    machine)."""
    text = run(["apt-cache", "show", "--no-all-versions", *(apt_name(p, arch) for p in packages)]).stdout
    found: dict[str, dict] = {}
    for record in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in record.splitlines():
            match = re.match(r"^([A-Za-z-]+): (.*)$", line)
            if match:
                fields.setdefault(match.group(1), match.group(2))
        if "Package" in fields and "Version" in fields and fields.get("Architecture") in (arch, "all"):
            found.setdefault(fields["Package"], fields)
    missing = [package for package in packages if package not in found]
    if missing:
        raise BuildError(f"apt knows no {arch} version of {', '.join(missing)}")
    return found


def depends_names(fields: dict) -> list[str]:
    """Package names in a Depends field: the first of each set of alternatives, no versions."""
    names = []
    for clause in fields.get("Depends", "").split(","):
        first = clause.split("|")[0].strip()
        if first:
            names.append(re.split(r"[\s(:]", first, maxsplit=1)[0])
    return names


def apt_lists_signature() -> list:
    """What apt's candidate versions depend on: the package lists (names, sizes, times)."""
    signature = []
    for path in sorted(glob.glob("/var/lib/apt/lists/*_Packages*")):
        info = os.stat(path)
        signature.append([os.path.basename(path), info.st_size, int(info.st_mtime)])
    return signature


def kernel_package(meta: dict) -> str:
    depends = meta.get("Depends", "")
    match = re.search(r"\b(linux-image-[0-9][^ ,(]*)", depends)
    if not match:
        raise BuildError(f"{meta.get('Package')} does not depend on a linux-image-<version> package: {depends!r}")
    return match.group(1)


def deb_version(path: str) -> str:
    return run(["dpkg-deb", "-f", path, "Version"]).stdout.strip()


def download(package: str, version: str, debs: str, arch: str) -> str:
    """The .deb of package=version in debs/, fetched with `apt-get download` unless already there."""
    os.makedirs(debs, exist_ok=True)

    def present() -> str | None:
        for path in sorted(glob.glob(os.path.join(debs, f"{package}_*.deb"))):
            if path.endswith((f"_{arch}.deb", "_all.deb")) and deb_version(path) == version:
                return path
        return None

    if present():
        return present()
    say(f"apt-get download {apt_name(package, arch)}={version}")
    # apt drops privileges to _apt where it can; in a directory _apt cannot write it says so and
    # downloads as the caller, which is what we want here.
    run(["apt-get", "download", "-q", f"{apt_name(package, arch)}={version}"], cwd=debs)
    path = present()
    if not path:
        raise BuildError(f"apt-get download {package}={version} left no .deb in {debs}")
    return path


def unpack(deb: str, into: str) -> None:
    if os.path.isdir(into):
        shutil.rmtree(into)
    os.makedirs(into)
    run(["dpkg-deb", "-x", deb, into])


# --------------------------------------------------------------------------------------------
# Kernel modules


def module_depends(data: bytes) -> list[str]:
    """The `depends=` field of a module's .modinfo section (comma-separated module names)."""
    match = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    if not match or not match.group(1):
        return []
    return [name.decode() for name in match.group(1).split(b",") if name]


def read_module(path: str) -> bytes:
    """A module's ELF bytes, whatever compression the package used (this one ships .ko; newer
    Debian kernels ship .ko.xz or .ko.zst)."""
    if path.endswith(".ko"):
        with open(path, "rb") as file:
            return file.read()
    if path.endswith(".ko.xz"):
        with lzma.open(path) as file:
            return file.read()
    if path.endswith(".ko.gz"):
        with gzip.open(path) as file:
            return file.read()
    if path.endswith(".ko.zst"):
        if not shutil.which("zstd"):
            raise BuildError(f"{path} is zstd-compressed and zstd is not installed")
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    raise BuildError(f"unknown module format: {path}")


def module_name(path: str) -> str:
    base = os.path.basename(path)
    return re.sub(r"\.ko(\.(xz|gz|zst))?$", "", base)


def collect_modules(modules_root: str, wanted: list[str]) -> list[tuple[str, str, bytes]]:
    """[(name, path relative to modules_root, ELF bytes)] for the wanted modules and everything they
    depend on, dependencies first. Module names compare with '-' and '_' alike, as the kernel's do."""
    index = {}
    for path in glob.glob(os.path.join(modules_root, "kernel", "**", "*.ko*"), recursive=True):
        index[module_name(path).replace("-", "_")] = path
    ordered: list[tuple[str, str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple) -> None:
        key = name.replace("-", "_")
        if key in seen:
            return
        if key in chain:
            raise BuildError(f"module dependency cycle: {' -> '.join(chain + (key,))}")
        if key not in index:
            raise BuildError(f"module {name} not found under {modules_root}")
        data = read_module(index[key])
        for dependency in module_depends(data):
            visit(dependency, chain + (key,))
        seen.add(key)
        relative = os.path.relpath(index[key], modules_root)
        relative = re.sub(r"\.ko\.(xz|gz|zst)$", ".ko", relative)  # stored decompressed
        ordered.append((module_name(index[key]), relative, data))

    for name in wanted:
        visit(name, ())
    return ordered


# --------------------------------------------------------------------------------------------
# Shared libraries


LDD_LINE = re.compile(r"^\s*(?:(\S+) => )?(/\S+) \(0x[0-9a-f]+\)$")


def shared_libraries(binary: str) -> list[str]:
    """Absolute paths of what the dynamic loader would map for `binary` (ldd), the loader itself
    included, as the host's loader resolves them: the host is Debian 12, so these are the same
    Debian packages (libc6, libstdc++6, ...) the image's programs were built against."""
    result = subprocess.run(["ldd", binary], capture_output=True, text=True)
    text = result.stdout + result.stderr
    if "not a dynamic executable" in text or "statically linked" in text:
        return []
    if result.returncode != 0:
        raise BuildError(f"ldd {binary}: {text.strip()}")
    missing = [line.split()[0] for line in text.splitlines() if "not found" in line]
    if missing:
        raise BuildError(f"ldd {binary}: not found on this machine: {', '.join(missing)}")
    paths = []
    for line in text.splitlines():
        match = LDD_LINE.match(line)
        if match:
            paths.append(match.group(2))
    return paths


def owning_package(path: str) -> str:
    """`dpkg -S` for a library path (trying the /usr-merged spelling too): 'libc6:amd64 2.36-9'."""
    candidates = [path]
    if not path.startswith("/usr/"):
        candidates.append("/usr" + path)
    for name in candidates:
        result = subprocess.run(["dpkg", "-S", name], capture_output=True, text=True)
        if result.returncode == 0:
            package = result.stdout.splitlines()[0].rsplit(": ", 1)[0].strip()  # "libc6:amd64: /path"
            version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                                     text=True).stdout.strip()
            return f"{package} {version}".strip()
    return "?"


def elf_dynamic(data: bytes) -> tuple[str | None, list[str]]:
    """(program interpreter, DT_NEEDED names) of a 64-bit little-endian ELF file, read through its
    program headers (PT_INTERP; PT_DYNAMIC, whose string table address is mapped to a file
    offset through the PT_LOAD segments). For binaries the host's ldd cannot run (arm64)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError("not a 64-bit little-endian ELF file")
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    interp, dynamic, loads = None, None, []
    for index in range(phnum):
        header = data[phoff + index * phentsize: phoff + (index + 1) * phentsize]
        kind = int.from_bytes(header[0:4], "little")
        offset, vaddr = int.from_bytes(header[8:16], "little"), int.from_bytes(header[16:24], "little")
        size = int.from_bytes(header[32:40], "little")
        if kind == 3:  # PT_INTERP
            interp = data[offset:offset + size].rstrip(b"\0").decode()
        elif kind == 2:  # PT_DYNAMIC
            dynamic = (offset, size)
        elif kind == 1:  # PT_LOAD
            loads.append((vaddr, offset, size))
    if dynamic is None:
        return interp, []
    needed_offsets, strtab = [], None
    for position in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag = int.from_bytes(data[position:position + 8], "little")
        value = int.from_bytes(data[position + 8:position + 16], "little")
        if tag == 0:  # DT_NULL
            break
        if tag == 1:  # DT_NEEDED
            needed_offsets.append(value)
        elif tag == 5:  # DT_STRTAB
            strtab = value
    if strtab is None:
        return interp, []
    base = next((offset + strtab - vaddr for vaddr, offset, size in loads if vaddr <= strtab < vaddr + size), None)
    if base is None:
        raise BuildError("DT_STRTAB lies in no PT_LOAD segment")
    needed = []
    for offset in needed_offsets:
        end = data.index(b"\0", base + offset)
        needed.append(data[base + offset:end].decode())
    return interp, needed


def resolve_in_roots(path: str, roots: list[str]) -> str | None:
    """A file's real path under one of the unpacked package roots, following symbolic links
    (absolute ones relative to that root)."""
    for root in roots:
        candidate = path
        for _ in range(16):
            full = os.path.join(root, candidate.lstrip("/"))
            if os.path.islink(full):
                target = os.readlink(full)
                candidate = target if target.startswith("/") else os.path.join(os.path.dirname(candidate), target)
                continue
            if os.path.isfile(full):
                return full
            break
    return None


def foreign_libraries(binaries: list[str], roots: dict[str, str], triplet: str) -> dict[str, tuple[str, str]]:
    """{guest path: (file in an unpacked package, package)} for the interpreter and every shared
    library the binaries need, transitively, found in the unpacked library packages."""
    found: dict[str, tuple[str, str]] = {}
    pending = list(binaries)
    while pending:
        with open(pending.pop(), "rb") as file:
            interp, needed = elf_dynamic(file.read())
        wanted = ([interp] if interp else []) + [f"/lib/{triplet}/{name}" for name in needed]
        for guest_path in wanted:
            if guest_path in found:
                continue
            for package, root in roots.items():
                real = resolve_in_roots(guest_path, [root]) or resolve_in_roots(
                    "/usr" + guest_path, [root])
                if real:
                    found[guest_path] = (real, package)
                    pending.append(real)
                    break
            else:
                raise BuildError(f"{guest_path} is in none of the unpacked packages {sorted(roots)}")
    return found


# --------------------------------------------------------------------------------------------
# cpio "newc" writer


@dataclasses.dataclass
class Entry:
    path: str  # inside the archive, without the leading '/'
    mode: int  # full st_mode: type and permissions
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


class Archive:
    """An initramfs in the "newc" format the kernel unpacks (ASCII headers, 4-byte alignment), built
    in memory so no root (for device nodes) and no cpio program are needed. Directories are added
    for every parent; entries keep the order they were added."""

    def __init__(self):
        self.entries: dict[str, Entry] = {}

    def directory(self, path: str) -> None:
        path = path.strip("/")
        if not path or path in self.entries:
            return
        self.directory(os.path.dirname(path))
        self.entries[path] = Entry(path, stat.S_IFDIR | 0o755)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        self.directory(os.path.dirname(path))
        self.entries[path] = Entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self.directory(os.path.dirname(path))
        self.entries[path] = Entry(path, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = path.strip("/")
        self.directory(os.path.dirname(path))
        self.entries[path] = Entry(path, stat.S_IFCHR | mode, b"", (major, minor))

    def bytes(self) -> bytes:
        out = io.BytesIO()

        def pad() -> None:
            out.write(b"\0" * (-out.tell() % 4))

        def header(inode: int, entry: Entry | None, name: bytes) -> None:
            mode, size, rdev = (entry.mode, len(entry.data), entry.rdev) if entry else (0, 0, (0, 0))
            nlink = 2 if entry and stat.S_ISDIR(mode) else 1
            fields = [inode, mode, 0, 0, nlink, FIXED_MTIME, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
            out.write(b"070701" + b"".join(b"%08X" % value for value in fields))
            out.write(name + b"\0")
            pad()

        for inode, entry in enumerate(self.entries.values(), start=1):
            header(inode, entry, entry.path.encode())
            out.write(entry.data)
            pad()
        header(0, None, b"TRAILER!!!")
        return out.getvalue()

    def gzip(self) -> bytes:
        return gzip.compress(self.bytes(), compresslevel=6, mtime=FIXED_MTIME)


def add_host_file(archive: Archive, guest_path: str, host_path: str, libraries: dict[str, str]) -> None:
    """A host file at guest_path, and the shared libraries it needs at the paths the loader names."""
    with open(host_path, "rb") as file:
        data = file.read()
    archive.file(guest_path, data, 0o755 if os.access(host_path, os.X_OK) else 0o644)
    for library in shared_libraries(host_path):
        if library not in libraries:
            with open(library, "rb") as file:  # follows the symlink to the real file
                archive.file(library, file.read(), 0o755)
            libraries[library] = owning_package(library)


def extra_archive(files: dict[str, str]) -> bytes:
    """A second, small archive to append to the image (the kernel unpacks concatenated archives in
    turn): {guest path: host path}, with the shared libraries each file needs. The bench uses it to
    put the host's ttcp into the guest."""
    archive = Archive()
    libraries: dict[str, str] = {}
    for guest_path, host_path in files.items():
        add_host_file(archive, guest_path, host_path, libraries)
    return archive.gzip()


# --------------------------------------------------------------------------------------------
# The image


def file_digest(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def build(out: str | None = None, force: bool = False, quiet: bool = False, arch: str = "amd64") -> dict:
    """Builds (or finds up to date) the image for `arch` in `out` (default ARCHES[arch].out);
    returns the manifest. A lock on <out>/.lock makes a second builder (a test and a benchmark
    started together) wait."""
    global QUIET
    QUIET = quiet
    if arch not in ARCHES:
        raise BuildError(f"no such architecture {arch!r}: {', '.join(ARCHES)}")
    out = out or ARCHES[arch].out
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(out, force, ARCHES[arch])


def library_packages(fields: dict[str, dict], arch: str) -> dict[str, dict]:
    """The lib* packages the user packages depend on, transitively (a foreign architecture's
    binaries take their libraries from these, not from this machine)."""
    found: dict[str, dict] = {}
    frontier = sorted({n for f in fields.values() for n in depends_names(f) if n.startswith("lib")})
    while frontier:
        batch = candidates(frontier, arch)
        found.update(batch)
        frontier = sorted({n for f in batch.values() for n in depends_names(f)
                           if n.startswith("lib") and n not in found})
    return found


def _build_locked(out: str, force: bool, arch: Arch) -> dict:
    ensure_apt_lists()
    ensure_arch(arch.name)
    foreign = arch.name != host_arch()
    manifest_path = os.path.join(out, "manifest.json")
    kernel_path = os.path.join(out, "vmlinuz")
    initrd_path = os.path.join(out, "initramfs.cpio.gz")
    local_inputs = {
        "apt_lists": apt_lists_signature(),
        "builder": file_digest(os.path.abspath(__file__)),
        "init": file_digest(INIT_SCRIPT),
        "nic_modules": NIC_MODULES,
        "arch": arch.name,
    }
    if not force and all(os.path.exists(p) for p in (manifest_path, kernel_path, initrd_path)):
        # Up to date without asking apt: the candidate versions only change with the package lists.
        with open(manifest_path) as file:
            manifest = json.load(file)
        libraries_current = all(os.path.exists(path) and file_digest(path) == digest
                                for path, digest in manifest.get("library_sha256", {}).items())
        if {k: manifest.get("inputs", {}).get(k) for k in local_inputs} == local_inputs and libraries_current:
            return manifest
    meta = candidates([arch.kernel_meta], arch.name)[arch.kernel_meta]
    kernel_pkg = kernel_package(meta)
    fields = candidates([kernel_pkg, *USER_PACKAGES], arch.name)
    packages = {package: fields[package]["Version"] for package in [kernel_pkg, *USER_PACKAGES]}
    if foreign:
        user_fields = {package: fields[package] for package in USER_PACKAGES}
        packages.update({name: f["Version"] for name, f in sorted(library_packages(user_fields, arch.name).items())})
    inputs = dict(local_inputs, packages=packages)
    say(f"building the {arch.name} Linux guest in {os.path.relpath(out, ROOT)}: " +
        ", ".join(f"{name} {version}" for name, version in packages.items()))

    debs = os.path.join(out, "debs")
    unpacked = os.path.join(out, "unpacked")
    roots = {}
    keep = set()
    for package, version in packages.items():
        deb = download(package, version, debs, arch.name)
        keep.add(os.path.basename(deb))
        roots[package] = os.path.join(unpacked, package)
        unpack(deb, roots[package])
    # Older versions of the same packages leave the cache.
    for path in glob.glob(os.path.join(debs, "*.deb")):
        if os.path.basename(path) not in keep:
            os.remove(path)

    archive = Archive()
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "root", "etc",
                      "www"):
        archive.directory(directory)
    # The kernel opens /dev/console for init before anything is mounted.
    archive.char_device("dev/console", 5, 1)
    with open(INIT_SCRIPT, "rb") as file:
        archive.file("init", file.read(), 0o755)

    libraries: dict[str, str] = {}
    contents = []
    binaries = []
    for package, files in USER_PACKAGES.items():
        for relative in files:
            host_path = os.path.join(roots[package], relative)
            if not os.path.exists(host_path):
                raise BuildError(f"{package} {packages[package]} has no /{relative}")
            if foreign:
                with open(host_path, "rb") as file:
                    archive.file(relative, file.read(), 0o755)
                binaries.append(host_path)
            else:
                add_host_file(archive, relative, host_path, libraries)
            contents.append({"path": "/" + relative, "from": f"{package} {packages[package]}"})
    if foreign:
        library_roots = {p: roots[p] for p in packages if p not in USER_PACKAGES and p != kernel_pkg}
        for guest_path, (real, package) in sorted(foreign_libraries(binaries, library_roots, arch.triplet).items()):
            with open(real, "rb") as file:
                archive.file(guest_path, file.read(), 0o755)
            contents.append({"path": guest_path, "from": f"{package} {packages[package]} ({arch.name}, by DT_NEEDED)"})

    boot = glob.glob(os.path.join(roots[kernel_pkg], "boot", "vmlinuz-*"))
    if len(boot) != 1:
        raise BuildError(f"{kernel_pkg}: expected one /boot/vmlinuz-*, found {boot}")
    release = os.path.basename(boot[0])[len("vmlinuz-"):]
    modules_root = os.path.join(roots[kernel_pkg], "lib", "modules", release)
    modules = collect_modules(modules_root, NIC_MODULES)
    load_order = []
    for name, relative, data in modules:
        archive.file(f"lib/modules/{release}/{relative}", data)
        load_order.append(f"{release}/{relative}")
        contents.append({"path": f"/lib/modules/{release}/{relative}", "from": f"{kernel_pkg} {packages[kernel_pkg]}"})
    archive.file("etc/modules.load", "".join(f"{line}\n" for line in load_order).encode())
    for path, package in sorted(libraries.items()):
        contents.append({"path": path, "from": f"{package} (this machine's, found by ldd)"})
    archive.file("www/index.html", b"<html><body>Linux reference guest</body></html>\n")

    image = archive.gzip()
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(boot[0], kernel_path + ".tmp")
    os.replace(kernel_path + ".tmp", kernel_path)
    with open(initrd_path + ".tmp", "wb") as file:
        file.write(image)
    os.replace(initrd_path + ".tmp", initrd_path)
    manifest = {
        "inputs": inputs,
        "arch": arch.name,
        "console": arch.console,
        "kernel_release": release,
        "kernel_package": f"{kernel_pkg} {packages[kernel_pkg]}",
        "modules_load_order": load_order,
        "contents": contents,
        "library_sha256": {path: file_digest(path) for path in libraries},
        "vmlinuz_sha256": file_digest(kernel_path),
        "initramfs_sha256": file_digest(initrd_path),
        "initramfs_bytes": len(image),
    }
    with open(manifest_path + ".tmp", "w") as file:
        json.dump(manifest, file, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    say(f"kernel {release}, initramfs {len(image) // 1024} KiB ({len(archive.entries)} entries); "
        f"modules {', '.join(load_order)}")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(prog="qemu/linux/build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHES), default="amd64",
                        help="amd64 (default) or arm64 (adds apt's arm64 architecture the first time, as root)")
    parser.add_argument("--out", help="cache and output directory (default build/linux-guest, "
                                      "build/linux-guest-arm64 for arm64)")
    parser.add_argument("--force", action="store_true", help="rebuild the image even if it is up to date")
    parser.add_argument("--list", action="store_true", help="print what is in the image")
    args = parser.parse_args()
    try:
        manifest = build(os.path.abspath(args.out) if args.out else None, force=args.force, arch=args.arch)
    except BuildError as error:
        print(f"qemu/linux/build: {error}", file=sys.stderr)
        return 1
    out = os.path.relpath(os.path.abspath(args.out or ARCHES[args.arch].out), os.getcwd())
    print(f"{out}/vmlinuz ({manifest['kernel_package']}), {out}/initramfs.cpio.gz "
          f"({manifest['initramfs_bytes'] // 1024} KiB)")
    if args.list:
        for item in manifest["contents"]:
            print(f"  {item['path']:60} {item['from']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
