"""Skiff measured beside the Linux reference guest in one run: `qemu/bench --linux` (throughput) and
`qemu/bench --loss` (transfers through random loss). docs/benchmarks.md describes the method.

Both guests boot with the same QEMU command line builder (skiffqemu.qemu_command): same machine,
accelerator, memory, NIC model and MAC, tap in a network namespace of our own at 10.0.2.2/24, guest
10.0.2.15. Per repetition each guest boots once per NIC and runs every case; the order of the two
guests alternates from one repetition to the next (Skiff first, then Linux first, ...), so slow
drifts of the host's load fall on both alike. Every ratio printed divides two medians of this run.

Standard library only; run by qemu/bench (root, like the `net` tests).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from linuxguest import LINUX_MEM, LinuxGuest  # noqa: E402
from skiffqemu import Guest, GuestError, NetNamespace, choose_accel, clean_text  # noqa: E402

GUEST = "10.0.2.15"
HOST = "10.0.2.2"
TAP = "skiffbench"
SINK_PORT = 5001  # Skiff's boot-time sink service; the Linux guest's `iperf -s`
GUEST_PORT = 5010  # a guest `ttcp -r` (loss benchmark)
HOST_PORT = 5011  # the host's receiver (iperf -s or ttcp -r)
LINUX_NICS = ("e1000", "ne2k-pci")  # Debian's amd64 kernel has no ISA NE2000 driver

SUMMARY = re.compile(r"^ttcp-(?P<side>[tr]): (?P<bytes>\d+) bytes in (?P<seconds>\d+\.\d\d) real seconds = "
                     r"(?P<rate>\d+\.\d\d) KB/sec \+\+\+$", re.M)
DIGEST = re.compile(r"^ttcp-(?P<side>[tr]): sha256 (?P<hex>[0-9a-f]{64}) \((?P<bytes>\d+) bytes\)$", re.M)


# --------------------------------------------------------------------------------------------
# Output: the terminal, the raw log and the results file


class Recorder:
    """Everything printed goes to the terminal and to <dir>/bench.log; raw() adds a section of raw
    tool or console output to <dir>/raw.log; results.json is rewritten after every measurement, so
    an interrupted run keeps what it measured."""

    def __init__(self, directory: str, mode: str, argv: list[str]):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.serial_dir = os.path.join(directory, "serial")
        self.log = open(os.path.join(directory, "bench.log"), "a", encoding="utf-8")
        self.raw_log = open(os.path.join(directory, "raw.log"), "a", encoding="utf-8")
        self.results = {"mode": mode, "command": shlex.join(argv), "started": now_iso(), "system": {},
                        "measurements": [], "summary": [], "notes": []}

    def say(self, message: str = "") -> None:
        print(message, flush=True)
        self.log.write(message + "\n")
        self.log.flush()

    def raw(self, title: str, text: str) -> None:
        self.raw_log.write(f"===== {now_iso()} {title}\n{text.rstrip()}\n\n")
        self.raw_log.flush()

    def note(self, message: str) -> None:
        self.results["notes"].append(message)
        self.say(f"note: {message}")

    def add(self, measurement: dict) -> None:
        measurement.setdefault("time", now_iso())
        measurement.setdefault("load", round(os.getloadavg()[0], 2))
        self.results["measurements"].append(measurement)
        self.save()

    def save(self) -> None:
        path = os.path.join(self.directory, "results.json")
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(self.results, file, indent=1)
        os.replace(path + ".tmp", path)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def system_info(accel: str, linux_manifest: dict | None, mem: str) -> dict:
    def out(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    lscpu = out(["lscpu"])
    model = re.search(r"^Model name:\s*(.*)$", lscpu, re.M)
    commit = out(["git", "-C", ROOT, "rev-parse", "HEAD"]).strip()
    dirty = bool(out(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).strip())
    iperf = subprocess.run(["iperf", "-v"], capture_output=True, text=True)
    iperf_version = (iperf.stdout + iperf.stderr).strip().splitlines()
    info = {
        "cpu_model": model.group(1).strip() if model else "?",
        "cpus": os.cpu_count(),
        "accelerator": accel,
        "qemu": (out(["qemu-system-x86_64", "--version"]).splitlines() or ["?"])[0],
        "commit": commit + ("-dirty" if dirty else ""),
        "host_kernel": platform.release(),
        "host_iperf": iperf_version[0] if iperf_version else "?",
        "guest_memory": mem,
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if linux_manifest:
        info["linux_guest"] = {
            "kernel": linux_manifest.get("kernel_package"),
            "packages": linux_manifest.get("inputs", {}).get("packages"),
            "initramfs_sha256": linux_manifest.get("initramfs_sha256"),
        }
    return info


def describe_system(info: dict) -> list[str]:
    lines = [f"CPU {info['cpu_model']} ({info['cpus']} CPUs), {info.get('guest_arch', 'x86_64')} guests, "
             f"accelerator {info['accelerator']}, {info['qemu']}",
             f"commit {info['commit']}, host kernel {info['host_kernel']}, host {info['host_iperf']}",
             f"guest memory {info['guest_memory']} for both guests, load average at start "
             + " ".join(f"{x:.2f}" for x in info["load_at_start"])]
    if "linux_guest" in info:
        packages = info["linux_guest"]["packages"] or {}
        lines.append("Linux guest: " + ", ".join(f"{name} {version}" for name, version in packages.items()))
    return lines


# --------------------------------------------------------------------------------------------
# Host tools


def iperf_csv_rows(text: str) -> list[dict]:
    """iperf 2's CSV report lines (-y C): interval start/end, bytes, bits per second."""
    rows = []
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) < 9 or "-" not in fields[6]:
            continue
        try:
            start, end = (float(x) for x in fields[6].split("-"))
            rows.append({"start": start, "end": end, "bytes": int(fields[7]), "mbit": int(fields[8]) / 1e6})
        except ValueError:
            continue
    return rows


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> tuple[str, str]:
    """Ends one of our own children (by its PID): SIGTERM, then SIGKILL; returns its output."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def wait_reachable(ns: NetNamespace, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ns.run(["ping", "-n", "-c", "1", "-W", "1", GUEST], timeout=10).returncode == 0:
            return True
    return False


def set_tap_mtu(ns: NetNamespace, mtu: int) -> None:
    result = ns.run(["ip", "link", "set", ns.tap, "mtu", str(mtu)])
    if result.returncode != 0:
        raise GuestError(f"ip link set {ns.tap} mtu {mtu}: {result.stderr.strip()}")


# --------------------------------------------------------------------------------------------
# The two guests behind one interface


class Side:
    """One guest kind (Skiff or Linux) in one namespace: boot, report, send, receive. The web-server
    benchmark's guests (benchhttpd.py) are Sides too, with their own warm-up."""

    kind = "?"

    def __init__(self, bench: "Bench", ns: NetNamespace, nic: str, name: str):
        self.bench, self.ns, self.nic, self.name = bench, ns, nic, name
        self.guest = None
        self.boots = 0
        self.needs_reboot = False
        self.info: dict = {}

    def label(self, variant: str = "") -> str:
        return self.kind + (f" {variant}" if variant else "")

    def ensure_up(self) -> None:
        if self.guest is not None and not self.needs_reboot and self.guest.process.poll() is None:
            return
        if self.guest is not None:
            self.bench.rec.say(f"  {self.kind}: booting again ({'after a stall or failure' if self.needs_reboot else 'QEMU had exited'})")
            self.stop()
        self.needs_reboot = False
        self.boots += 1
        started = time.monotonic()
        self.start()
        if not wait_reachable(self.ns, 60):
            raise GuestError(f"{self.kind} on {self.nic} does not answer ping")
        self.warm_up()
        self.info["boot_seconds"] = round(time.monotonic() - started, 1)
        detail = self.describe()
        self.bench.rec.say(f"  {self.kind}: up in {self.info['boot_seconds']} s" + (f"; {detail}" if detail else ""))

    def warm_up(self) -> None:
        # The same for both guests: ARP, the first connection, slow start of nothing measured.
        self.ns.run(["iperf", "-c", GUEST, "-p", str(SINK_PORT), "-t", "1"], timeout=60)

    def describe(self) -> str:
        return ""

    def stop(self) -> None:
        if self.guest is None:
            return
        try:
            self.bench.rec.raw(f"{self.name}: end-of-boot report", self.report())
        except (GuestError, OSError):
            pass
        self.poweroff()
        self.guest.kill()
        self.guest = None


