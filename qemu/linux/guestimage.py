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

# The kernel's meta-package: its one dependency names the real image package (linux-image-6.1.0-N-amd64).
KERNEL_META = "linux-image-amd64"
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


def ensure_apt_lists() -> None:
    """`apt-get download` needs the package lists, as qemu/lib.sh's install does."""
    if not apt_lists_empty():
        return
    if os.geteuid() != 0:
        raise BuildError("the apt package lists are empty; run `sudo apt-get update` (or qemu/run as root once)")
    say("the apt package lists are empty: apt-get update")
    run(["apt-get", "update", "-q"], capture_output=False)


def candidates(packages: list[str]) -> dict[str, dict]:
    """{package: the fields of the version apt would install (Package, Version, Depends, ...)}, in
    one apt-cache call (each call reads the whole cache: seconds on a busy machine)."""
    text = run(["apt-cache", "show", "--no-all-versions", *packages]).stdout
    found: dict[str, dict] = {}
    for record in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in record.splitlines():
            match = re.match(r"^([A-Za-z-]+): (.*)$", line)
            if match:
                fields.setdefault(match.group(1), match.group(2))
        if "Package" in fields and "Version" in fields:
            found.setdefault(fields["Package"], fields)
    missing = [package for package in packages if package not in found]
    if missing:
        raise BuildError(f"apt knows no version of {', '.join(missing)}")
    return found


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
        raise BuildError(f"{KERNEL_META} does not depend on a linux-image-<version> package: {depends!r}")
    return match.group(1)


def deb_version(path: str) -> str:
    return run(["dpkg-deb", "-f", path, "Version"]).stdout.strip()


def download(package: str, version: str, debs: str) -> str:
    """The .deb of package=version in debs/, fetched with `apt-get download` unless already there."""
    os.makedirs(debs, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(debs, f"{package}_*.deb"))):
        if deb_version(path) == version:
            return path
    say(f"apt-get download {package}={version}")
    # apt drops privileges to _apt where it can; in a directory _apt cannot write it says so and
    # downloads as the caller, which is what we want here.
    run(["apt-get", "download", "-q", f"{package}={version}"], cwd=debs)
    for path in sorted(glob.glob(os.path.join(debs, f"{package}_*.deb"))):
        if deb_version(path) == version:
            return path
    raise BuildError(f"apt-get download {package}={version} left no .deb in {debs}")


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


def build(out: str = DEFAULT_OUT, force: bool = False, quiet: bool = False) -> dict:
    """Builds (or finds up to date) the image in `out`; returns the manifest. A lock on
    <out>/.lock makes a second builder (a test and a benchmark started together) wait."""
    global QUIET
    QUIET = quiet
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(out, force)


def _build_locked(out: str, force: bool) -> dict:
    ensure_apt_lists()
    manifest_path = os.path.join(out, "manifest.json")
    kernel_path = os.path.join(out, "vmlinuz")
    initrd_path = os.path.join(out, "initramfs.cpio.gz")
    local_inputs = {
        "apt_lists": apt_lists_signature(),
        "builder": file_digest(os.path.abspath(__file__)),
        "init": file_digest(INIT_SCRIPT),
        "nic_modules": NIC_MODULES,
    }
    if not force and all(os.path.exists(p) for p in (manifest_path, kernel_path, initrd_path)):
        # Up to date without asking apt: the candidate versions only change with the package lists.
        with open(manifest_path) as file:
            manifest = json.load(file)
        libraries_current = all(os.path.exists(path) and file_digest(path) == digest
                                for path, digest in manifest.get("library_sha256", {}).items())
        if {k: manifest.get("inputs", {}).get(k) for k in local_inputs} == local_inputs and libraries_current:
            return manifest
    meta = candidates([KERNEL_META])[KERNEL_META]
    kernel_pkg = kernel_package(meta)
    fields = candidates([kernel_pkg, *USER_PACKAGES])
    packages = {package: fields[package]["Version"] for package in [kernel_pkg, *USER_PACKAGES]}
    inputs = dict(local_inputs, packages=packages)
    say(f"building the Linux guest in {os.path.relpath(out, ROOT)}: " +
        ", ".join(f"{name} {version}" for name, version in packages.items()))

    debs = os.path.join(out, "debs")
    unpacked = os.path.join(out, "unpacked")
    roots = {}
    keep = set()
    for package, version in packages.items():
        deb = download(package, version, debs)
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
    for package, files in USER_PACKAGES.items():
        for relative in files:
            host_path = os.path.join(roots[package], relative)
            if not os.path.exists(host_path):
                raise BuildError(f"{package} {packages[package]} has no /{relative}")
            add_host_file(archive, relative, host_path, libraries)
            contents.append({"path": "/" + relative, "from": f"{package} {packages[package]}"})

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
    parser.add_argument("--out", default=DEFAULT_OUT, help="cache and output directory (default build/linux-guest)")
    parser.add_argument("--force", action="store_true", help="rebuild the image even if it is up to date")
    parser.add_argument("--list", action="store_true", help="print what is in the image")
    args = parser.parse_args()
    try:
        manifest = build(os.path.abspath(args.out), force=args.force)
    except BuildError as error:
        print(f"qemu/linux/build: {error}", file=sys.stderr)
        return 1
    out = os.path.relpath(os.path.abspath(args.out), os.getcwd())
    print(f"{out}/vmlinuz ({manifest['kernel_package']}), {out}/initramfs.cpio.gz "
          f"({manifest['initramfs_bytes'] // 1024} KiB)")
    if args.list:
        for item in manifest["contents"]:
            print(f"  {item['path']:60} {item['from']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
