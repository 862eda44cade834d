#!/usr/bin/env python3
"""Skiff's web server (the user task `httpd`) from a real client: QEMU with e1000 or ne2k_pci on a tap inside a network
namespace this test creates and deletes, booted with build/x86_64/www-large.tar (apps/httpd/www/,
test/1M.bin, test/16M.bin), and curl, ab and raw sockets on the host side of the tap.

Cases (one CTest test each, label `net`):
  e1000, ne2k-pci
    files       curl GET of every file of the archive: SHA-256 equal to the source (apps/httpd/www/,
                and the generated files rebuilt by tools/build/make_archive.py), Content-Type by
                extension, the 16 MiB file's rate reported; /status; a directory without its slash
                is redirected (301)
    head        HEAD: the GET's fields (Content-Length, Last-Modified), not one body byte
    ranges      first byte, last byte, middle, suffix, open-ended, past the end (416 with
                "Content-Range: bytes */size"), each compared with the source bytes;
                If-Modified-Since with the file's own date gives 304
    keep-alive  curl with three URLs reuses one connection (curl says so, and the server counts one
                accepted connection); three requests pipelined in one write come back in order; a
                GET's small body is dropped and the next request on the connection answered
    errors      400 (bad request line, NUL, bare CR, no Host, space before colon, a path above the
                root), 404, 405, 408 (below), 413 (absurd and large Content-Length), 414, 416, 431
                (a 64 KiB field line, 70 fields), 501, 505: each status with a small body, the
                connection closed after the errors that call for it; an idle connection closed
                without a response after the idle timeout
    ab          ab -n 2000 -c 32 -k: every request answered, none failed; requests/s reported; the
                same without keep-alive
    slowloris   64 connections dribbling a request head one byte a second (all the server's slots)
                while curl still fetches index.html and test/1M.bin, intact and in a few seconds;
                every slow connection ends (408 after the head timeout, or closed to make room)
    slow readers 16 connections GET /test/16M.bin with a tiny receive buffer and never read (their
                windows close, the server's sends stall and hold transmit buffers) while curl still
                fetches test/1M.bin, intact and within 10 s
    after each scenario `resources` is back at its baseline (frames, heap, pools, live sockets);
    at the end `httpd` shows the requests, bytes and each error counted.
  user
    without root: QEMU user networking with localhost:PORT forwarded to the guest's 80 (qemu/run
    forwards 8080 by default), curl GET / and /status.

Needs root for the tap cases (they skip with exit 77 otherwise), curl and ab (apache2-utils).
Lines starting with `REPORT ` are the measurements (accelerator and CPU model named).

Usage: httpd_test.py CASE [--kernel ELF] [--archive TAR] [--only SCENARIO,...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "qemu"))
sys.path.insert(0, os.path.join(ROOT, "tools", "build"))

import make_archive  # noqa: E402
import skiffqemu  # noqa: E402
from skiffqemu import Guest, GuestError, NetNamespace  # noqa: E402

SKIP = 77
GUEST = "10.0.2.15"
TAP = "skiffweb"
CLIENT = os.path.join(HERE, "client.py")
HARNESS = "panic=exit"
WWW = os.path.join(ROOT, "apps", "httpd", "www")
BASE = f"http://{GUEST}"
# The server's own bounds (user/programs/httpd/Server.h, apps/httpd/Status.h).
HEAD_TIMEOUT_S = 10
IDLE_TIMEOUT_S = 15
SLOTS = 64
# Resource counters compared with the baseline; sockets in TIME-WAIT hold no buffers and last 60 s.
RESOURCES = re.compile(r"^resources: (.*)$", re.M)


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(message + ("\n" + detail if detail else ""))


def ok(message: str) -> None:
    print(f"ok: {message}", flush=True)


def report(message: str) -> None:
    print(f"REPORT {message}", flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_files(archive: str) -> dict[str, dict]:
    """Every file of the archive -> its source bytes' SHA-256 and size: apps/httpd/www/ read from
    the tree, the generated files rebuilt with make_archive.pattern(). The archive itself is read
    with Python's tarfile only for the list of names."""
    files = {}
    with tarfile.open(archive) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    for name in names:
        path = os.path.join(WWW, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
        else:
            match = re.fullmatch(r"test/(\d+)M\.bin", name)
            check(match is not None, f"{name} is in the archive but neither in apps/httpd/www/ nor a test pattern")
            size = int(match.group(1)) << 20
            data = make_archive.pattern(size, 1 if size == 1 << 20 else 16)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "head": data[:4096],
                       "tail": data[-4096:], "middle": data[len(data) // 2 - 50:len(data) // 2 + 50]}
    return files


def expected_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {"html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
            "txt": "text/plain; charset=utf-8", "png": "image/png", "gif": "image/gif",
            "ico": "image/vnd.microsoft.icon"}.get(extension, "application/octet-stream")


class Rig:
    def __init__(self, ns: NetNamespace, guest: Guest, nic: str, workdir: str):
        self.ns, self.guest, self.nic, self.workdir = ns, guest, nic, workdir
        self.baseline: dict = {}

    # -- host tools inside the namespace ------------------------------------------------------

    def curl(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.ns.run(["curl", "-s", "--max-time", str(int(timeout) - 5), *arguments], timeout=timeout)

    def get(self, path: str, output: str, *extra: str, timeout: float = 120) -> dict:
        """curl GET into `output`: status, content type, bytes, seconds."""
        result = self.curl("-o", output, "-w", "%{http_code} %{size_download} %{time_total} %{content_type}",
                           *extra, BASE + path, timeout=timeout)
        check(result.returncode == 0, f"curl {path} failed (exit {result.returncode})", result.stderr)
        code, size, seconds, content_type = (result.stdout.split(" ", 3) + [""])[:4]
        return {"status": int(code), "size": int(size), "seconds": float(seconds), "type": content_type.strip()}

    def client(self, *arguments: str, timeout: float = 120):
        result = self.ns.run([sys.executable, CLIENT, arguments[0], GUEST, *arguments[1:]], timeout=timeout)
        check(result.returncode == 0, f"client.py {' '.join(arguments)} failed", result.stdout + result.stderr)
        return json.loads(result.stdout.strip().splitlines()[-1])

    # -- the guest ----------------------------------------------------------------------------

    def resources(self) -> dict:
        out = self.guest.command("resources", timeout=30)
        match = RESOURCES.search(out)
        check(match is not None, "`resources` printed no line", out)
        return {k: int(v) for k, v in (p.split("=", 1) for p in match.group(1).split())}

    def zc(self) -> dict:
        """`zc stats`: the stack's copied send bytes, and sendfile's bytes, copies and pieces."""
        out = self.guest.command("zc stats", timeout=30)
        send = re.search(r"(?m)^zc send: copied_bytes=(\d+)", out)
        files = re.search(r"(?m)^zc sendfile: bytes=(\d+) copied_bytes=(\d+) pieces=(\d+)", out)
        check(send is not None and files is not None, "`zc stats` shows no send or sendfile line", out)
        return {"send_copied": int(send.group(1)), "sendfile": int(files.group(1)),
                "sendfile_copied": int(files.group(2)), "sendfile_pieces": int(files.group(3)), "text": out}

    def tso_units(self) -> int:
        out = self.guest.command("ifconfig", timeout=30)
        match = re.search(r"TSO (?:on|off) +units (\d+)", out)
        check(match is not None, "`ifconfig` shows no TSO line", out)
        return int(match.group(1))

    @staticmethod
    def comparable(resources: dict) -> dict:
        # The kernel heap keeps up to one empty slab page per size class for its next allocation
        # (heap_cached): a page that moved between the free frames and that cache is not held by
        # anything. The server's descriptors (one per connection) are what fill a new slab.
        result = {k: v for k, v in resources.items()
                  if k not in ("tcp_sockets", "tcp_timewait", "tcp_half_open", "heap_cached")}
        result["frames_free"] = resources["frames_free"] + resources.get("heap_cached", 0)
        result["tcp_live"] = (resources.get("tcp_sockets", 0) - resources.get("tcp_timewait", 0)
                              - resources.get("tcp_half_open", 0))
        return result

    def take_baseline(self) -> None:
        self.baseline = self.resources()
        ok(f"baseline: {' '.join(f'{k}={v}' for k, v in self.baseline.items())}")

    def check_baseline(self, after: str, wait: float = 25.0) -> None:
        """Everything a finished scenario must give back: frames, heap, pins, pools, live sockets
        (lingering closes take up to 2 s, idle keep-alive connections up to the idle timeout)."""
        end = time.monotonic() + wait
        while True:
            now = self.resources()
            if self.comparable(now) == self.comparable(self.baseline):
                ok(f"resources back to the baseline after {after}")
                return
            if time.monotonic() > end:
                raise CheckFailed(f"after {after}: resources not back to the baseline:\n  now      {now}\n"
                                  f"  baseline {self.baseline}\n{self.guest.command('httpd')}")
            time.sleep(1.0)

    def httpd(self) -> dict:
        out = self.guest.command("httpd", timeout=30)
        values = {}
        for key, pattern in {"accepted": r"(\d+) accepted", "requests": r"requests +(\d+)",
                             "head_timeouts": r"(\d+) head timeouts", "evicted": r"(\d+) evicted",
                             "idle": r"(\d+) idle", "bytes": r"bytes +(\d+) sent",
                             "stalls": r"(\d+) stalled sends",
                             "file_bytes": r"\((\d+) file data\)",
                             "by_reference": r"sendfile +(\d+) bytes by reference",
                             "copied": r"sendfile +\d+ bytes by reference, (\d+) copied"}.items():
            match = re.search(pattern, out)
            check(match is not None, f"`httpd` shows no {key}", out)
            values[key] = int(match.group(1))
        for status, count in re.findall(r"\b(\d{3}) (\d+)", out.split("errors", 1)[1].splitlines()[0]):
            values[f"status_{status}"] = int(count)
        values["text"] = out
        return values


# -- scenarios -----------------------------------------------------------------------------------

def scenario_files(rig: Rig, files: dict) -> None:
    rates = []
    zc_before, httpd_before, units_before = rig.zc(), rig.httpd(), rig.tso_units()
    for name, source in sorted(files.items(), key=lambda item: item[1]["size"]):
        output = os.path.join(rig.workdir, "got")
        got = rig.get("/" + name, output, timeout=300)
        check(got["status"] == 200, f"GET /{name}: status {got['status']}")
        check(got["size"] == source["size"], f"GET /{name}: {got['size']} bytes, the source has {source['size']}")
        digest = sha256_file(output)
        check(digest == source["sha256"], f"GET /{name}: SHA-256 {digest}, the source's is {source['sha256']}")
        check(got["type"] == expected_type(name), f"GET /{name}: Content-Type {got['type']!r}")
        if source["size"] >= 1 << 20:
            rates.append((name, source["size"], got["seconds"]))
        os.unlink(output)
    ok(f"GET of all {len(files)} files: bytes equal to the source (SHA-256), Content-Type by extension")
    # The zero-copy sendfile path: every file byte went by reference to the archive's pages, none
    # copied; the only bytes the stack copied were the response heads (all of httpd's bytes that
    # were not file data).
    zc_after, httpd_after = rig.zc(), rig.httpd()
    total = sum(source["size"] for source in files.values())
    file_bytes = httpd_after["file_bytes"] - httpd_before["file_bytes"]
    head_bytes = httpd_after["bytes"] - httpd_before["bytes"] - file_bytes
    sendfile = zc_after["sendfile"] - zc_before["sendfile"]
    check(file_bytes == total, f"httpd sent {file_bytes} file bytes for files of {total} bytes", httpd_after["text"])
    check(sendfile == total, f"`zc stats`: sendfile sent {sendfile} bytes by reference, the files have {total}",
          zc_after["text"])
    check(zc_after["sendfile_copied"] == zc_before["sendfile_copied"] == 0,
          "`zc stats`: sendfile copied bytes", zc_after["text"])
    check(httpd_after["copied"] == 0 and httpd_after["by_reference"] >= total,
          "`httpd`: sendfile bytes copied, or too few by reference", httpd_after["text"])
    send_copied = zc_after["send_copied"] - zc_before["send_copied"]
    check(send_copied == head_bytes, f"the stack copied {send_copied} bytes; the response heads were {head_bytes}",
          zc_after["text"])
    pieces = zc_after["sendfile_pieces"] - zc_before["sendfile_pieces"]
    check(pieces >= total // 4096, f"{pieces} sendfile pieces for {total} bytes: pieces never cross a page",
          zc_after["text"])
    ok(f"sendfile: {sendfile} file bytes by reference in {pieces} pieces, 0 copied; the stack copied only the "
       f"{head_bytes} bytes of response heads")
    units = rig.tso_units() - units_before
    if rig.nic == "e1000":
        check(units > 0, "e1000: the files went out in no TSO unit")
    else:
        check(units == 0, f"{rig.nic}: {units} TSO units on a device without TSO")
    for name, size, seconds in rates:
        report(f"httpd {rig.nic}: GET /{name} ({size >> 20} MiB) in {seconds:.2f} s = "
               f"{size / seconds / 1e6:.1f} MB/s (one curl, tap, {rig.guest.accel}, {cpu_model()})")
    got = rig.get("/", os.path.join(rig.workdir, "index"))
    check(got["status"] == 200 and sha256_file(os.path.join(rig.workdir, "index")) == files["index.html"]["sha256"],
          "GET / is not index.html")
    status = rig.curl(BASE + "/status")
    check("Skiff web server" in status.stdout and "requests" in status.stdout, "/status is not the status page",
          status.stdout)
    redirect = rig.curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", BASE + "/css")
    check(redirect.stdout.startswith("301 ") and redirect.stdout.endswith("/css/"),
          f"GET /css: {redirect.stdout!r}, expected a 301 to /css/")
    ok("GET / is index.html, /status is the status page, /css redirects to /css/")


def scenario_head(rig: Rig, files: dict) -> None:
    result = rig.client("head", "/test/1M.bin")
    check(result["status"] == 200, f"HEAD /test/1M.bin: status {result['status']}")
    check(result["fields"].get("content-length") == str(files["test/1M.bin"]["size"]),
          f"HEAD: Content-Length {result['fields'].get('content-length')}")
    check("last-modified" in result["fields"], "HEAD: no Last-Modified")
    check(result["after_head"] == 0, f"HEAD: {result['after_head']} body bytes after the head")
    ok(f"HEAD /test/1M.bin: 200, Content-Length {result['fields']['content-length']}, no body byte")
    return result["fields"]["last-modified"]


def scenario_ranges(rig: Rig, files: dict, last_modified: str) -> None:
    source = files["test/1M.bin"]
    size = source["size"]
    output = os.path.join(rig.workdir, "range")
    cases = [("0-0", source["head"][:1], "bytes 0-0"),
             (f"{size - 1}-{size - 1}", source["tail"][-1:], f"bytes {size - 1}-{size - 1}"),
             (f"{size // 2 - 50}-{size // 2 + 49}", source["middle"], f"bytes {size // 2 - 50}-{size // 2 + 49}"),
             ("-100", source["tail"][-100:], f"bytes {size - 100}-{size - 1}"),
             (f"{size - 10}-", source["tail"][-10:], f"bytes {size - 10}-{size - 1}"),
             (f"0-{size * 4}", None, f"bytes 0-{size - 1}")]
    for spec, expected, content_range in cases:
        result = rig.curl("-o", output, "-D", "-", "-H", f"Range: bytes={spec}", BASE + "/test/1M.bin")
        head = result.stdout
        check(head.startswith("HTTP/1.1 206"), f"Range: bytes={spec}: not a 206", head)
        check(f"Content-Range: {content_range}/{size}" in head, f"Range: bytes={spec}: wrong Content-Range", head)
        with open(output, "rb") as f:
            body = f.read()
        if expected is not None:
            check(body == expected, f"Range: bytes={spec}: {len(body)} bytes, not the source's")
        else:
            check(hashlib.sha256(body).hexdigest() == source["sha256"], f"Range: bytes={spec}: not the whole file")
    result = rig.curl("-o", output, "-D", "-", "-H", f"Range: bytes={size}-", BASE + "/test/1M.bin")
    check(result.stdout.startswith("HTTP/1.1 416") and f"Content-Range: bytes */{size}" in result.stdout,
          "a range past the end is not 416 with Content-Range: bytes */size", result.stdout)
    os.unlink(output)
    result = rig.curl("-o", output, "-w", "%{http_code} %{size_download}", "-H", f"If-Modified-Since: {last_modified}",
                      BASE + "/test/1M.bin")
    check(result.stdout == "304 0", f"If-Modified-Since its own date: {result.stdout} (status, body bytes)")
    ok("ranges: first byte, last byte, middle, suffix, open end, clamped end (206, bytes equal); past the "
       "end 416 with bytes */size; If-Modified-Since gives 304")


def scenario_keep_alive(rig: Rig, files: dict) -> None:
    before = rig.httpd()["accepted"]
    urls = [BASE + "/index.html", BASE + "/about.txt", BASE + "/css/skiff.css"]
    result = rig.ns.run(["curl", "-s", "-v", "--max-time", "30"] + sum((["-o", "/dev/null", u] for u in urls), []),
                        timeout=40)
    reused = result.stderr.count("Re-using existing connection")
    check(reused == 2, f"curl with three URLs reused its connection {reused} times, not 2", result.stderr)
    after = rig.httpd()["accepted"]
    check(after - before == 1, f"the server accepted {after - before} connections for curl's three URLs, not 1")
    ok("keep-alive: curl fetched three URLs over one connection (curl re-used it twice; the server accepted one)")
    paths = ["/about.txt", "/img/skiff.png", "/index.html"]
    responses = rig.client("pipeline", *paths)
    for path, response in zip(paths, responses):
        name = path[1:]
        check(response["status"] == 200 and response["sha256"] == files[name]["sha256"],
              f"pipelined {path}: {response}")
    ok("three requests pipelined in one write: three responses in order, bytes equal")
    responses = rig.client("body", "/about.txt")
    check(all(r["status"] == 200 and r["sha256"] == files["about.txt"]["sha256"] for r in responses),
          f"a GET with a body, then another on the same connection: {responses}")
    ok("a GET with a 5-byte body: the body dropped, the next request on the connection answered")


def scenario_errors(rig: Rig) -> dict:
    before = rig.httpd()
    result = rig.client("errors", timeout=120)
    for item in result["corpus"]:
        check(item["status"] == item["expected"],
              f"{item['name']}: status {item['status']}, expected {item['expected']} (ended {item['ended']})",
              json.dumps(item))
        check(item["body"].startswith(str(item["expected"])) and len(item["body"]) < 200,
              f"{item['name']}: not a small body naming the status: {item['body']!r}")
        check(item["content_length"] == str(len(item["body"].encode("latin-1"))),
              f"{item['name']}: Content-Length {item['content_length']} for a {len(item['body'])}-byte body")
        check(item["ended"] in ("fin", "reset"), f"{item['name']}: the server did not close the connection "
              f"after a {item['status']} to a request that asked for it or could not be read on")
    idle = result["idle"]
    check(idle["bytes"] == 0 and idle["ended"] == "fin", f"the idle connection: {idle}")
    check(IDLE_TIMEOUT_S - 1 <= idle["after"] <= IDLE_TIMEOUT_S + 5, f"the idle connection closed after {idle['after']} s")
    after = rig.httpd()
    for status in (400, 404, 405, 413, 414, 416, 431, 501, 505):
        expected = sum(1 for item in result["corpus"] if item["expected"] == status)
        got = after[f"status_{status}"] - before[f"status_{status}"]
        check(got == expected, f"`httpd` counted {got} responses {status}, the corpus has {expected}", after["text"])
    check(after["idle"] - before["idle"] == 1, "`httpd` did not count the idle close", after["text"])
    ok(f"errors: {', '.join(sorted(set(str(i['status']) for i in result['corpus'])))} each with a small body and "
       f"the connection closed; the idle connection closed silently after {idle['after']} s; `httpd` counted each")
    return result


def ab(rig: Rig, keep_alive: bool) -> dict:
    arguments = ["ab", "-n", "2000", "-c", "32", "-s", "30"] + (["-k"] if keep_alive else []) + [BASE + "/about.txt"]
    result = rig.ns.run(arguments, timeout=600)
    out = result.stdout + result.stderr
    check(result.returncode == 0, f"{' '.join(arguments)} failed (exit {result.returncode})", out)
    values = {}
    for key, pattern in {"complete": r"Complete requests:\s+(\d+)", "failed": r"Failed requests:\s+(\d+)",
                         "rate": r"Requests per second:\s+([\d.]+)", "keep_alive": r"Keep-Alive requests:\s+(\d+)"}.items():
        match = re.search(pattern, out)
        values[key] = float(match.group(1)) if match else None
    values["non_2xx"] = re.search(r"Non-2xx responses:\s+(\d+)", out)
    values["text"] = out
    return values


def scenario_ab(rig: Rig) -> None:
    for keep_alive in (True, False):
        what = "ab -n 2000 -c 32" + (" -k" if keep_alive else "")
        values = ab(rig, keep_alive)
        check(values["complete"] == 2000, f"{what}: {values['complete']} complete requests", values["text"])
        check(values["failed"] == 0, f"{what}: {values['failed']:.0f} failed requests", values["text"])
        check(values["non_2xx"] is None, f"{what}: non-2xx responses", values["text"])
        if keep_alive:
            check(values["keep_alive"] == 2000, f"{what}: {values['keep_alive']} keep-alive requests",
                  values["text"])
        ok(f"{what}: 2000 requests, 0 failed, {values['rate']:.0f} requests/s")
        report(f"httpd {rig.nic}: {what} /about.txt (834 bytes): {values['rate']:.0f} requests/s, 0 failed "
               f"(tap, {rig.guest.accel}, {cpu_model()})")


def scenario_slowloris(rig: Rig, files: dict) -> None:
    before = rig.httpd()
    seconds = HEAD_TIMEOUT_S + 6
    slow = rig.ns.popen([sys.executable, CLIENT, "slowloris", GUEST, str(SLOTS), str(seconds)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)  # every slot taken, each connection a few bytes into its head
        fetches = []
        for round_number in range(3):
            for name in ("index.html", "test/1M.bin"):
                output = os.path.join(rig.workdir, "during")
                got = rig.get("/" + name, output, timeout=30)
                check(got["status"] == 200 and sha256_file(output) == files[name]["sha256"],
                      f"during the slow clients, GET /{name}: {got}")
                check(got["seconds"] < 5.0, f"during the slow clients, GET /{name} took {got['seconds']:.1f} s")
                fetches.append(got["seconds"])
        out, err = slow.communicate(timeout=seconds + 30)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    check(slow.returncode == 0, "client.py slowloris failed", out + err)
    result = json.loads(out.strip().splitlines()[-1])
    outcomes = result["outcomes"]
    timed_out = outcomes.get("status-408", 0)
    closed = outcomes.get("closed", 0)
    check(outcomes.get("open", 0) == 0, f"slow connections still open after {seconds} s: {outcomes}")
    check(timed_out + closed == SLOTS, f"slow connections ended otherwise than by 408 or a close: {outcomes}")
    check(timed_out > 0, f"no slow connection got its 408: {outcomes}")
    check(result["last_end"] <= HEAD_TIMEOUT_S + 4, f"the last slow connection ended after {result['last_end']} s")
    after = rig.httpd()
    check(after["head_timeouts"] - before["head_timeouts"] == timed_out,
          f"`httpd` counted {after['head_timeouts'] - before['head_timeouts']} head timeouts, the clients saw "
          f"{timed_out}", after["text"])
    check(after["evicted"] - before["evicted"] == closed,
          f"`httpd` counted {after['evicted'] - before['evicted']} evictions, the clients saw {closed} closes",
          after["text"])
    ok(f"{SLOTS} slow clients: curl still got index.html and test/1M.bin 3 times each (slowest "
       f"{max(fetches):.2f} s); {timed_out} slow connections got a 408, {closed} were closed to make room, the last "
       f"after {result['last_end']} s")


def scenario_slow_readers(rig: Rig, files: dict) -> None:
    before = rig.httpd()
    readers, hold = 16, 14
    slow = rig.ns.popen([sys.executable, CLIENT, "slowread", GUEST, str(readers), "/test/16M.bin", str(hold)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)  # every reader's window closed, their responses queued as far as the server lets them
        output = os.path.join(rig.workdir, "beside-readers")
        got = rig.get("/test/1M.bin", output, timeout=30)
        check(got["status"] == 200 and sha256_file(output) == files["test/1M.bin"]["sha256"],
              f"beside {readers} stalled readers, GET /test/1M.bin: {got}")
        check(got["seconds"] < 10.0, f"beside {readers} stalled readers, GET /test/1M.bin took {got['seconds']:.1f} s")
        out, err = slow.communicate(timeout=hold + 30)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    check(slow.returncode == 0, "client.py slowread failed", out + err)
    result = json.loads(out.strip().splitlines()[-1])
    after = rig.httpd()
    check(after["stalls"] > before["stalls"], "the server aborted no stalled send while others waited for buffers",
          after["text"])
    ok(f"{readers} readers that never read /test/16M.bin: curl still got /test/1M.bin in {got['seconds']:.2f} s; "
       f"readers {result['outcomes']}; the server aborted {after['stalls'] - before['stalls']} stalled sends")


SCENARIOS = ("files", "ranges", "keep-alive", "errors", "ab", "slowloris", "slow-readers")


def case_tap(args, nic: str) -> None:
    problem = NetNamespace.problem()
    if problem:
        print(f"SKIP: net.httpd.{nic}: {problem}", flush=True)
        sys.exit(SKIP)
    for tool in ("curl", "ab"):
        if not shutil.which(tool):
            print(f"SKIP: net.httpd.{nic}: needs {tool} ({'apache2-utils' if tool == 'ab' else tool}; "
                  f"qemu/run installs it as root)", flush=True)
            sys.exit(SKIP)
    check(os.path.exists(args.archive), f"no {args.archive}: the build makes it (apps/httpd/Archive.cmake)")
    files = source_files(args.archive)
    with tempfile.TemporaryDirectory(prefix="skiff-httpd-") as workdir, NetNamespace(tap=TAP) as ns, \
            Guest(name=f"net-httpd-{nic}", netns=ns, nic=nic, kernel=args.kernel, append=HARNESS,
                  initrd=args.archive) as guest:
        print(f"net.httpd.{nic}: namespace {ns.name}, QEMU PID {guest.process.pid}, accel {guest.accel}", flush=True)
        boot = guest.expect_prompt(timeout=60)
        check(re.search(r"(?m)^fs: archive .* each on its own pages$", boot) is not None, "the archive is not mounted",
              boot)
        check(re.search(r"(?m)^httpd: serving .* on port 80 as task \d+", boot) is not None, "the server did not start",
              boot)
        tasks = guest.command("ps", timeout=20)
        check(re.search(r"(?m)\bhttpd\b", tasks) is not None, "`ps` shows no httpd task", tasks)
        rig = Rig(ns, guest, nic, workdir)
        end = time.monotonic() + 30
        while ns.run(["ping", "-n", "-c", "1", "-W", "1", GUEST], timeout=10).returncode != 0:
            check(time.monotonic() < end, "the guest does not answer ping")
        rig.take_baseline()
        wanted = set(args.only.split(",")) if args.only else set(SCENARIOS)
        if "files" in wanted:
            scenario_files(rig, files)
            rig.check_baseline("GET of every file")
        if "ranges" in wanted:
            last_modified = scenario_head(rig, files)
            scenario_ranges(rig, files, last_modified)
            rig.check_baseline("HEAD and ranges")
        if "keep-alive" in wanted:
            scenario_keep_alive(rig, files)
            rig.check_baseline("keep-alive and pipelining")
        if "errors" in wanted:
            scenario_errors(rig)
            rig.check_baseline("the error corpus")
        if "ab" in wanted:
            scenario_ab(rig)
            rig.check_baseline("ab")
        if "slowloris" in wanted:
            scenario_slowloris(rig, files)
            rig.check_baseline("the slow clients")
        if "slow-readers" in wanted:
            scenario_slow_readers(rig, files)
            rig.check_baseline("the slow readers")
        final = rig.httpd()
        if wanted == set(SCENARIOS):
            check(final["requests"] > 4000 and final["bytes"] > 20 << 20, "`httpd` totals too small", final["text"])
            check(final["by_reference"] > 20 << 20 and final["copied"] == 0,
                  "`httpd` shows no file bytes by reference through SendFile, or some copied", final["text"])
        ok("httpd at the end:\n" + final["text"].rstrip())
        guest.send_line("poweroff 0")
        check(guest.wait_exit(timeout=20) == 1, "poweroff 0 did not end QEMU with status 1")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def case_user(args) -> None:
    for tool in ("curl",):
        if not shutil.which(tool):
            print(f"SKIP: net.httpd.user: needs {tool}", flush=True)
            sys.exit(SKIP)
    check("8080:80/tcp" in skiffqemu.DEFAULT_FORWARDS, "qemu/run no longer forwards 8080 to the guest's 80")
    port = free_port()
    with Guest(name="net-httpd-user", nic="e1000", net="user", forwards=f"{port}:80/tcp", kernel=args.kernel,
               append=HARNESS) as guest:
        boot = guest.expect_prompt(timeout=60)
        check(re.search(r"(?m)^httpd: serving", boot) is not None, "the server did not start", boot)
        with open(os.path.join(WWW, "index.html"), "rb") as f:
            index = f.read()
        end = time.monotonic() + 30
        while True:
            result = subprocess.run(["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{port}/"],
                                    capture_output=True, timeout=20)
            if result.returncode == 0 and result.stdout:
                break
            check(time.monotonic() < end, f"curl http://127.0.0.1:{port}/ never answered (exit {result.returncode})")
            time.sleep(1)
        check(result.stdout == index, "GET / through the forwarded port is not index.html")
        status = subprocess.run(["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{port}/status"],
                                capture_output=True, text=True, timeout=20)
        check("Skiff web server" in status.stdout, "/status through the forwarded port", status.stdout)
        ok(f"user networking: curl http://127.0.0.1:{port}/ is index.html, /status answers")
        guest.send_line("poweroff 0")
        check(guest.wait_exit(timeout=20) == 1, "poweroff 0 did not end QEMU with status 1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=("e1000", "ne2k-pci", "user"))
    parser.add_argument("--kernel", default=skiffqemu.KERNEL_ELF)
    parser.add_argument("--archive", default=os.path.join(skiffqemu.BUILD_DIR, "www-large.tar"))
    parser.add_argument("--only", metavar="NAME,...", help=f"run only these scenarios: {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    accel, why = skiffqemu.choose_accel()
    print(f"net.httpd.{args.case}: accelerator {accel} ({why}); CPU {cpu_model()}", flush=True)
    try:
        if args.case == "user":
            case_user(args)
        else:
            case_tap(args, args.case)
    except (CheckFailed, GuestError) as failure:
        print(f"FAIL: {failure}", flush=True)
        return 1
    print(f"PASS: net.httpd.{args.case}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