class SkiffSide(Side):
    kind = "Skiff"
    kernel_index = 0  # which of the bench's kernels (--loss takes two: Skiff/1 and Skiff/2)

    def start(self) -> None:
        args = self.bench.args
        model, append = self.nic, []
        if self.nic.endswith("+io32") or self.nic.endswith("+io16"):
            model = self.nic[: -len("+io32")]
            append.append("ne2k_io32=1" if self.nic.endswith("+io32") else "ne2k_io32=0")
        if args.mtu:
            append.append(f"mtu={args.mtu}")
        self.guest = Guest(name=f"{self.name}-{self.boots}", netns=self.ns, nic=model, kernel=self.bench.kernels[self.kernel_index],
                           log_dir=self.bench.rec.serial_dir, mem=args.mem, append=" ".join(append))
        self.guest.start()
        self.guest.expect_prompt(timeout=120)
        ifconfig = self.guest.command("ifconfig", timeout=20)
        match = re.search(r"\bmtu (\d+)", ifconfig)
        self.info["mtu"] = int(match.group(1)) if match else None
        self.bench.rec.raw(f"{self.name}: ifconfig after boot", ifconfig)

    def describe(self) -> str:
        return f"ifconfig says mtu {self.info.get('mtu')}"

    def report(self) -> str:
        return self.guest.command("nicstat", timeout=20) + self.guest.command("ifconfig", timeout=20)

    def poweroff(self) -> None:
        try:
            self.guest.send_line("poweroff 0")
            self.guest.wait_exit(timeout=20)
        except GuestError:
            pass

    def send(self, length: int, total: int, port: int, variant: str, timeout: float,
             hashed: bool = False) -> tuple[bool, str]:
        """The guest's ttcp transmitter: -s pattern, -l length, total bytes, -z variant."""
        zc = variant.split("=", 1)[1]
        line = (f"ttcp -t -s {'-H ' if hashed else ''}-z {zc} -l {length} -n {total // length} -p {port} {HOST}")
        try:
            output = self.guest.command(line, timeout=timeout)
        except GuestError as failure:
            self.needs_reboot = True
            return False, f"{line}: {str(failure)[:2000]}"
        return True, f"skiff> {line}\n{output}"

    def start_receiver(self, seed: int, variant: str) -> str:
        zc = variant.split("=", 1)[1]
        line = f"ttcp -r -s -H -R {seed} -z {zc} -p {GUEST_PORT}"
        self.receiver_start = len(self.guest.output)
        self.guest.send_line(line)
        self.guest.expect(r"ttcp-r: buflen=", timeout=20)
        time.sleep(0.5)  # the banner comes just before the socket listens
        return line

    def wait_receiver(self, timeout: float) -> tuple[bool, str]:
        try:
            self.guest.expect_prompt(timeout=timeout)
        except GuestError:
            self.needs_reboot = True
            return False, clean_text(self.guest.output[self.receiver_start:])
        return True, clean_text(self.guest.output[self.receiver_start:])


