#!/usr/bin/env python3
"""Boot Skiff in QEMU: the argument builder behind qemu/run, and the test driver.

Two users, one QEMU command line:

* `qemu/run` (through main() below) boots the image with the serial console on the terminal, or
  with --headless on stdin/stdout for scripts, and turns QEMU's exit status back into the code the
  guest passed to `poweroff`.
* Tests import this module and use `Guest`:

      from skiffqemu import Guest
      with Guest(mem="16M", name="selftest") as guest:
          guest.expect_prompt()
          output = guest.command("selftest", timeout=60)
          guest.send_line("poweroff 0")
          assert guest.wait_exit() == 1

  The guest's serial port is connected to pipes. Everything it prints is kept (and written to a
  log file); `expect()` waits for a regular expression with a timeout; when the `with` block ends
  by an exception, the tail of the serial log is printed. QEMU is always killed: by the context
  manager, at interpreter exit, on SIGTERM/SIGINT/SIGHUP, and by the kernel (PR_SET_PDEATHSIG)
  if this process dies without a chance to clean up.

Standard library only (Debian's python3).

Architectures: --arch x86_64 (default: qemu-system-x86_64, -M pc or q35, build/x86_64/skiff.elf
through Multiboot) or aarch64 (qemu-system-aarch64 -M virt -cpu cortex-a72, build/aarch64/skiff.img,
an arm64 Image with the device tree in x0).

Exit status: on x86_64 QEMU's isa-debug-exit device (port 0xf4) makes QEMU exit with
(value << 1) | 1; on aarch64 the kernel ends QEMU through semihosting (-semihosting-config
enable=on) with that same status. The kernel's `poweroff N` gives status 2N+1; a panic under
`panic=exit` gives 255 (code 127). Status 0 means QEMU was quit (Ctrl-A X) or the guest reset or
powered off the machine another way (`reboot`, a triple fault, PSCI), which -no-reboot turns into
an exit.
"""

from __future__ import annotations

import argparse
import atexit
import codecs
import ctypes
import dataclasses
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DIR = os.path.join(ROOT, "build", "x86_64")  # test logs go here for both architectures
KERNEL_ELF = os.path.join(BUILD_DIR, "skiff.elf")
KERNEL_ISO = os.path.join(BUILD_DIR, "skiff.iso")
QEMU = "qemu-system-x86_64"
ARCHES = ("x86_64", "aarch64")
QEMU_BINARIES = {"x86_64": "qemu-system-x86_64", "aarch64": "qemu-system-aarch64"}
# The image each architecture boots with -kernel, and the machines it runs on.
DEFAULT_KERNELS = {"x86_64": KERNEL_ELF, "aarch64": os.path.join(ROOT, "build", "aarch64", "skiff.img")}
MACHINES = {"x86_64": ("pc", "q35"), "aarch64": ("virt",)}
NICS_BY_ARCH = {"x86_64": ("none", "e1000", "ne2k", "ne2k-pci"), "aarch64": ("none", "e1000", "ne2k-pci")}

PROMPT = "skiff> "
DEFAULT_APPEND = "ip=10.0.2.15/24 gw=10.0.2.2"
GUEST_IP = "10.0.2.15"
# ttcp/iperf, echo, discard (TCP and UDP each); the web server's port 80 from 8080 (TCP only: a port
# below 1024 on the host needs root).
DEFAULT_FORWARDS = "5001,7,9,8080:80/tcp"
ARCHIVE_NAME = "www.tar"  # the file archive the build puts beside skiff.elf (apps/httpd/Archive.cmake)
DEBUG_EXIT_PANIC = 127
NIC_CHOICES = ("none", "e1000", "ne2k", "ne2k-pci")


# --------------------------------------------------------------------------------------------
# Accelerator


def choose_accel(requested: str | None = None) -> tuple[str, str]:
    """Returns (accelerator, why). KVM only where it really works: /dev/kvm opens read-write
    *and* the CPU advertises vmx or svm (the project's build machines have a paravirtual
    /dev/kvm without either, which cannot run ordinary guests)."""
    if requested:
        return requested, "requested"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        os.close(fd)
    except OSError as error:
        return "tcg", f"/dev/kvm not usable ({error.strerror})"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = set()
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
    except OSError:
        flags = set()
    if "vmx" in flags or "svm" in flags:
        return "kvm", "/dev/kvm usable and the CPU has " + ("vmx" if "vmx" in flags else "svm")
    return "tcg", "/dev/kvm present but the CPU shows neither vmx nor svm"


