#!/usr/bin/python3
"""The Linux reference guest (qemu/linux/) driven like Skiff: same QEMU command line builder, same
serial-console driver, same namespace and tap. Only the image and the console differ.

    from linuxguest import LinuxGuest
    with NetNamespace() as ns, LinuxGuest(netns=ns, nic="e1000") as linux:
        print(linux.wait_ready())                 # "kernel 6.1.0-N-amd64, eth0 driver e1000, ..."
        rc, out = linux.run("iperf -c 10.0.2.2 -l 8192 -n 16M", timeout=120)
        linux.poweroff()

`LinuxGuest` is a `skiffqemu.Guest` (so QEMU is started, logged and always killed exactly as for
Skiff) whose kernel is Debian's vmlinuz and whose -initrd is the image qemu/linux/build makes (built
or found up to date when the guest is created). The kernel command line carries the words Skiff
reads — ip=10.0.2.15/24 gw=10.0.2.2, and mtu=N when asked — which the image's /init applies.

The console is a busybox shell (prompt `linux# `). `run(line)` types the line followed by a printf
of its exit status and returns (status, output); a command that does not finish in time is
interrupted with Ctrl-C, and the guest is reported wedged if even that does not bring the prompt
back. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "linux"))

import guestimage  # noqa: E402
from skiffqemu import (ExpectTimeout, Guest, GuestError, OptionError, clean_text, kernel_command_line,  # noqa: E402
                       nic_arguments)

LINUX_PROMPT = "linux# "
# Same memory for both guests in every comparison: Debian's 6.1 kernel does not boot in Skiff's
# usual 32 MiB (with 32 and 64 MiB QEMU resets before the first console line; 96 MiB boots).
LINUX_MEM = "256M"
READY = re.compile(r"linux-guest: ready: ([^\n]*)\n")
STATUS = re.compile(r"@@rc=(\d+)@@\n")
# Typed after every command; the echoed line shows `%s`, so only the real output matches STATUS.
STATUS_PRINTF = "printf '@@rc=%s@@\\n' $?"


class LinuxGuest(Guest):
    """Keyword arguments are those of skiffqemu.Guest (nic, mem, netns, log_dir, name, extra, ...),
    plus:
      image_dir    -- where qemu/linux/build keeps the image (default build/linux-guest)
      mtu          -- eth0's MTU (passed as mtu=N; the init script sets it before bringing eth0 up)
      extra_files  -- {guest path: host path}: a second archive appended to the initramfs (the host's
                      ttcp for the loss benchmark); each file's shared libraries come with it
                      (amd64 only: they are found with the host's ldd)
      arch         -- "amd64" (default: qemu-system-x86_64, the same command line as Skiff's) or
                      "arm64" (qemu-system-aarch64 -M virt -cpu cortex-a72, TCG; for a comparison
                      with an AArch64 Skiff; same NIC arguments, tap and addresses)
    Default memory: LINUX_MEM."""

    def __init__(self, name: str = "linux", image_dir: str | None = None, mtu: int | None = None,
                 extra_files: dict[str, str] | None = None, append: str = "", arch: str = "amd64", **options):
        self.arch = arch
        self.image_dir = os.path.abspath(image_dir or guestimage.ARCHES[arch].out)
        self.manifest = guestimage.build(self.image_dir, quiet=True, arch=arch)
        initrd = os.path.join(self.image_dir, "initramfs.cpio.gz")
        if extra_files:
            initrd = self._with_extra(initrd, extra_files)
        words = [f"console={guestimage.ARCHES[arch].console}", "quiet"] + ([f"mtu={mtu}"] if mtu else []) + append.split()
        options.setdefault("mem", LINUX_MEM)
        super().__init__(name=name, kernel=os.path.join(self.image_dir, "vmlinuz"), initrd=initrd,
                         append=" ".join(words), **options)
        self.ready_line: str | None = None

    def qemu_argv(self, warn=None, check_tap: bool = True) -> tuple[list[str], str]:
        if self.arch == "amd64":
            return super().qemu_argv(warn=warn, check_tap=check_tap)
        return aarch64_command(self.options, warn or (lambda message: None), check_tap)

    def _with_extra(self, base: str, files: dict[str, str]) -> str:
        digest = hashlib.sha256()
        for guest_path, host_path in sorted(files.items()):
            digest.update(guest_path.encode() + b"\0")
            with open(host_path, "rb") as file:
                digest.update(hashlib.sha256(file.read()).digest())
        with open(base, "rb") as file:
            base_bytes = file.read()
        digest.update(hashlib.sha256(base_bytes).digest())
        path = os.path.join(self.image_dir, f"initramfs-extra-{digest.hexdigest()[:16]}.cpio.gz")
        if not os.path.exists(path):
            # The kernel unpacks concatenated archives one after the other.
            with open(path + ".tmp", "wb") as file:
                file.write(base_bytes + guestimage.extra_archive(files))
            os.replace(path + ".tmp", path)
        return path

    # -- the console --------------------------------------------------------------------------

    def wait_ready(self, timeout: float = 180.0) -> str:
        """Waits for the init script's ready line and the first prompt; returns the ready line
        (kernel release, eth0's driver, address and MTU). Sets first_prompt_at (boot time)."""
        match = self.expect(READY, timeout)
        self.ready_line = match.group(1)
        self.expect_prompt(timeout=30)
        if self.first_prompt_at is None and self.started_at is not None:
            self.first_prompt_at = time.monotonic() - self.started_at
        return self.ready_line

    def expect_prompt(self, timeout: float = 10.0) -> str:
        start = self._pos
        match = self.expect(re.escape(LINUX_PROMPT), timeout)
        return self._text[start:match.start()]

    def run(self, line: str, timeout: float = 30.0, interrupt_wait: float = 15.0) -> tuple[int | None, str]:
        """Runs one shell command line; returns (exit status, what it printed). If it does not end
        within `timeout`, Ctrl-C is sent and (None, output so far) is returned; if the prompt does not
        come back within `interrupt_wait` after that, GuestError (the guest is wedged)."""
        return self.finish(self.begin(line), timeout, interrupt_wait)

    def begin(self, line: str) -> int:
        """Types a command line (with the status printf) and returns at once; finish() waits."""
        separator = " " if line.rstrip().endswith("&") else "; "
        start = self._pos
        self.send_line(line + separator + STATUS_PRINTF)
        return start

    def finish(self, start: int, timeout: float = 30.0, interrupt_wait: float = 15.0) -> tuple[int | None, str]:
        """Waits for the command begin() typed; as run()."""
        try:
            match = self.expect(STATUS, timeout)
        except ExpectTimeout:
            text = clean_text(self.output[start:])
            self.send("\x03")
            try:
                self.expect_prompt(timeout=interrupt_wait)
            except ExpectTimeout:
                raise GuestError(self._failure(f"a command ran past {timeout:g} s and Ctrl-C did not bring the "
                                               f"prompt back within {interrupt_wait:g} s")) from None
            return None, _without_echo(text)
        text = clean_text(self._text[start:match.start()])
        self.expect_prompt(timeout=10)
        return int(match.group(1)), _without_echo(text)

    def command(self, line: str, timeout: float = 30.0) -> str:
        """Like Guest.command: the output of a command that must succeed."""
        status, output = self.run(line, timeout)
        if status != 0:
            raise GuestError(self._failure(f"`{line}` exited {status}:\n{output}"))
        return output

    def poweroff(self, timeout: float = 30.0) -> None:
        """`poweroff -f` (ACPI power-off: QEMU exits with status 0); killed if it does not."""
        try:
            self.send_line("poweroff -f")
            self.wait_exit(timeout=timeout)
        except GuestError:
            self.kill()

    def wait_listening(self, port: int, timeout: float = 30.0) -> None:
        """Waits until a TCP socket listens on `port` in the guest (a server started with `&` takes
        a moment to load under TCG)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            status, _ = self.run(f"netstat -ltn | grep -q ':{port} '", timeout=20)
            if status == 0:
                return
            time.sleep(0.3)
        raise GuestError(self._failure(f"nothing listens on TCP port {port} after {timeout:g} s"))

    # -- reports ------------------------------------------------------------------------------

    def offloads(self) -> dict[str, str]:
        """eth0's offload state as `ethtool -k` reports it: {feature: "on"/"off" (+ " [fixed]")}."""
        output = self.command("ethtool -k eth0", timeout=20)
        features = {}
        for line in output.splitlines():
            match = re.match(r"^\s*([a-z0-9-]+): (on|off)( \[fixed\])?", line)
            if match:
                features[match.group(1)] = match.group(2) + (match.group(3) or "")
        return features

    def mtu(self) -> int:
        return int(self.command("cat /sys/class/net/eth0/mtu", timeout=10).strip())

    def interface_counters(self) -> dict[str, int]:
        """eth0's line of /proc/net/dev: rx/tx bytes, packets, errors, drops."""
        output = self.command("cat /proc/net/dev", timeout=10)
        for line in output.splitlines():
            if line.strip().startswith("eth0:"):
                values = [int(v) for v in line.split(":", 1)[1].split()]
                names = ["rx_bytes", "rx_packets", "rx_errs", "rx_drop", "rx_fifo", "rx_frame", "rx_compressed",
                         "rx_multicast", "tx_bytes", "tx_packets", "tx_errs", "tx_drop", "tx_fifo", "tx_colls",
                         "tx_carrier", "tx_compressed"]
                return dict(zip(names, values))
        raise GuestError(self._failure(f"no eth0 in /proc/net/dev:\n{output}"))


def aarch64_command(options, warn, check_tap: bool) -> tuple[list[str], str]:
    """The arm64 guest's QEMU command line: Arm's virt board (PCI through its generic host bridge,
    so the same e1000 / ne2k_pci devices), a Cortex-A72, TCG (an x86 host cannot run it otherwise),
    the PL011 as the serial console on stdio; the NIC arguments are Skiff's (`nic_arguments`)."""
    if options.nic == "ne2k":
        raise OptionError("the virt board has no ISA bus: use e1000 or ne2k-pci")
    if not shutil.which("qemu-system-aarch64"):
        raise OptionError("qemu-system-aarch64 is not installed (Debian package qemu-system-arm)")
    argv = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a72", "-accel", "tcg", "-m", options.mem,
            "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", options.kernel, "-initrd", options.initrd, "-append", kernel_command_line(options)]
    argv += nic_arguments(options, warn, check_tap) + list(options.extra)
    return argv, "tcg"


def _without_echo(text: str) -> str:
    """The output of a command: what follows the echoed command line."""
    _, newline, rest = text.partition("\n")
    return rest if newline else ""