class LinuxSide(Side):
    kind = "Linux"

    def start(self) -> None:
        args = self.bench.args
        extra = {"/usr/bin/ttcp": self.bench.ttcp} if self.bench.mode == "loss" else None
        self.guest = LinuxGuest(name=f"{self.name}-{self.boots}", netns=self.ns, nic=self.nic.split("+")[0], mem=args.mem,
                                mtu=args.mtu, log_dir=self.bench.rec.serial_dir, extra_files=extra,
                                arch=self.bench.linux_arch())
        self.guest.start()
        self.info["ready"] = self.guest.wait_ready(timeout=240)
        self.info["mtu"] = self.guest.mtu()
        offloads = self.guest.offloads()
        self.info["offloads"] = {k: v for k, v in offloads.items() if not v.endswith("[fixed]")}
        self.guest.command(f"iperf -s -p {SINK_PORT} >/tmp/iperf-s.log 2>&1 &", timeout=10)
        self.guest.wait_listening(SINK_PORT)
        self.bench.rec.raw(f"{self.name}: ready", self.info["ready"] + "\n" + json.dumps(offloads, indent=1))

    def describe(self) -> str:
        offloads = self.info.get("offloads", {})
        shown = ", ".join(f"{k} {offloads[k]}" for k in ("tcp-segmentation-offload", "scatter-gather",
                                                          "tx-checksumming", "rx-checksumming") if k in offloads)
        return f"{self.info.get('ready')}; {shown}"

    def report(self) -> str:
        return self.guest.command("cat /proc/net/dev; ethtool -S eth0 2>&1 | head -40", timeout=20)

    def poweroff(self) -> None:
        self.guest.poweroff()

    def send(self, length: int, total: int, port: int, variant: str, timeout: float,
             hashed: bool = False) -> tuple[bool, str]:
        if hashed:
            # The loss benchmark: the same ttcp core as the host tool (and as Skiff's console command).
            line = f"ttcp -t -s -H -l {length} -n {total // length} -p {port} {HOST}"
        else:
            line = f"iperf -c {HOST} -p {port} -l {length} -n {total}"
        guarded = f"timeout {int(timeout)} {line}"
        try:
            status, output = self.guest.run(guarded, timeout=timeout + 15)
        except GuestError as failure:
            self.needs_reboot = True
            return False, f"{guarded}: {str(failure)[:2000]}"
        if status != 0:
            self.needs_reboot = True
            return False, f"linux# {guarded}\n{output}(exit status {status}{': timed out' if status in (124, 143) else ''})"
        return True, f"linux# {guarded}\n{output}"

    def start_receiver(self, seed: int, variant: str) -> str:
        # In the background, so the console can see it listen before the host connects.
        line = f"ttcp -r -s -H -R {seed} -p {GUEST_PORT}"
        self.guest.command(f"{line} >/tmp/ttcp-r.log 2>&1 &", timeout=10)
        self.guest.wait_listening(GUEST_PORT)
        return line

    def wait_receiver(self, timeout: float) -> tuple[bool, str]:
        try:
            status, output = self.guest.run("wait $!; s=$?; cat /tmp/ttcp-r.log; (exit $s)", timeout=timeout)
            if status is None:
                self.guest.run("kill $!; cat /tmp/ttcp-r.log", timeout=20)
        except GuestError as failure:
            self.needs_reboot = True
            return False, str(failure)[:2000]
        if status != 0:
            self.needs_reboot = True
        return status == 0, output


# --------------------------------------------------------------------------------------------
# The benchmark


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if value is not None else "-"