def accel_for(options) -> tuple[str, str]:
    """choose_accel() for the options' architecture: an aarch64 guest on this x86 host is TCG."""
    if getattr(options, "arch", "x86_64") == "aarch64":
        if options.accel == "kvm":
            raise OptionError("--accel kvm: an aarch64 guest needs an arm64 host; this one runs it under tcg")
        return "tcg", "an aarch64 guest on an x86-64 host"
    return choose_accel(options.accel)


# --------------------------------------------------------------------------------------------
# Options and the QEMU command line


@dataclasses.dataclass
class Options:
    arch: str | None = None  # None: aarch64 for an arm64 Image (*.img), x86_64 otherwise
    nic: str = "e1000"
    ne2k_irq: int = 10  # 0: QEMU's default line (9), not told to the kernel, which finds it itself
    accel: str | None = None  # None: choose_accel()
    mem: str = "32M"
    machine: str | None = None  # None: pc on x86_64, virt on aarch64
    gic: int = 2  # aarch64: the GIC version of -M virt (2 or 3)
    net: str = "user"
    tap_if: str | None = None
    forwards: str = ""  # "5001,7,9" or "15001:5001,..."; "" or "none" for no forwarding
    gdb: bool = False
    pcap: str | None = None
    append: str = ""
    iso: bool = False
    mitigation: str | None = None  # e1000 only: "on" | "off"; None keeps QEMU's default (on)
    extra: list[str] = dataclasses.field(default_factory=list)
    kernel: str | None = None  # None: the architecture's default image (DEFAULT_KERNELS)
    image_iso: str = KERNEL_ISO
    # -initrd: Skiff's file archive (a Multiboot module) or the Linux reference guest's initramfs.
    # None: Skiff's www.tar beside the kernel when it exists; "none" or "": no archive.
    initrd: str | None = None

    def __post_init__(self):
        if self.arch is None:
            self.arch = "aarch64" if (self.kernel or "").endswith(".img") else "x86_64"
        if self.machine is None:
            self.machine = MACHINES.get(self.arch, ("pc",))[0]
        if self.kernel is None:
            self.kernel = DEFAULT_KERNELS.get(self.arch, KERNEL_ELF)


class OptionError(Exception):
    pass


def kernel_command_line(options: Options) -> str:
    """Defaults, plus ne2k_irq for the ISA NE2000, plus --append; a key given in --append
    replaces the default with that key, so `--append ip=192.168.7.2/24` does what it says."""
    given = options.append.split()
    given_keys = {word.split("=", 1)[0] for word in given}
    words = [w for w in DEFAULT_APPEND.split() if w.split("=", 1)[0] not in given_keys]
    if options.nic == "ne2k" and options.ne2k_irq and "ne2k_irq" not in given_keys:
        words.append(f"ne2k_irq={options.ne2k_irq}")
    return " ".join(words + given)


