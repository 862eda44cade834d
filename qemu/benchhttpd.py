"""Skiff's web server measured beside Linux's in one run: `qemu/bench --httpd`. docs/benchmarks.md
describes the method.

The same files on both: the boot archive Skiff serves (build/.../www-large.tar: apps/httpd/www/ and
the generated test files) is unpacked on the host and put into the Linux reference guest's /www,
where busybox `httpd` serves it. Both guests boot with the same QEMU command line builder, memory,
NIC model and tap (in a network namespace of our own). Per NIC and repetition each guest boots once
and answers, from the host:

  small keep-alive   `ab -k -n N -c 32 http://10.0.2.15/about.txt` (834 bytes): requests/s
  small new conn.    `ab -n N -c 32 http://10.0.2.15/about.txt`: requests/s, a connection each
  16 MiB             `curl -o FILE http://10.0.2.15/test/16M.bin`, twice: MB/s (10^6 bytes/s),
                     the file's SHA-256 compared with the archive's; QEMU's CPU time over the
                     transfer (in CPUs) and how busy the host's CPUs were, to tell a guest-bound
                     transfer from a host-bound one

On ne2k-pci Skiff moves packet data 32 bits at a time (its default on the PCI card, as Linux's
ne2k-pci driver does on QEMU's RTL8029); `--nic ne2k-pci+io16` boots it with ne2k_io32=0 (16-bit
transfers). Linux is the same as on ne2k-pci.

The order of the two guests alternates from one repetition to the next; every ratio divides two
medians of this run. With --profile, after the measured cases Skiff runs each case once more under
`sample` (its statistical profiler) — not counted in the figures — and the profiles go to the raw
log and the results file.

With two kernels (`--kernel BEFORE.elf --kernel AFTER.elf`: a change to Skiff, before and after)
both run beside Linux in the same run, labelled Skiff/1 and Skiff/2 as in `--loss`, each with the
same cases (and profiles); the three guests take turns to go first, repetition by repetition, and
the summary adds Skiff/2 / Skiff/1. Each kernel's path and the git hash from its boot line go to
the results file, since an A/B's file names seldom say which commit is which.

With --mtu N, as in `qemu/bench --linux`: the tap gets MTU N, Skiff `mtu=N` on its command line and
the Linux guest `mtu=N` (its init sets eth0's MTU before bringing it up). Each guest's MTU is read
back after it boots (Skiff's ifconfig, Linux's /sys/class/net/eth0/mtu) and goes with each
measurement; one that differs from N (a NIC that does not take it: the NE2000 stops at 1500) is
noted, since its rows then compare different MTUs.

Standard library only; run by qemu/bench (root, like the `net` tests).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
import time

from benchlinux import GUEST, Recorder, Side, describe_system, fmt, median, set_tap_mtu, stop_process, system_info
from linuxguest import LinuxGuest
from skiffqemu import Guest, GuestError, NetNamespace, choose_accel, clean_text

TAP = "skiffhttpd"
SMALL = "/about.txt"
LARGE = "/test/16M.bin"
CONCURRENCY = 32
CASES = ("small keep-alive", "small new connection", "16 MiB")
UNITS = {"small keep-alive": "requests/s", "small new connection": "requests/s", "16 MiB": "MB/s"}

AB_RATE = re.compile(r"^Requests per second:\s+([\d.]+)", re.M)
AB_COMPLETE = re.compile(r"^Complete requests:\s+(\d+)", re.M)
AB_FAILED = re.compile(r"^Failed requests:\s+(\d+)", re.M)
AB_KEEPALIVE = re.compile(r"^Keep-Alive requests:\s+(\d+)", re.M)
AB_NON2XX = re.compile(r"^Non-2xx responses:\s+(\d+)", re.M)
# Skiff's boot line, "Skiff 0.1.0 (ec14ff4a1b2c) x86_64, ...": the hash is BuildInfo.cmake's (maybe
# "-dirty" or "unknown").
BOOT_LINE = re.compile(r"\bSkiff \d+(?:\.\d+)* \(([^()\s]+)\)")
# Skiff's ifconfig: "... mtu 9000 ...", read as benchlinux's SkiffSide reads it.
IFCONFIG_MTU = re.compile(r"\bmtu (\d+)")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def host_cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all the host's CPUs, from /proc/stat."""
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def unpack_archive(archive: str, directory: str) -> dict[str, dict]:
    """The archive's regular files under `directory`: {url path: {"path", "size", "sha256"}}."""
    files = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            path = os.path.join(directory, member.name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as file:
                file.write(data)
            files["/" + member.name] = {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return files


class HttpdSide(Side):
    """A guest serving the files: booted, warmed up and stopped as benchlinux's guests are."""

    def __init__(self, bench: "HttpdBench", ns: NetNamespace, nic: str, name: str):
        super().__init__(bench, ns, nic, name)
        self.mtu: int | None = None  # the MTU the guest uses, read back after boot (--mtu only)

    def warm_up(self) -> None:
        # The same for both: ARP, the server's first connection.
        self.ns.run(["curl", "-s", "-o", "/dev/null", "--max-time", "30", f"http://{GUEST}{SMALL}"], timeout=60)

    def describe(self) -> str:
        return f"MTU {self.mtu}" if self.bench.args.mtu else ""


class SkiffHttpd(HttpdSide):
    kind = "Skiff"
    kernel_index = 0  # which of the bench's kernels (two: Skiff/1 and Skiff/2)

    def start(self) -> None:
        args = self.bench.args
        # ne2k-pci+io16: the PCI NE2000 with 16-bit data-port transfers (ne2k_io32=0); Skiff's
        # default there is 32-bit, as Linux's ne2k-pci driver moves packet data on QEMU's RTL8029.
        model = self.nic.split("+")[0]
        append = ["ne2k_io32=0"] if self.nic.endswith("+io16") else []
        if args.mtu:
            append.append(f"mtu={args.mtu}")  # as --linux boots it
        # Every Skiff kernel serves the same archive: an A/B compares the kernels, not the files.
        self.guest = Guest(name=f"{self.name}-{self.boots}", netns=self.ns, nic=model,
                           kernel=self.bench.kernels[self.kernel_index], initrd=self.bench.archive,
                           log_dir=self.bench.rec.serial_dir, mem=args.mem, append=" ".join(append))
        self.guest.start()
        boot = self.guest.expect_prompt(timeout=120)
        self.bench.kernel_booted(self.kernel_index, boot)
        if not re.search(r"(?m)^httpd: serving", boot):
            raise GuestError(f"Skiff's web server did not start:\n{boot[-2000:]}")
        if args.mtu:
            # What Skiff took: a NIC whose range stops below N keeps its MTU (the boot log says so).
            ifconfig = self.guest.command("ifconfig", timeout=20)
            match = IFCONFIG_MTU.search(ifconfig)
            self.mtu = int(match.group(1)) if match else None
            self.bench.rec.raw(f"{self.name}: ifconfig after boot", ifconfig)

    def counters(self) -> str:
        return self.guest.command("httpd", timeout=30) + self.guest.command("zc stats", timeout=30)

    def report(self) -> str:
        return self.counters() + self.guest.command("ifconfig", timeout=20)

    def poweroff(self) -> None:
        try:
            self.guest.send_line("poweroff 0")
            self.guest.wait_exit(timeout=20)
        except GuestError:
            pass


class LinuxHttpd(HttpdSide):
    kind = "Linux"

    def start(self) -> None:
        args = self.bench.args
        # The initramfs unpacker makes no directories for an appended archive: the files arrive
        # flat in /tmp and move into /www (a rename on the same rootfs).
        files = sorted(self.bench.files.items())
        extra = {f"/tmp/www{index}": source["path"] for index, (_, source) in enumerate(files)}
        self.guest = LinuxGuest(name=f"{self.name}-{self.boots}", netns=self.ns, nic=self.nic.split("+")[0], mem=args.mem,
                                mtu=args.mtu, log_dir=self.bench.rec.serial_dir, extra_files=extra)
        self.guest.start()
        self.ready = self.guest.wait_ready(timeout=240)
        if args.mtu:
            self.mtu = self.guest.mtu()
        directories = sorted({os.path.dirname("/www" + url) for url, _ in files})
        moves = "; ".join(f"mv /tmp/www{index} /www{url}" for index, (url, _) in enumerate(files))
        self.guest.command(f"mkdir -p {' '.join(directories)}; {moves}", timeout=60)
        self.guest.command("httpd -p 80 -h /www", timeout=20)
        self.guest.wait_listening(80)
        self.bench.rec.raw(f"{self.name}: ready", self.ready + "\n" + self.guest.command("ls -lR /www", timeout=20))

    def report(self) -> str:
        return self.guest.command("cat /proc/net/dev; cat /proc/net/snmp | grep Tcp", timeout=20)

    def poweroff(self) -> None:
        self.guest.poweroff()


def network_loops(side: HttpdSide) -> int | None:
    """Skiff's network thread loops so far (`nicstat`), or None when the console does not say."""
    try:
        match = re.search(r"network thread: loops (\d+)", side.guest.command("nicstat", timeout=30))
    except GuestError:
        return None
    return int(match.group(1)) if match else None


class HttpdBench:
    def __init__(self, args, kernels: list[str], archive: str, argv: list[str]):
        self.args, self.kernels, self.archive = args, kernels, archive
        self.rec = Recorder(args.out, "httpd", argv)
        self.failed = False
        self.files: dict[str, dict] = {}
        self.workdir = tempfile.mkdtemp(prefix="skiff-benchhttpd-")
        # One Skiff kernel: "Skiff", and the output is what it has always been. Two (a before/after
        # in one run): Skiff/1 and Skiff/2, named as qemu/bench's other A/B runs name them.
        if len(kernels) == 1:
            self.skiff_kinds = [SkiffHttpd]
        else:
            self.skiff_kinds = [type(f"SkiffHttpd{i + 1}", (SkiffHttpd,), {"kind": f"Skiff/{i + 1}", "kernel_index": i})
                                for i in range(len(kernels))]
            self.rec.results["kernels"] = [{"guest": kind.kind, "path": os.path.abspath(kernel), "git_hash": None}
                                           for kind, kernel in zip(self.skiff_kinds, kernels)]
        # The progress lines' guest column: "Skiff " and "Linux " as before, wider for "Skiff/1".
        self.width = 1 + max(len(kind.kind) for kind in self.skiff_kinds + [LinuxHttpd])

    def order(self, rep: int) -> list[type]:
        """Which guest goes first rotates, repetition by repetition (with one kernel: alternates), so
        none always boots first onto a host that has just been quiet."""
        sides = self.skiff_kinds + [LinuxHttpd]
        turn = rep % len(sides)
        return sides[turn:] + sides[:turn]

    def kernel_booted(self, index: int, boot: str) -> None:
        """Keeps the git hash of a Skiff kernel's boot line (two kernels only: with one the results
        file stays as it has been)."""
        if len(self.kernels) < 2:
            return
        match = BOOT_LINE.search(clean_text(boot))
        entry = self.rec.results["kernels"][index]
        if match and entry["git_hash"] is None:
            entry["git_hash"] = match.group(1)
            self.rec.save()

    def describe_kernel(self, index: int) -> str:
        entry = self.rec.results["kernels"][index]
        return entry["path"] + (f" ({entry['git_hash']})" if entry["git_hash"] else " (no boot line seen)")

    # -- the cases -------------------------------------------------------------------------------

    def ab(self, side: HttpdSide, keep_alive: bool) -> dict:
        requests = self.args.requests
        argv = ["ab", "-n", str(requests), "-c", str(CONCURRENCY), "-s", "30"] + (["-k"] if keep_alive else []) \
            + [f"http://{GUEST}{SMALL}"]
        case = CASES[0] if keep_alive else CASES[1]
        result = {"case": case, "unit": UNITS[case], "command": shlex.join(argv)}
        # Skiff: how often its network thread went round per request (nicstat's loops, read before
        # and after): each loop reads the NIC's registers and walks every connection's timers, so
        # this is the per-request cost that the server's structure decides (docs/httpd.md).
        loops_before = network_loops(side) if isinstance(side, SkiffHttpd) else None
        try:
            run = side.ns.run(argv, timeout=600)
            output = run.stdout + run.stderr
        except subprocess.TimeoutExpired:
            output = "(ab did not finish in 600 s)"
            run = None
        self.rec.raw(f"{side.name}: {shlex.join(argv)}", output)
        loops_after = network_loops(side) if loops_before is not None else None
        if loops_before is not None and loops_after is not None:
            result["network_loops_per_request"] = round((loops_after - loops_before) / requests, 3)
        rate, complete, failed = AB_RATE.search(output), AB_COMPLETE.search(output), AB_FAILED.search(output)
        keep, non2xx = AB_KEEPALIVE.search(output), AB_NON2XX.search(output)
        result["keep_alive_requests"] = int(keep.group(1)) if keep else 0
        result["failed"] = int(failed.group(1)) if failed else None
        result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
        if run is None or run.returncode != 0 or not rate or not complete or int(complete.group(1)) != requests:
            result["value"] = None
            result["error"] = f"ab did not complete {requests} requests (exit {run.returncode if run else 'timeout'})"
            side.needs_reboot = True
        elif result["failed"] or result["non_2xx"]:
            result["value"] = None
            result["error"] = f"{result['failed']} failed, {result['non_2xx']} non-2xx of {requests}"
        else:
            result["value"] = float(rate.group(1))
        return result

    def large(self, side: HttpdSide) -> dict:
        source = self.files[LARGE]
        output = os.path.join(self.workdir, "got")
        argv = ["curl", "-s", "--max-time", "300", "-o", output, "-w", "%{http_code} %{size_download} %{time_total}",
                f"http://{GUEST}{LARGE}"]
        result = {"case": CASES[2], "unit": UNITS[CASES[2]], "command": shlex.join(argv)}
        # Where the time goes outside the guest: QEMU's CPU time over the transfer (its vCPU thread
        # and the device emulation: e1000 TSO, tap writes), and how busy the whole host was.
        qemu_before, host_before = process_cpu_seconds(side.guest.process.pid), host_cpu_times()
        try:
            run = side.ns.run(argv, timeout=330)
            fields = run.stdout.split()
        except subprocess.TimeoutExpired:
            run, fields = None, []
        qemu_after, host_after = process_cpu_seconds(side.guest.process.pid), host_cpu_times()
        digest = None
        if os.path.exists(output):
            with open(output, "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()
            os.unlink(output)
        self.rec.raw(f"{side.name}: {shlex.join(argv)}", (run.stdout + run.stderr) if run else "(timed out)")
        if run is None or run.returncode != 0 or len(fields) != 3 or fields[0] != "200":
            result.update(value=None, error=f"curl failed: {run.stdout.strip() if run else 'timeout'}")
            side.needs_reboot = True
            return result
        size, seconds = int(fields[1]), float(fields[2])
        result.update(bytes=size, seconds=seconds, sha256_equal=digest == source["sha256"])
        if qemu_before is not None and qemu_after is not None and seconds > 0:
            result["qemu_cpu"] = round((qemu_after - qemu_before) / seconds, 2)  # CPUs' worth, over curl's time
        busy, total = host_after[0] - host_before[0], host_after[1] - host_before[1]
        result["host_busy"] = round(busy / total, 2) if total else None  # of all the host's CPUs
        if size != source["size"] or digest != source["sha256"]:
            result.update(value=None, error=f"{size} bytes, SHA-256 {'equal' if digest == source['sha256'] else 'DIFFERS'}")
        else:
            result["value"] = size / seconds / 1e6
        return result

    def profile(self, side: SkiffHttpd) -> None:
        """One more run of each case with Skiff's `sample` profiler over it (not counted)."""
        for case in CASES:
            # Clients that outlast the sample (they are stopped once it is taken): ab for 10 s,
            # curl fetching the large file again and again on one connection.
            if case == CASES[2]:
                argv = ["curl", "-s"] + ["-o", "/dev/null", f"http://{GUEST}{LARGE}"] * 40
            else:
                argv = ["ab", "-t", "10", "-n", "10000000", "-c", str(CONCURRENCY), "-s", "30"] \
                    + (["-k"] if case == CASES[0] else []) + [f"http://{GUEST}{SMALL}"]
            process = side.ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(0.5)
                profile = clean_text(side.guest.command("sample 2", timeout=60))
            except GuestError as failure:
                profile = f"(sample failed: {str(failure)[:500]})"
                side.needs_reboot = True
            finally:
                out, err = stop_process(process, grace=120)
            shown = shlex.join(argv) if case != CASES[2] else f"curl -s -o /dev/null http://{GUEST}{LARGE} (x40, one connection)"
            title = f"profile {side.name} {case}: sample 2 during {shown}"
            self.rec.raw(title, profile + "\n--- the client ---\n" + out[-1500:] + err[-500:])
            entry = {"nic": side.nic, "case": case, "command": shown, "sample": profile}
            if len(self.kernels) > 1:
                entry = {"guest": side.kind, **entry}  # which kernel's profile (one kernel: as before)
            self.rec.results.setdefault("profiles", []).append(entry)
            self.rec.save()

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> int:
        args = self.args
        import guestimage
        manifest = guestimage.build(quiet=False)
        info = system_info(choose_accel()[0], manifest, args.mem)
        if args.mtu:
            info["mtu"] = args.mtu  # asked of the tap and both guests; what each used is in its measurements
        self.rec.results["system"] = info
        for line in describe_system(info):
            self.rec.say(line)
        for tool in ("ab", "curl"):
            version = subprocess.run([tool, "-V" if tool == "ab" else "--version"], capture_output=True, text=True)
            first = (version.stdout + version.stderr).strip().splitlines()
            info[f"host_{tool}"] = first[0] if first else "?"
        self.files = unpack_archive(self.archive, os.path.join(self.workdir, "www"))
        if SMALL not in self.files or LARGE not in self.files:
            self.rec.note(f"{self.archive} lacks {SMALL} or {LARGE}")
            return 1
        self.rec.say(f"files: {len(self.files)} from {self.archive} ({sum(f['size'] for f in self.files.values())} "
                     f"bytes), served by Skiff's httpd and by busybox httpd in the Linux guest")
        order = "guests alternating" if len(self.kernels) == 1 else "the three guests taking turns to go first"
        self.rec.say(f"cases: `ab -n {args.requests} -c {CONCURRENCY} [-k] http://{GUEST}{SMALL}` "
                     f"({self.files[SMALL]['size']} bytes); `curl -o FILE http://{GUEST}{LARGE}` x2, SHA-256 checked; "
                     f"{args.reps} repetitions, {order}; {info['host_ab']}; {info['host_curl']}"
                     + (f"; MTU {args.mtu}" if args.mtu else ""))
        if len(self.kernels) > 1:
            for kind, kernel in zip(self.skiff_kinds, self.kernels):
                self.rec.say(f"{kind.kind}: {kernel}")
        self.rec.save()
        for nic in args.nic:
            for rep in range(args.reps):
                self.rec.say(f"{nic}: repetition {rep + 1}/{args.reps}, load {os.getloadavg()[0]:.1f}")
                for kind in self.order(rep):
                    self.run_side(kind, nic, rep)
        self.summarize()
        return 1 if self.failed else 0

    def run_side(self, kind: type, nic: str, rep: int) -> None:
        with NetNamespace(tap=TAP) as ns:
            if self.args.mtu:
                set_tap_mtu(ns, self.args.mtu)  # the host's side of the link, as --linux sets it
            # "skiff1-e1000-r1": the name goes into file names (serial logs), so no slash.
            side = kind(self, ns, nic, f"{kind.kind.lower().replace('/', '')}-{nic}-r{rep + 1}")
            try:
                for case in CASES:
                    for attempt in range(2 if case == CASES[2] else 1):
                        try:
                            side.ensure_up()
                        except (GuestError, subprocess.TimeoutExpired, OSError) as failure:
                            self.failed = True
                            self.rec.note(f"{side.name}: could not boot: {str(failure)[:1500]}")
                            return
                        if case == CASES[2]:
                            result = self.large(side)
                        else:
                            result = self.ab(side, keep_alive=case == CASES[0])
                        result.update(nic=nic, rep=rep + 1, guest=side.kind, boot=side.boots,
                                      load=round(os.getloadavg()[0], 2))
                        if self.args.mtu:
                            result["mtu"] = side.mtu  # without --mtu the results file stays as it has been
                        self.rec.add(result)
                        shown = f"{result['value']:.1f} {result['unit']}" if result.get("value") is not None else "FAILED"
                        extra = f"; {result['error']}" if result.get("error") else ""
                        if result.get("qemu_cpu") is not None and result.get("host_busy") is not None:
                            extra += f"; QEMU used {result['qemu_cpu']:.2f} CPUs, the host was {result['host_busy']:.0%} busy"
                        if "network_loops_per_request" in result:
                            extra += f"; network thread {result['network_loops_per_request']:.2f} loops per request"
                        if "keep_alive_requests" in result:
                            extra += (f"; {result['keep_alive_requests']} of {self.args.requests} on kept-alive "
                                      f"connections, {result['failed']} failed")
                        self.rec.say(f"  {side.kind:{self.width}} {case:22} {shown}{extra}")
                if isinstance(side, SkiffHttpd) and side.guest is not None:
                    self.rec.raw(f"{side.name}: counters after the measured cases", side.counters())
                    if self.args.profile:
                        self.profile(side)
            finally:
                side.stop()

    def summarize(self) -> None:
        measurements = self.rec.results["measurements"]
        skiffs = [kind.kind for kind in self.skiff_kinds]
        guests = ["Linux"] + skiffs
        # Each Skiff over Linux; with two kernels also the after over the before, the A/B itself.
        ratios = [(skiff, "Linux") for skiff in skiffs] + ([(skiffs[1], skiffs[0])] if len(skiffs) == 2 else [])

        def key(guest: str) -> str:
            return guest.lower().replace("/", "")  # JSON keys: linux, skiff (one kernel), skiff1, skiff2
        self.rec.say()
        if len(skiffs) == 1:
            self.rec.say(f"Medians of every run of this invocation (in brackets); ratio = Skiff / Linux (goal: >= 2).")
        else:
            which = "; ".join(f"{kind} = {self.describe_kernel(index)}" for index, kind in enumerate(skiffs))
            self.rec.say(f"Medians of every run of this invocation (in brackets); {which}; ratios of the medians "
                         f"(Skiff / Linux goal: >= 2).")
        self.rec.say()
        self.rec.say("| NIC | case | " + " | ".join(guests + [f"{a} / {b}" for a, b in ratios]) + " |")
        self.rec.say("|---|---|" + "---|" * (len(guests) + len(ratios)))
        rows = []
        for nic in self.args.nic:
            for case in CASES:
                def select(guest: str) -> list[dict]:
                    return [m for m in measurements if m["nic"] == nic and m["case"] == case and m["guest"] == guest]
                cells, entry = [], {"nic": nic, "case": case, "unit": UNITS[case]}
                medians = {}
                for guest in guests:
                    chosen = select(guest)
                    values = [m["value"] for m in chosen if m.get("value") is not None]
                    medians[guest] = median(values)
                    entry[f"{key(guest)}_median"] = medians[guest]
                    entry[f"{key(guest)}_runs"] = [m.get("value") for m in chosen]
                    runs = " ".join(fmt(m.get("value")) if m.get("value") is not None else "x" for m in chosen)
                    cells.append(f"{fmt(medians[guest])} {UNITS[case]} ({runs or 'none'})")
                for a, b in ratios:
                    ratio = medians[a] / medians[b] if medians[a] and medians[b] else None
                    entry[f"ratio_{key(a)}_over_{key(b)}"] = ratio
                    cells.append(fmt(ratio, 2) + "x" if ratio else "-")
                rows.append(entry)
                self.rec.say("| " + " | ".join([nic, case] + cells) + " |")
        self.rec.results["summary"] = rows
        for m in measurements:
            if m.get("error"):
                self.rec.note(f"{m['guest']} {m['nic']} repetition {m['rep']} {m['case']}: {m['error']}")
        if self.args.mtu:
            # As --linux reports it: a guest whose NIC did not take the MTU makes its rows unequal.
            mtus = sorted({(m["guest"], m["nic"], m.get("mtu")) for m in measurements}, key=str)
            self.rec.say("MTU in use: " + ", ".join(f"{g} {n} {mtu}" for g, n, mtu in mtus)
                         + f" (asked: {self.args.mtu})")
            for guest, nic, mtu in mtus:
                if mtu != self.args.mtu:
                    self.rec.note(f"{guest} used MTU {mtu} on {nic}, not the {self.args.mtu} asked: the {nic} rows "
                                  "compare different MTUs")
        linux_kept = [m.get("keep_alive_requests", 0) for m in measurements
                      if m["guest"] == "Linux" and m["case"] == CASES[0]]
        if linux_kept and max(linux_kept) == 0:
            self.rec.note("busybox httpd closes every connection after one response (it has no keep-alive): in the "
                          "Linux keep-alive row ab opened a connection per request")
        self.rec.results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.rec.results["system"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.rec.say(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                     f"results in {self.rec.directory}")
        self.rec.save()