class Bench:
    def __init__(self, args, kernels: list[str], ttcp: str, mode: str, argv: list[str]):
        self.args, self.kernels, self.ttcp, self.mode = args, kernels, ttcp, mode
        self.kernel = kernels[0]
        self.rec = Recorder(args.out, mode, argv)
        self.failed = False
        # One Skiff kernel: "Skiff". Several (--loss: a before/after in one run): Skiff/1, Skiff/2, ...
        if len(kernels) == 1:
            self.skiff_kinds = [SkiffSide]
        else:
            self.skiff_kinds = [type(f"SkiffSide{i + 1}", (SkiffSide,), {"kind": f"Skiff/{i + 1}", "kernel_index": i})
                                for i in range(len(kernels))]

    def order(self, rep: int) -> list[type]:
        """Which guest goes first rotates, repetition by repetition."""
        sides = self.skiff_kinds + [LinuxSide]
        turn = rep % len(sides)
        return sides[turn:] + sides[:turn]

    def variants(self, side: Side) -> list[str]:
        return [f"zc={zc}" for zc in self.args.zc] if side.kind.startswith("Skiff") else [""]

    def header(self, accel: str, manifest: dict) -> None:
        info = system_info(accel, manifest, self.args.mem)
        info["guest_arch"] = getattr(self.args, "arch", "x86_64")
        if info["guest_arch"] == "aarch64":
            info["accelerator"] = "tcg (aarch64 guests on an x86-64 host; -M virt -cpu cortex-a72 for both)"
        self.rec.results["system"] = info
        for line in describe_system(info):
            self.rec.say(line)
        self.rec.say(f"results: {self.rec.directory}/results.json, log bench.log, raw output raw.log, serial logs serial/")
        self.rec.save()

    def record_namespace(self, ns: NetNamespace) -> None:
        """The host side's TCP settings inside the namespace (they drive every host->guest sender),
        recorded once."""
        system = self.rec.results["system"]
        if "host_tcp" in system:
            return
        settings = {}
        for name in ("tcp_congestion_control", "tcp_rmem", "tcp_wmem", "tcp_sack", "tcp_timestamps"):
            result = ns.run(["cat", f"/proc/sys/net/ipv4/{name}"])
            settings[name] = " ".join(result.stdout.split()) if result.returncode == 0 else "?"
        system["host_tcp"] = settings
        self.rec.say("host TCP in the namespace: " + ", ".join(f"{k} {v}" for k, v in settings.items()))

    def linux_manifest(self) -> dict:
        import guestimage
        return guestimage.build(quiet=False, arch=self.linux_arch())

    def linux_arch(self) -> str:
        """Debian's name for the Linux guest's architecture: the one Skiff's image is built for."""
        return "arm64" if getattr(self.args, "arch", "x86_64") == "aarch64" else "amd64"

    # -- throughput ----------------------------------------------------------------------------

    def megabytes(self, nic: str) -> int:
        return self.args.megabytes or (64 if nic == "e1000" else 16)

    def g2h(self, side: Side, length: int, variant: str) -> dict:
        """Guest -> host into `iperf -s` (the host's figure), the same bytes and write size both."""
        total = self.megabytes(side.nic) * 1024 * 1024
        limit = 30 + total * 8 / 5e6  # at least 5 Mbit/s, or it is a stall
        server = side.ns.popen(["iperf", "-s", "-p", str(HOST_PORT), "-y", "C"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.7)
            ok, output = side.send(length, total, HOST_PORT, variant, limit)
            time.sleep(1.0)  # iperf -s prints its line when the connection has closed
        finally:
            csv, errors = stop_process(server)
        self.rec.raw(f"{side.name} g2h -l {length} {variant}", output + "\n--- host iperf -s ---\n" + csv + errors)
        rows = iperf_csv_rows(csv)
        result = {"direction": "g2h", "write": length, "bytes_sent": total}
        if rows:
            result.update(bytes=rows[-1]["bytes"], mbit=rows[-1]["mbit"], seconds=rows[-1]["end"])
        if not ok or not rows or rows[-1]["bytes"] < total - 4:
            result["error"] = ("the transfer did not complete" if not ok else
                               f"iperf -s counted {rows[-1]['bytes'] if rows else 0} of {total} bytes")
            result["detail"] = output[-600:]
            result["mbit"] = None
        return result

    def h2g(self, side: Side, length: int) -> dict:
        """Host `iperf -c -l length -t T -i 1` into the guest's sink (the host's figure); the
        per-second reports show a stall."""
        seconds = self.args.time
        argv = ["iperf", "-c", GUEST, "-p", str(SINK_PORT), "-l", str(length), "-t", str(seconds), "-i", "1", "-y", "C"]
        process = side.ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        hung = False
        try:
            out, err = process.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            hung = True
            out, err = stop_process(process)
        self.rec.raw(f"{side.name} h2g -l {length}: {shlex.join(argv)}", out + err)
        rows = iperf_csv_rows(out)
        # Whole one-second reports only: the last report before the total covers the closing
        # fraction of a second (10.0-10.3) and says nothing about a stall.
        per_second = [r for r in rows if 0.99 <= r["end"] - r["start"] <= 1.01]
        whole = [r for r in rows if r["start"] == 0.0 and r["end"] - r["start"] > 1.01]
        rates = [r["mbit"] for r in per_second]
        stalls = sum(1 for rate in rates if rate < 1.0)
        result = {"direction": "h2g", "write": length, "per_second": [round(r, 1) for r in rates],
                  "stalled_seconds": stalls, "lowest_second": round(min(rates), 1) if rates else None}
        if whole:
            result.update(bytes=whole[-1]["bytes"], mbit=whole[-1]["mbit"], seconds=whole[-1]["end"])
        else:
            result["mbit"] = None
            result["error"] = "iperf -c printed no whole-run report" + (" (killed: hung)" if hung else "")
        if hung:
            result["error"] = result.get("error", "") or f"iperf -c still running {seconds + 30} s after start (killed)"
        if stalls or hung or not whole:
            side.needs_reboot = True  # the next case gets a fresh guest
            if stalls:
                result["stall"] = f"{stalls} of {len(rates)} seconds below 1 Mbit/s"
        return result

    def throughput_cases(self, side: Side) -> list[tuple]:
        cases = []
        # Guest -> host first: a receive stall (h2g) must not spoil a send measurement.
        for length in self.args.write:
            for variant in self.variants(side):
                cases.append(("g2h", length, variant))
        for length in self.args.write:
            cases.append(("h2g", length, ""))
        return cases

    def run_throughput(self) -> int:
        args = self.args
        manifest = self.linux_manifest()
        self.header(choose_accel()[0], manifest)
        self.rec.say(f"cases: guest->host `ttcp -t -s -l L` (Skiff, zc={','.join(args.zc)}) / `iperf -c -l L` (Linux), "
                     f"{', '.join(f'{n}: {self.megabytes(n)} MiB' for n in args.nic)}, into host `iperf -s`; "
                     f"host->guest `iperf -c -l L -t {args.time}` into the sink; L = "
                     + ", ".join(str(length) for length in args.write) + (f"; MTU {args.mtu}" if args.mtu else ""))
        for nic in args.nic:
            for rep in range(args.reps):
                self.rec.say(f"{nic}: repetition {rep + 1}/{args.reps}, load {os.getloadavg()[0]:.1f}")
                for kind in self.order(rep):
                    self.run_side(kind, nic, rep)
        self.summarize_throughput()
        return 1 if self.failed else 0

    def run_side(self, kind: type, nic: str, rep: int) -> None:
        with NetNamespace(tap=TAP) as ns:
            if self.args.mtu:
                set_tap_mtu(ns, self.args.mtu)
            self.record_namespace(ns)
            side = kind(self, ns, nic, f"{kind.kind.lower().replace('/', '')}-{nic}-r{rep + 1}")
            try:
                for direction, length, variant in self.throughput_cases(side):
                    try:
                        side.ensure_up()
                    except (GuestError, subprocess.TimeoutExpired, OSError) as failure:
                        self.failed = True
                        self.rec.note(f"{side.name}: could not boot: {str(failure)[:1500]}")
                        return
                    if direction == "g2h":
                        result = self.g2h(side, length, variant)
                    else:
                        result = self.h2g(side, length)
                    result.update(nic=nic, rep=rep + 1, guest=side.kind, variant=variant, mtu=side.info.get("mtu"),
                                  boot=side.boots)
                    self.rec.add(result)
                    shown = f"{result['mbit']:.1f} Mbit/s" if result.get("mbit") is not None else "FAILED"
                    extra = ""
                    if direction == "h2g" and result.get("per_second"):
                        extra = f" (lowest second {fmt(result['lowest_second'])})"
                    if result.get("stall"):
                        extra += f"; STALL: {result['stall']}"
                    if result.get("error"):
                        extra += f"; {result['error']}"
                    self.rec.say(f"  {side.label(variant):14} {direction} -l {length:<6} {shown}{extra}")
            finally:
                side.stop()

    def summarize_throughput(self) -> None:
        args = self.args
        rows = []
        self.rec.say()
        self.rec.say(f"Medians of {args.reps} repetitions, Mbit/s (every repetition in brackets, x: failed, left out "
                     "of the median; *: had seconds below 1 Mbit/s, kept); ratio = Skiff median / Linux median, both "
                     "from this run.")
        self.rec.say()
        self.rec.say("| NIC | direction | write | Linux | " + " | ".join(f"Skiff zc={zc} | ratio" for zc in args.zc) + " |")
        self.rec.say("|---|---|---|---|" + "---|---|" * len(args.zc))
        measurements = self.rec.results["measurements"]
        for nic in args.nic:
            for direction in ("g2h", "h2g"):
                for length in args.write:
                    def select(guest: str, variant: str = "") -> list[dict]:
                        return [m for m in measurements if m["nic"] == nic and m["direction"] == direction
                                and m["write"] == length and m["guest"] == guest
                                and (variant == "" or m["variant"] == variant)]

                    def values(guest: str, variant: str = "") -> list:
                        return [m.get("mbit") for m in select(guest, variant)]
                    linux = values("Linux")
                    linux_ok = [v for v in linux if v is not None]
                    linux_median = median(linux_ok)
                    cells = [f"{fmt(linux_median)} ({runs(select('Linux'))})"]
                    entry = {"nic": nic, "direction": direction, "write": length, "linux_median": linux_median,
                             "linux_runs": linux}
                    # h2g: the same host command into Skiff's sink, whatever zc (the sink does not take -z).
                    for zc in args.zc:
                        skiff = values("Skiff", f"zc={zc}" if direction == "g2h" else "")
                        skiff_ok = [v for v in skiff if v is not None]
                        skiff_median = median(skiff_ok)
                        ratio = skiff_median / linux_median if (skiff_median and linux_median) else None
                        cells += [f"{fmt(skiff_median)} ({runs(select('Skiff', f'zc={zc}' if direction == 'g2h' else ''))})",
                                  f"{fmt(ratio, 2)}x" if ratio else "-"]
                        entry[f"skiff_zc_{zc}_median"] = skiff_median
                        entry[f"skiff_zc_{zc}_runs"] = skiff
                        entry[f"ratio_zc_{zc}"] = ratio
                        if direction == "h2g":
                            break
                    if direction == "h2g" and len(args.zc) > 1:
                        cells += ["(same sink)", ""] * (len(args.zc) - 1)
                    rows.append(entry)
                    label = "guest->host" if direction == "g2h" else "host->guest"
                    self.rec.say(f"| {nic} | {label} | {length} | " + " | ".join(cells) + " |")
        self.rec.results["summary"] = rows
        stalls = [m for m in measurements if m.get("stall")]
        for m in stalls:
            self.rec.note(f"{m['guest']} {m['nic']} repetition {m['rep']} host->guest -l {m['write']}: STALL, {m['stall']}; "
                          f"per second: {' '.join(fmt(x, 0) for x in m['per_second'])}")
        for m in measurements:
            if m.get("error") and not m.get("stall"):
                self.rec.note(f"{m['guest']} {m['nic']} repetition {m['rep']} {m['direction']} -l {m['write']} "
                              f"{m.get('variant', '')}: {m['error']}")
        mtus = sorted({(m["guest"], m["nic"], m.get("mtu")) for m in measurements})
        self.rec.say("MTU in use: " + ", ".join(f"{g} {n} {mtu}" for g, n, mtu in mtus)
                     + (f" (asked: {args.mtu})" if args.mtu else ""))
        for guest, nic, mtu in mtus:
            if mtu != (args.mtu or 1500):
                self.rec.note(f"{guest} used MTU {mtu} on {nic}, not the {args.mtu or 1500} asked: the {nic} rows "
                              "compare different MTUs")
        self.finish()

    def finish(self) -> None:
        self.rec.results["finished"] = now_iso()
        self.rec.results["system"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.rec.say(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                     f"results in {self.rec.directory}")
        self.rec.save()

    # -- loss ------------------------------------------------------------------------------------

    def run_loss(self) -> int:
        args = self.args
        manifest = self.linux_manifest()
        self.header(choose_accel()[0], manifest)
        total = args.loss_megabytes * 1024 * 1024
        self.rec.say(f"loss benchmark: {args.loss_megabytes} MiB each way per guest, write size {args.loss_write}, "
                     f"random loss {', '.join(f'{p}%' for p in args.loss)} of TCP segments both ways "
                     f"(nftables in the namespace), Skiff zc={','.join(args.zc)}, time limit {args.loss_timeout} s "
                     "per transfer; the same ttcp core sends and receives in both guests")
        if len(self.kernels) > 1:
            for kind, kernel in zip(self.skiff_kinds, self.kernels):
                self.rec.say(f"{kind.kind}: {kernel}")
        for nic in args.nic:
            for percent in args.loss:
                for rep in range(args.reps):
                    self.rec.say(f"{nic}: loss {percent}%, repetition {rep + 1}/{args.reps}, "
                                 f"load {os.getloadavg()[0]:.1f}")
                    for kind in self.order(rep):
                        self.loss_side(kind, nic, percent, rep, total)
        self.summarize_loss()
        return 1 if self.failed else 0

    def loss_side(self, kind: type, nic: str, percent: int, rep: int, total: int) -> None:
        with NetNamespace(tap=TAP) as ns:
            if self.args.mtu:
                set_tap_mtu(ns, self.args.mtu)
            no_gso(ns)
            self.record_namespace(ns)
            side = kind(self, ns, nic, f"{kind.kind.lower().replace('/', '')}-{nic}-loss{percent}-r{rep + 1}")
            try:
                for direction in ("h2g", "g2h"):
                    for variant in self.variants(side):
                        try:
                            side.ensure_up()
                        except (GuestError, subprocess.TimeoutExpired, OSError) as failure:
                            self.failed = True
                            self.rec.note(f"{side.name}: could not boot: {str(failure)[:1500]}")
                            return
                        set_nft_loss(ns, percent)
                        try:
                            result = self.lossy_transfer(side, direction, variant, total)
                        finally:
                            counts = nft_counts(ns)
                            set_nft_loss(ns, 0)
                        drops = counts.get("in_dropped", 0) + counts.get("out_dropped", 0)
                        seen = counts.get("in_seen", 0) + counts.get("out_seen", 0)
                        result.update(nic=nic, rep=rep + 1, guest=side.kind, variant=variant, loss=percent,
                                      nft=counts, nft_dropped=drops, mtu=side.info.get("mtu"))
                        if percent and drops == 0:
                            result["error"] = (result.get("error", "") + "; " if result.get("error") else "") + \
                                "the nft rule dropped nothing: no loss was injected"
                            result["ok"] = False
                        self.rec.add(result)
                        status = "ok, SHA-256 equal" if result["ok"] else f"FAILED: {result.get('error')}"
                        self.rec.say(f"  {side.label(variant):14} {direction} loss {percent}%: "
                                     f"{fmt(result.get('wall_seconds'))} s, receiver {result.get('bytes_received')} of "
                                     f"{total} bytes; nft dropped {drops} of {seen} TCP segments "
                                     f"({100 * drops / max(1, seen):.1f}%: to the guest {counts.get('out_dropped')}/"
                                     f"{counts.get('out_seen')}, from it {counts.get('in_dropped')}/"
                                     f"{counts.get('in_seen')}); {status}")
                        if not result["ok"]:
                            self.failed = True
            finally:
                side.stop()

    def lossy_transfer(self, side: Side, direction: str, variant: str, total: int) -> dict:
        length = self.args.loss_write
        limit = self.args.loss_timeout
        seed = 4242
        result = {"direction": direction, "write": length, "bytes_sent": total}
        started = time.monotonic()
        if direction == "h2g":
            line = side.start_receiver(seed, variant)
            argv = [self.ttcp, "-t", "-H", "-R", str(seed), "-l", str(length), "-n", str(total // length),
                    "-p", str(GUEST_PORT), GUEST]
            started = time.monotonic()
            sender = side.ns.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                _, sent_text = sender.communicate(timeout=limit)
            except subprocess.TimeoutExpired:
                _, sent_text = stop_process(sender)
            ok, received_text = side.wait_receiver(timeout=max(30.0, limit - (time.monotonic() - started)))
            result["wall_seconds"] = time.monotonic() - started
            self.rec.raw(f"{side.name} loss h2g {variant}: {shlex.join(argv)} / guest {line}",
                         "--- host ---\n" + sent_text + "\n--- guest ---\n" + received_text)
            sent_digest, received_digest = last(DIGEST, sent_text, "t"), last(DIGEST, received_text, "r")
            summary = last(SUMMARY, received_text, "r")
            seed_ok = f"payload matches seed {seed}: {total} bytes checked" in received_text
        else:
            receiver = side.ns.popen([self.ttcp, "-r", "-s", "-H", "-p", str(HOST_PORT)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(0.5)
                started = time.monotonic()
                ok, sent_text = side.send(length, total, HOST_PORT, variant, limit, hashed=True)
                try:
                    _, received_text = receiver.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    ok = False
                    _, received_text = stop_process(receiver)
            finally:
                if receiver.poll() is None:
                    stop_process(receiver)
            result["wall_seconds"] = time.monotonic() - started
            self.rec.raw(f"{side.name} loss g2h {variant}", "--- guest ---\n" + sent_text + "\n--- host ---\n"
                         + received_text)
            sent_digest, received_digest = last(DIGEST, sent_text, "t"), last(DIGEST, received_text, "r")
            summary = last(SUMMARY, received_text, "r")
            seed_ok = True
        result["bytes_received"] = int(summary.group("bytes")) if summary else None
        result["receiver_seconds"] = float(summary.group("seconds")) if summary else None
        result["sha256_sent"] = sent_digest.group("hex") if sent_digest else None
        result["sha256_received"] = received_digest.group("hex") if received_digest else None
        problems = []
        if not ok:
            problems.append(f"did not complete within {limit} s")
        if result["bytes_received"] != total:
            problems.append(f"receiver counted {result['bytes_received']} of {total} bytes")
        if not sent_digest or not received_digest or sent_digest.group("hex") != received_digest.group("hex"):
            problems.append("SHA-256 differs or is missing")
        if not seed_ok:
            problems.append("the receiver's seeded byte check failed")
        result["ok"] = not problems
        if problems:
            result["error"] = "; ".join(problems)
            side.needs_reboot = True
        return result

    def summarize_loss(self) -> None:
        args = self.args
        measurements = self.rec.results["measurements"]
        self.rec.say()
        self.rec.say(f"Seconds to move {args.loss_megabytes} MiB (host wall clock, transmitter start to the receiver's "
                     f"last byte), medians of {args.reps}; ratio = Linux / Skiff (above 1: Skiff finishes sooner).")
        self.rec.say()
        kinds = [k.kind for k in self.skiff_kinds]
        for index, kernel in enumerate(self.kernels):
            if len(kinds) > 1:
                self.rec.say(f"{kinds[index]}: {kernel}")
        self.rec.say("| NIC | loss | direction | Linux s | "
                     + " | ".join(f"{kind} zc={zc} s | ratio" for kind in kinds for zc in args.zc)
                     + " | nft dropped (median) |")
        self.rec.say("|---|---|---|---|" + "---|---|" * (len(args.zc) * len(kinds)) + "---|")
        rows = []
        for nic in args.nic:
            for percent in args.loss:
                for direction in ("h2g", "g2h"):
                    def select(guest: str, variant: str = "") -> list[dict]:
                        return [m for m in measurements if m["nic"] == nic and m["loss"] == percent
                                and m["direction"] == direction and m["guest"] == guest
                                and (not variant or m["variant"] == variant)]
                    linux = select("Linux")
                    linux_median = median([m["wall_seconds"] for m in linux if m["ok"]])
                    cells = [f"{fmt(linux_median)} ({seconds_runs(linux)})"]
                    entry = {"nic": nic, "loss": percent, "direction": direction, "linux_median_s": linux_median,
                             "linux_runs": [seconds_or_none(m) for m in linux]}
                    drops = [m["nft_dropped"] for m in linux]
                    for kind in kinds:
                        key = kind.lower().replace("/", "")
                        for zc in args.zc:
                            skiff = select(kind, f"zc={zc}")
                            drops += [m["nft_dropped"] for m in skiff]
                            skiff_median = median([m["wall_seconds"] for m in skiff if m["ok"]])
                            ratio = linux_median / skiff_median if (linux_median and skiff_median) else None
                            cells += [f"{fmt(skiff_median)} ({seconds_runs(skiff)})",
                                      f"{fmt(ratio, 2)}x" if ratio else "-"]
                            entry[f"{key}_zc_{zc}_median_s"] = skiff_median
                            entry[f"{key}_zc_{zc}_runs"] = [seconds_or_none(m) for m in skiff]
                            entry[f"ratio_linux_over_{key}_zc_{zc}"] = ratio
                    rows.append(entry)
                    label = "guest->host" if direction == "g2h" else "host->guest"
                    self.rec.say(f"| {nic} | {percent}% | {label} | " + " | ".join(cells)
                                 + f" | {fmt(median(drops), 0)} |")
        self.rec.results["summary"] = rows
        for m in measurements:
            if not m["ok"]:
                self.rec.note(f"{m['guest']} {m['nic']} loss {m['loss']}% {m['direction']} {m['variant']} "
                              f"repetition {m['rep']}: {m.get('error')}")
        self.finish()


def runs(measurements: list[dict]) -> str:
    """Every repetition's Mbit/s: `x` failed, `*` after a figure: that run had stalled seconds."""
    shown = []
    for m in measurements:
        value = m.get("mbit")
        shown.append((fmt(value, 0) if value is not None else "x") + ("*" if m.get("stall") else ""))
    return " ".join(shown) or "none"


def seconds_or_none(measurement: dict) -> float | None:
    return round(measurement["wall_seconds"], 2) if measurement["ok"] else None


def seconds_runs(measurements: list[dict]) -> str:
    return " ".join(fmt(m["wall_seconds"]) if m["ok"] else "x" for m in measurements) or "none"


def last(pattern: re.Pattern, text: str, side: str) -> re.Match | None:
    found = [m for m in pattern.finditer(text) if m.group("side") == side]
    return found[-1] if found else None


def set_nft_loss(ns: NetNamespace, percent: int) -> None:
    """Random loss of TCP segments both ways on the tap (`numgen random mod 100 < N drop`, nftables
    inside the namespace); a counter before the drop counts every TCP segment, one after it the
    dropped ones. 0 removes the table."""
    ns.run(["nft", "delete", "table", "inet", "skiffbenchloss"])
    if not percent:
        return
    rules = (f"table inet skiffbenchloss {{\n"
             f" chain in {{ type filter hook input priority 0; iifname \"{ns.tap}\" meta l4proto tcp counter; "
             f"iifname \"{ns.tap}\" meta l4proto tcp numgen random mod 100 < {percent} counter drop; }}\n"
             f" chain out {{ type filter hook output priority 0; oifname \"{ns.tap}\" meta l4proto tcp counter; "
             f"oifname \"{ns.tap}\" meta l4proto tcp numgen random mod 100 < {percent} counter drop; }}\n}}\n")
    result = ns.run(["nft", "-f", "-"], input=rules)
    if result.returncode != 0:
        raise GuestError(f"nft rules not accepted: {result.stderr.strip()}")


def nft_counts(ns: NetNamespace) -> dict:
    """{"in_seen", "in_dropped", "out_seen", "out_dropped"}: TCP segments from the guest (input) and
    to it (output) that reached the rules, and those the rules dropped."""
    result = ns.run(["nft", "list", "table", "inet", "skiffbenchloss"])
    counts = {}
    for chain, body in re.findall(r"chain (in|out) \{(.*?)\n\t\}", result.stdout, re.S):
        numbers = [int(n) for n in re.findall(r"counter packets (\d+)", body)]
        if len(numbers) == 2:
            counts[f"{chain}_seen"], counts[f"{chain}_dropped"] = numbers
    return counts


def no_gso(ns: NetNamespace) -> None:
    """One TCP segment per packet on the host's side of the tap. The host's TCP otherwise hands
    the tap GSO packets of up to 64 KiB, segmented only after the nftables output hook: a drop there
    would take a whole burst of segments, as many as the guest's window allowed, so the loss
    would differ between guests with different windows."""
    result = ns.run(["ip", "link", "set", ns.tap, "gso_max_segs", "1"])
    if result.returncode != 0:
        raise GuestError(f"ip link set {ns.tap} gso_max_segs 1: {result.stderr.strip()}")