def parse_forward_rules(spec: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """ "5001,8080:80/tcp" -> [(5001, 5001, ("tcp", "udp")), (8080, 80, ("tcp",))]: host port, guest
    port, protocols. An item is PORT or HOSTPORT:GUESTPORT, optionally /tcp or /udp (default both)."""
    if not spec or spec == "none":
        return []
    rules = []
    for item in spec.split(","):
        ports, _, protocol = item.strip().partition("/")
        host, _, guest = ports.partition(":")
        if protocol not in ("", "tcp", "udp"):
            raise OptionError(f"--fwd: '{item}': the protocol after / must be tcp or udp")
        try:
            rules.append((int(host), int(guest or host), (protocol,) if protocol else ("tcp", "udp")))
        except ValueError:
            raise OptionError(f"--fwd: '{item}' is not PORT or HOSTPORT:GUESTPORT[/tcp|/udp]") from None
    return rules


def parse_forwards(spec: str) -> list[tuple[int, int]]:
    """ "5001,7,9" -> [(5001, 5001), (7, 7), (9, 9)]; "15001:5001" maps host 15001 to guest 5001."""
    return [(host, guest) for host, guest, _ in parse_forward_rules(spec)]


def archive_path(options: Options, warn=None) -> str | None:
    """The file archive to pass with -initrd, or None."""
    if options.initrd in ("none", ""):
        return None
    if options.initrd is None:
        beside = os.path.join(os.path.dirname(os.path.abspath(options.kernel)), ARCHIVE_NAME)
        if os.path.exists(beside):
            return beside
        if warn:
            warn(f"no {ARCHIVE_NAME} beside {options.kernel}: booting without files (ls, cat and the web "
                 f"server will have none)")
        return None
    if not os.path.exists(options.initrd):
        raise OptionError(f"--initrd {options.initrd} does not exist")
    return options.initrd


def host_port_problem(port: int, protocols: tuple[str, ...] = ("tcp", "udp")) -> str | None:
    """Why QEMU could not bind localhost:port for the given protocols, or None if it can."""
    kinds = [kind for kind, name in ((socket.SOCK_STREAM, "tcp"), (socket.SOCK_DGRAM, "udp")) if name in protocols]
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as error:
                reason = error.strerror or str(error)
                if error.errno == 13:
                    reason += " (ports below 1024 need root)"
                elif error.errno == 98:
                    reason += " (another QEMU or server has it)"
                return f"{'TCP' if kind == socket.SOCK_STREAM else 'UDP'}: {reason}"
    return None


def nic_arguments(options: Options, warn, check_tap: bool = True) -> list[str]:
    """-netdev/-device (or -nic none) for options.nic on options.net: one MAC, one tap or user
    network for every machine type that has PCI (the x86 pc/q35 and, for the Linux reference guest,
    the Arm virt board; the ISA NE2000 only on pc)."""
    argv: list[str] = []
    if options.nic == "none":
        argv += ["-nic", "none"]
    else:
        if options.net == "user":
            netdev = "user,id=net0,net=10.0.2.0/24,host=10.0.2.2"
            for host_port, guest_port, protocols in parse_forward_rules(options.forwards):
                problem = host_port_problem(host_port, protocols)
                if problem:
                    warn(f"not forwarding localhost:{host_port} -> guest :{guest_port}: {problem}; "
                         f"try --fwd {host_port + 10000}:{guest_port}")
                    continue
                for proto in protocols:
                    netdev += f",hostfwd={proto}:127.0.0.1:{host_port}-{GUEST_IP}:{guest_port}"
        else:
            if not options.tap_if:
                raise OptionError("--net tap needs --tap-if NAME (an existing tap device)")
            try:
                if check_tap:
                    socket.if_nametoindex(options.tap_if)  # in this process's network namespace
                known = True
            except OSError:
                known = False
            if not known:
                raise OptionError(f"no network interface '{options.tap_if}' here; create the tap inside "
                                  "a network namespace first (see qemu/README.md)")
            netdev = f"tap,id=net0,ifname={options.tap_if},script=no,downscript=no"
        argv += ["-netdev", netdev]
        # romfile= keeps SeaBIOS from running the NIC's PXE option ROM: faster boot, less noise.
        if options.nic == "e1000":
            device = "e1000,netdev=net0,mac=52:54:00:12:34:56,romfile="
            if options.mitigation:
                device += f",mitigation={options.mitigation}"
        elif options.nic == "ne2k":
            irq = f",irq={options.ne2k_irq}" if options.ne2k_irq else ""
            device = f"ne2k_isa,iobase=0x300{irq},netdev=net0,mac=52:54:00:12:34:56"
        else:
            device = "ne2k_pci,netdev=net0,mac=52:54:00:12:34:56,romfile="
        argv += ["-device", device]
        if options.pcap:
            argv += ["-object", f"filter-dump,id=dump0,netdev=net0,file={options.pcap}"]
    return argv


def qemu_command(options: Options, console: str, warn=None, check_tap: bool = True) -> tuple[list[str], str]:
    """Builds the QEMU argument list. console: "terminal" (-nographic, serial and monitor
    multiplexed on the terminal) or "stdio" (no display, serial alone on stdin/stdout, no monitor).
    Returns (argv, accelerator)."""
    warn = warn or (lambda message: None)
    if options.arch not in ARCHES:
        raise OptionError(f"--arch must be one of {', '.join(ARCHES)}")
    aarch64 = options.arch == "aarch64"
    if options.nic not in NICS_BY_ARCH[options.arch]:
        raise OptionError(f"--nic must be one of {', '.join(NICS_BY_ARCH[options.arch])} on {options.arch}"
                          + (" (virt has no ISA bus for --nic ne2k)" if aarch64 and options.nic == "ne2k" else ""))
    if options.net not in ("user", "tap"):
        raise OptionError("--net must be user or tap")
    if options.machine not in MACHINES[options.arch]:
        raise OptionError(f"--machine must be {' or '.join(MACHINES[options.arch])} on {options.arch}")
    if options.gic not in (2, 3):
        raise OptionError("--gic must be 2 or 3")
    if options.iso and aarch64:
        raise OptionError("--iso is x86_64 only (the aarch64 image boots with -kernel)")
    if options.mitigation not in (None, "on", "off"):
        raise OptionError("--mitigation must be on or off")
    if options.mitigation and options.nic != "e1000":
        raise OptionError("--mitigation applies to --nic e1000 only")
    if options.pcap and options.nic == "none":
        raise OptionError("--pcap needs a NIC (--nic none has no netdev to dump)")

    accel, _ = accel_for(options)
    if aarch64:
        machine = f"virt,gic-version={options.gic}"
        argv = [QEMU_BINARIES["aarch64"], "-machine", machine, "-cpu", "cortex-a72", "-accel", accel,
                "-m", options.mem, "-no-reboot", "-semihosting-config", "enable=on,target=native"]
    else:
        argv = [QEMU, "-machine", options.machine, "-accel", accel, "-m", options.mem]
        if accel == "kvm":
            argv += ["-cpu", "host"]
        argv += ["-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]

    if console == "terminal":
        argv += ["-nographic"]
    elif console == "stdio":
        argv += ["-display", "none", "-monitor", "none", "-serial", "stdio"]
    else:
        raise ValueError(console)

    if options.iso:
        if not os.path.exists(options.image_iso):
            raise OptionError(f"{options.image_iso} does not exist (is the ISO part of the build?)")
        argv += ["-cdrom", options.image_iso, "-boot", "d"]
        if options.append:
            warn("--append is ignored with --iso: the command line comes from the ISO's grub.cfg")
        if options.initrd not in (None, "none", ""):
            warn("--initrd is ignored with --iso: the ISO carries its own www.tar (grub.cfg's module line)")
    else:
        if not os.path.exists(options.kernel):
            raise OptionError(f"{options.kernel} does not exist (build first: cmake --preset {options.arch} && "
                              f"cmake --build --preset {options.arch})")
        argv += ["-kernel", options.kernel, "-append", kernel_command_line(options)]
        archive = archive_path(options, warn)
        if archive:
            argv += ["-initrd", archive]

    argv += nic_arguments(options, warn, check_tap)

    if options.gdb:
        argv += ["-s", "-S"]
    argv += list(options.extra)
    return argv, accel


def describe_status(status: int, qemu_failed: bool = False) -> tuple[int, str]:
    """QEMU's exit status -> (exit code for qemu/run, one line saying what happened)."""
    if status < 0:
        return 128 - status, f"QEMU was killed by signal {-status}"
    if qemu_failed and status == 1:
        return 1, "QEMU failed to start (see its message above)"
    if status == 0:
        return 0, ("QEMU exited with status 0: quit from the monitor, or the guest reset the machine "
                   "(reboot or triple fault) under -no-reboot")
    if status & 1:
        code = status >> 1
        if code == DEBUG_EXIT_PANIC:
            return code, f"kernel panic or CPU exception: debug-exit code {code} (QEMU status {status})"
        return code, f"guest powered off with code {code} (QEMU status {status} = {code} << 1 | 1)"
    return status, f"QEMU exited with status {status}"


def qemu_error_line(line: str) -> bool:
    return line.startswith(tuple(binary + ":" for binary in QEMU_BINARIES.values())) and "warning:" not in line


# --------------------------------------------------------------------------------------------
# qemu/run


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=ARCHES, default="x86_64",
                        help="x86_64 (default: QEMU pc, build/x86_64/skiff.elf) or aarch64 (QEMU virt, "
                             "build/aarch64/skiff.img)")
    parser.add_argument("--nic", choices=NIC_CHOICES, default="e1000",
                        help="network card (default e1000; aarch64: e1000, ne2k-pci or none)")
    parser.add_argument("--ne2k-irq", type=int, default=10, metavar="N",
                        help="IRQ of --nic ne2k (default 10), passed to the kernel as ne2k_irq=N; 0 leaves "
                             "QEMU's default (9) and the kernel finds the line by making the card interrupt")
    parser.add_argument("--accel", choices=("kvm", "tcg"),
                        help="accelerator (default kvm where /dev/kvm is usable and the CPU has vmx/svm, "
                             "else tcg)")
    parser.add_argument("--mem", default="32M", help="guest RAM (default 32M; 16M works)")
    parser.add_argument("--machine", choices=("pc", "q35", "virt"),
                        help="machine (default pc on x86_64; virt, the only one, on aarch64)")
    parser.add_argument("--gic", type=int, choices=(2, 3), default=2,
                        help="aarch64: GIC version of the virt machine (default 2)")
    parser.add_argument("--net", choices=("user", "tap"), default="user",
                        help="user: QEMU user networking (default); tap: attach to --tap-if")
    parser.add_argument("--tap-if", metavar="NAME", help="existing tap interface for --net tap")
    parser.add_argument("--fwd", default=DEFAULT_FORWARDS, metavar="PORTS",
                        help=f"--net user: localhost ports forwarded to the guest {GUEST_IP}, TCP and UDP "
                             f"unless /tcp or /udp (default {DEFAULT_FORWARDS}; HOST:GUEST to remap; 'none')")
    parser.add_argument("--initrd", metavar="FILE",
                        help=f"file archive loaded as a Multiboot module (default {ARCHIVE_NAME} beside the "
                             f"kernel; build/x86_64/www-large.tar adds a 16 MiB test file; 'none')")
    parser.add_argument("--gdb", action="store_true", help="wait for gdb on :1234 (-s -S)")
    parser.add_argument("--pcap", metavar="FILE", help="dump the NIC's traffic to FILE (filter-dump)")
    parser.add_argument("--append", default="", metavar="ARGS",
                        help=f"kernel command line, after the defaults '{DEFAULT_APPEND}'")
    parser.add_argument("--iso", action="store_true", help="boot build/x86_64/skiff.iso instead of -kernel")
    parser.add_argument("--kernel", metavar="IMAGE",
                        help="kernel image (default build/x86_64/skiff.elf, or build/aarch64/skiff.img with "
                             "--arch aarch64; --iso uses skiff.iso beside it)")
    parser.add_argument("--mitigation", choices=("on", "off"),
                        help="e1000 interrupt mitigation (QEMU default on)")


def _options_from_args(args: argparse.Namespace) -> Options:
    kernel = args.kernel or DEFAULT_KERNELS[args.arch]
    return Options(arch=args.arch, nic=args.nic, ne2k_irq=args.ne2k_irq, accel=args.accel, mem=args.mem,
                   machine=args.machine, gic=args.gic, net=args.net, tap_if=args.tap_if, forwards=args.fwd,
                   gdb=args.gdb, pcap=args.pcap, append=args.append, iso=args.iso,
                   mitigation=args.mitigation, extra=list(args.qemu_args), kernel=kernel, initrd=args.initrd,
                   image_iso=os.path.join(os.path.dirname(os.path.abspath(kernel)), "skiff.iso"))


def _say(message: str) -> None:
    print(f"qemu/run: {message}", file=sys.stderr, flush=True)


def _forward_stderr(stream, seen_error: list) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        if qemu_error_line(line):
            seen_error.append(line)
        sys.stderr.write(line)
        sys.stderr.flush()


def _headless_relay(process: subprocess.Popen, timeout: float | None) -> None:
    """Serial output -> our stdout (CR removed); our stdin -> serial, one line at a time, each sent
    only after the guest printed a prompt, with the newline turned into the CR the line editor
    expects. The terminal is never put in raw mode."""
    prompt_seen = threading.Event()
    deadline = time.monotonic() + timeout if timeout else None

    def feed_input() -> None:
        try:
            for line in sys.stdin.buffer:
                prompt_seen.wait()
                prompt_seen.clear()
                process.stdin.write(line.rstrip(b"\r\n") + b"\r")
                process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    if sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=feed_input, daemon=True).start()
    out = sys.stdout.buffer
    tail = b""
    fd = process.stdout.fileno()
    while True:
        wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        ready, _, _ = select.select([fd], [], [], wait)
        if deadline is not None and time.monotonic() >= deadline:
            _say(f"--timeout {timeout:g} s reached; killing QEMU")
            process.kill()
            break
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            if tail and not tail.endswith(b"\n"):
                out.write(b"\n")  # so our closing message starts on a line of its own
                out.flush()
            break
        out.write(chunk.replace(b"\r", b""))
        out.flush()
        tail = (tail + chunk)[-64:]
        if tail.endswith(PROMPT.encode()):
            prompt_seen.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qemu/run",
        description="Build what is out of date and boot Skiff in QEMU with the serial console on this "
                    "terminal (Ctrl-A X quits, Ctrl-A C toggles the QEMU monitor). The exit code is "
                    "the guest's `poweroff N` code.",
        epilog="Anything after -- goes to QEMU unchanged. Set-up: Debian packages are installed when "
               "run as root (--no-install skips that), the build runs unless --no-build.")
    add_run_arguments(parser)
    parser.add_argument("--headless", action="store_true",
                        help="for scripts: no terminal control; serial on stdin/stdout, each stdin line "
                             "sent after a prompt")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="--headless: kill QEMU after this long")
    parser.add_argument("--print-command", action="store_true", help="print the QEMU command and exit")
    parser.add_argument("--no-build", action="store_true", help="do not build first (handled by qemu/run)")
    parser.add_argument("--no-install", action="store_true",
                        help="do not install Debian packages (handled by qemu/run)")
    parser.add_argument("qemu_args", nargs="*", metavar="-- QEMU-ARGS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.timeout and not args.headless:
        parser.error("--timeout needs --headless")

    options = _options_from_args(args)
    try:
        command, accel = qemu_command(options, "stdio" if args.headless else "terminal", warn=_say)
    except OptionError as error:
        _say(str(error))
        return 2
    accel_name, why = accel_for(options)
    if args.print_command:
        print(shlex.join(command))
        return 0

    image = options.image_iso if options.iso else options.kernel
    _say(f"booting {os.path.relpath(image)} ({os.path.getsize(image) // 1024} KiB) with {accel_name} ({why}), "
         f"{options.machine}, {options.mem}, nic {options.nic}" + (f"/{options.net}" if options.nic != "none" else ""))
    if not options.iso:
        _say(f"kernel command line: {kernel_command_line(options)}")
        archive = archive_path(options)
        _say(f"file archive: {os.path.relpath(archive)} ({os.path.getsize(archive) // 1024} KiB)" if archive
             else "file archive: none")
    if options.gdb:
        _say("QEMU waits for gdb; attach with the symbols:")
        symbols = options.kernel[:-4] + ".elf" if options.kernel.endswith(".img") else options.kernel
        debugger = "gdb-multiarch" if options.arch == "aarch64" else "gdb"
        _say(f"    {debugger} {os.path.relpath(symbols)} -ex 'target remote :1234'")
    if not args.headless:
        _say("Ctrl-A X quits QEMU, Ctrl-A C switches to the QEMU monitor")
    _say("$ " + shlex.join(command))

    errors: list[str] = []
    headless = args.headless
    process = subprocess.Popen(command, stdin=subprocess.PIPE if headless else None,
                               stdout=subprocess.PIPE if headless else None, stderr=subprocess.PIPE)
    stderr_thread = threading.Thread(target=_forward_stderr, args=(process.stderr, errors), daemon=True)
    stderr_thread.start()

    def stop(signum, _frame):
        process.kill()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        if headless:
            _headless_relay(process, args.timeout)
        status = process.wait()
    except KeyboardInterrupt:
        process.kill()
        status = process.wait()
    stderr_thread.join(timeout=2)
    if not headless:
        # -nographic leaves the cursor wherever the guest put it.
        sys.stderr.write("\n")
    code, text = describe_status(status, qemu_failed=bool(errors))
    _say(f"{text}; exit code {code}")
    return code


# --------------------------------------------------------------------------------------------
# A network namespace with a tap, for tests that put real traffic on the guest's NIC


class NetNamespaceError(Exception):
    pass


class NetNamespace:
    """A network namespace of our own, holding one tap with the host side's address; deleted (tap
    and all) when the `with` block ends. Guest(netns=ns, net="tap") starts QEMU inside it; run()
    starts host tools (ping, iperf, tcpdump) inside it. Nothing touches the machine's own
    interfaces. Needs root (CAP_NET_ADMIN); a test without it should skip and say so.

        with NetNamespace() as ns, Guest(netns=ns, net="tap", nic="e1000") as guest:
            guest.expect_prompt()
            ns.run(["ping", "-c", "3", "10.0.2.15"], check=True)
    """

    _counter = 0

    def __init__(self, tap: str = "tap0", host_address: str = "10.0.2.2/24", name: str | None = None):
        NetNamespace._counter += 1
        self.name = name or f"skiff-{os.getpid()}-{NetNamespace._counter}"
        self.tap = tap
        self.host_address = host_address
        self._created = False

    @staticmethod
    def problem() -> str | None:
        """Why a namespace cannot be made here, or None."""
        if os.geteuid() != 0:
            return "needs root (CAP_NET_ADMIN) to create a network namespace and a tap"
        if not any(os.access(os.path.join(d, "ip"), os.X_OK) for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin"]):
            return "needs iproute2 (ip)"
        if not os.path.exists("/dev/net/tun"):
            return "needs /dev/net/tun"
        return None

    def _ip(self, *arguments: str, inside: bool = True) -> None:
        command = ["ip", "netns", "exec", self.name, "ip", *arguments] if inside else ["ip", *arguments]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise NetNamespaceError(f"{shlex.join(command)}: {result.stderr.strip()}")

    def __enter__(self) -> "NetNamespace":
        problem = self.problem()
        if problem:
            raise NetNamespaceError(problem)
        self._ip("netns", "add", self.name, inside=False)
        self._created = True
        _install_cleanup()
        with _live_lock:
            _live_namespaces.add(self)
        try:
            self._ip("link", "set", "lo", "up")
            self._ip("tuntap", "add", "dev", self.tap, "mode", "tap")
            if self.host_address:
                self._ip("addr", "add", self.host_address, "dev", self.tap)
            self._ip("link", "set", self.tap, "up")
        except NetNamespaceError:
            self.delete()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.delete()

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, command: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        """Runs a host command inside the namespace (text output captured unless told otherwise)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.exec_prefix() + list(command), timeout=timeout, **kwargs)

    def popen(self, command: list[str], **kwargs) -> subprocess.Popen:
        """Starts a host command inside the namespace; it dies with this process."""
        return subprocess.Popen(self.exec_prefix() + list(command), preexec_fn=_die_with_parent, **kwargs)

    def delete(self) -> None:
        if self._created:
            # Deleting the namespace removes the tap with it.
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
            self._created = False
        with _live_lock:
            _live_namespaces.discard(self)


# --------------------------------------------------------------------------------------------
# The test driver


class GuestError(AssertionError):
    """A guest did not do what the test expected. The message carries the serial log's tail."""


class GuestExited(GuestError):
    pass


class ExpectTimeout(GuestError):
    pass


_live_guests: set = set()
_live_namespaces: set = set()
_live_lock = threading.Lock()
_handlers_installed = False


def _kill_live_guests() -> None:
    with _live_lock:
        guests = list(_live_guests)
        namespaces = list(_live_namespaces)
    for guest in guests:
        guest.kill()
    for namespace in namespaces:
        namespace.delete()


def _on_fatal_signal(signum, _frame) -> None:
    _kill_live_guests()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_cleanup() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_kill_live_guests)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            if signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(signum, _on_fatal_signal)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the test process dies (even by SIGKILL from a
    # CTest timeout), the kernel kills QEMU. PR_SET_PDEATHSIG = 1.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_text(text: str) -> str:
    """Removes terminal escape sequences and applies backspaces, as a person would read it."""
    text = _ANSI.sub("", text)
    lines = []
    for line in text.split("\n"):
        out: list[str] = []
        for char in line:
            if char == "\b":
                if out:
                    out.pop()
            else:
                out.append(char)
        lines.append("".join(out))
    return "\n".join(lines)


class Guest:
    """One QEMU running Skiff, its serial console on pipes.

    Keyword arguments are the fields of Options (nic, ne2k_irq, accel, mem, machine, net, tap_if,
    forwards, gdb, pcap, append, iso, mitigation, extra), plus:
      name     -- names the log file and the messages
      log_dir  -- where <name>.log goes (default build/x86_64/test-logs, or $SKIFF_TEST_LOG_DIR)
      echo     -- copy the serial output to stdout as it arrives (default: $SKIFF_ECHO=1)
      netns    -- a NetNamespace: QEMU runs inside it, attached to its tap
    The text that expect() searches is the serial output with CR removed (\\n ends a line).
    """

    def __init__(self, name: str = "guest", log_dir: str | None = None, echo: bool | None = None,
                 netns: NetNamespace | None = None, **options):
        self.netns = netns
        if netns is not None:
            options.setdefault("net", "tap")
            options.setdefault("tap_if", netns.tap)
        self.options = Options(**options)
        if self.options.arch != "x86_64" and not name.startswith(self.options.arch):
            name = f"{self.options.arch}-{name}"  # logs of both architectures side by side
        self.name = name
        self.log_dir = log_dir or os.environ.get("SKIFF_TEST_LOG_DIR") or os.path.join(BUILD_DIR, "test-logs")
        self.log_path = os.path.join(self.log_dir, f"{name}.log")
        self.echo = echo if echo is not None else os.environ.get("SKIFF_ECHO") == "1"
        self.accel, self.accel_reason = accel_for(self.options)
        self.command_line: list[str] = []
        self.process: subprocess.Popen | None = None
        self.started_at: float | None = None
        self.first_prompt_at: float | None = None  # seconds after started_at
        self.returncode: int | None = None
        self._text = ""  # everything received, CR removed
        self._pos = 0  # expect() searches from here
        self._stderr: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._log = None
        self._threads: list[threading.Thread] = []

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> "Guest":
        if self.netns is not None:
            # QEMU opens the tap from inside the namespace; `ip netns exec` execs it, so the PID
            # is QEMU's own and kill() and the death signal reach it.
            self.command_line, self.accel = self.qemu_argv(check_tap=False)
            self.command_line = self.netns.exec_prefix() + self.command_line
        else:
            self.command_line, self.accel = self.qemu_argv(warn=lambda m: self._stderr.append(f"warning: {m}\n"))
        os.makedirs(self.log_dir, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self._log.write(f"# {shlex.join(self.command_line)}\n# accel {self.accel} ({self.accel_reason})\n".encode())
        _install_cleanup()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(self.command_line, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        with _live_lock:
            _live_guests.add(self)
        for target in (self._read_serial, self._read_stderr):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def qemu_argv(self, warn=None, check_tap: bool = True) -> tuple[list[str], str]:
        """This guest's QEMU command line and accelerator (a subclass for another board replaces it)."""
        return qemu_command(self.options, "stdio", warn=warn, check_tap=check_tap)

    def __enter__(self) -> "Guest":
        return self.start()

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None and not isinstance(exc, GuestError):
            # GuestError messages already carry the log tail.
            print(self.report(), file=sys.stderr)
        self.kill()

    def kill(self) -> None:
        """Stops QEMU (if still running) and reaps it. Safe to call more than once."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass
        try:
            self.returncode = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for thread in self._threads:
            thread.join(timeout=2)
        with _live_lock:
            _live_guests.discard(self)
        if self._log and not self._log.closed:
            self._log.close()

    def _read_serial(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = self.process.stdout.fileno()
        window = ""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            now = time.monotonic()
            if self._log and not self._log.closed:
                self._log.write(chunk)
                self._log.flush()
            if self.echo and chunk:
                sys.stdout.buffer.write(chunk.replace(b"\r", b""))
                sys.stdout.flush()
            text = decoder.decode(chunk, final=not chunk).replace("\r", "")
            with self._cond:
                self._text += text
                if self.first_prompt_at is None:
                    window = (window + text)[-len(PROMPT) * 2:]
                    if PROMPT in window:
                        self.first_prompt_at = now - self.started_at
                if not chunk:
                    self._eof = True
                self._cond.notify_all()
            if not chunk:
                return

    def _read_stderr(self) -> None:
        for raw in iter(self.process.stderr.readline, b""):
            with self._cond:
                self._stderr.append(raw.decode(errors="replace"))

    # -- talking to the console ---------------------------------------------------------------

    def send(self, data: str | bytes) -> None:
        """Writes raw characters to the serial port. QEMU hands them to the 16550 only as its
        FIFO has room, so nothing is lost; keep single writes to short command lines."""
        if isinstance(data, str):
            data = data.encode()
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise GuestExited(self._failure("cannot send: QEMU has exited")) from None

    def send_line(self, line: str) -> None:
        """Types a line and presses Enter (CR, which ends a line in the kernel's line editor)."""
        self.send(line + "\r")

    def expect(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Waits until `pattern` (a regular expression) appears in the output after the previous
        match, and moves past it. Raises ExpectTimeout, or GuestExited if QEMU exits first."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search(self._text, self._pos)
                if match:
                    self._pos = match.end()
                    return match
                if self._eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ExpectTimeout(self._failure(f"no {regex.pattern!r} within {timeout:g} s"))
                self._cond.wait(left)
        status = self.wait_exit(timeout=5)
        raise GuestExited(self._failure(f"QEMU exited ({describe_status(status)[1]}) while waiting for "
                                        f"{regex.pattern!r}"))

    def expect_prompt(self, timeout: float = 10.0) -> str:
        """Waits for the prompt; returns everything printed before it (since the last match)."""
        start = self._pos
        match = self.expect(re.escape(PROMPT), timeout)
        return self._text[start:match.start()]

    def command(self, line: str, timeout: float = 10.0) -> str:
        """Runs one console command: types it, waits for the next prompt, and returns what the
        command printed (its echoed line removed, escapes and backspaces applied, CR removed).
        Call after a prompt."""
        self.send_line(line)
        output = clean_text(self.expect_prompt(timeout))
        first, newline, rest = output.partition("\n")
        if not newline or line.strip() not in first:
            raise GuestError(self._failure(f"the console did not echo {line!r} (got {first!r})"))
        return rest

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Waits for QEMU to exit and returns its status (see guest_code for the guest's code)."""
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExpectTimeout(self._failure(f"QEMU still running {timeout:g} s after it should have exited")) from None
        return self.returncode

    @property
    def guest_code(self) -> int | None:
        """The value the guest wrote to isa-debug-exit, when QEMU exited through it."""
        if self.returncode is None or self.returncode <= 0 or not self.returncode & 1:
            return None
        return self.returncode >> 1

    # -- what happened ------------------------------------------------------------------------

    @property
    def output(self) -> str:
        """Everything the guest printed so far (CR removed)."""
        with self._cond:
            return self._text

    def qemu_stderr(self) -> str:
        with self._cond:
            return "".join(self._stderr)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.rstrip("\n").split("\n")[-lines:])

    def report(self, lines: int = 40) -> str:
        parts = [f"---- {self.name}: last {lines} lines of the serial log (all of it: {self.log_path}) ----",
                 self.tail(lines)]
        stderr = self.qemu_stderr().strip()
        if stderr:
            parts += ["---- QEMU stderr ----", stderr]
        parts.append(f"---- QEMU: {shlex.join(self.command_line)}")
        return "\n".join(parts)

    def _failure(self, message: str) -> str:
        return f"{self.name}: {message}\n{self.report()}"


if __name__ == "__main__":
    sys.exit(main())
