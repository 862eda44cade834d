#!/usr/bin/env python3
"""Raw-socket HTTP clients for httpd_test.py, for what curl cannot show. They run *inside* the
test's network namespace (`ip netns exec NAME python3 client.py ...`), so every packet goes only to
the tap there. Each is bounded in count and time and prints one JSON line.

  head ADDRESS PATH            HEAD with Connection: close; the status, the fields, and how many
                               bytes came after the head (must be none)
  pipeline ADDRESS PATH...     every request written in one send(), the responses read in order
  body ADDRESS PATH            a GET carrying a 5-byte body (Content-Length) and, on the same
                               connection, a second GET: the body must be dropped, both answered
  errors ADDRESS               the malformed-request corpus: each on its own connection, the status,
                               the body, and whether the server closed the connection after it;
                               plus one connection that never sends a byte, closed silently when
                               idle (no 408)
  slowread ADDRESS N PATH SECONDS
                               N connections with a tiny receive buffer that GET PATH and never read
                               (their window closes: the server's sends stall); after SECONDS, how
                               each ended (reset by the server, or still open)
  slowloris ADDRESS N SECONDS  N connections that send a request head one byte per second and
                               never finish it; for each, how it ended (a 408, closed, reset) and
                               when; at most SECONDS
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import sys
import time

PORT = 80


def connect(address: str, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((address, PORT), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, str]:
    """Everything until the server closes (or `limit` seconds pass): (bytes, 'fin'|'reset'|'timeout')."""
    data = b""
    end = time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return data, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, "timeout"
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "fin"
        data += chunk


def split_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/1.1 ") else 0
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, rest


def head(address: str, path: str) -> dict:
    sock = connect(address)
    sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
    data, how = read_until_closed(sock, 10)
    status, fields, rest = split_response(data)
    return {"status": status, "fields": fields, "after_head": len(rest), "ended": how}


def read_response(sock: socket.socket, buffer: bytes, limit: float) -> tuple[dict, bytes]:
    """One response with a Content-Length body from a persistent connection."""
    end = time.monotonic() + limit
    while b"\r\n\r\n" not in buffer:
        sock.settimeout(max(0.1, end - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed before a full head")
        buffer += chunk
    status, fields, rest = split_response(buffer)
    length = int(fields.get("content-length", "0"))
    while len(rest) < length:
        sock.settimeout(max(0.1, end - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed inside a body")
        rest += chunk
    body, buffer = rest[:length], rest[length:]
    return {"status": status, "length": length, "sha256": hashlib.sha256(body).hexdigest(),
            "connection": fields.get("connection", "")}, buffer


def pipeline(address: str, paths: list[str]) -> list[dict]:
    sock = connect(address)
    requests = "".join(f"GET {p} HTTP/1.1\r\nHost: {address}\r\n\r\n" for p in paths)
    sock.sendall(requests.encode())  # all of them at once: the server answers in order
    results, buffer = [], b""
    for _ in paths:
        response, buffer = read_response(sock, buffer, 30)
        results.append(response)
    sock.close()
    return results


def body(address: str, path: str) -> list[dict]:
    sock = connect(address)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 5\r\n\r\nhello".encode()
                 + f"GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
    results, buffer = [], b""
    for _ in range(2):
        response, buffer = read_response(sock, buffer, 30)
        results.append(response)
    sock.close()
    return results


# name, request bytes, expected status
CORPUS = [
    ("bad-request-line", b"GET /\r\n\r\n", 400),
    ("nul-byte", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    ("bare-cr", b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("climbing-path", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400),
    ("not-found", b"GET /no/such/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404),
    ("post", b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 405),
    ("delete", b"DELETE /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    ("absurd-content-length", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413),
    ("large-content-length", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n", 413),
    ("long-target", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("64k-field-line", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 65536 + b"\r\n\r\n", 431),
    ("too-many-fields", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(70)) + b"\r\n", 431),
    ("chunked-body", b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    ("http2", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("range-past-end", b"GET /about.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=100000-\r\nConnection: close\r\n\r\n", 416),
]
def errors(address: str) -> dict:
    idle = connect(address)
    idle_opened = time.monotonic()
    results = []
    for name, request, expected in CORPUS:
        sock = connect(address)
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (and close) before a 64 KiB line is all sent
        data, how = read_until_closed(sock, 12)
        sock.close()
        status, fields, body = split_response(data)
        results.append({"name": name, "expected": expected, "status": status, "ended": how,
                        "connection": fields.get("connection", ""), "body": body.decode("latin-1")[:200],
                        "content_length": fields.get("content-length")})
    # The idle connection: the server closes it without a word after its idle timeout.
    data, how = read_until_closed(idle, 30)
    idle_result = {"bytes": len(data), "ended": how, "after": round(time.monotonic() - idle_opened, 1)}
    return {"corpus": results, "idle": idle_result}


def slowloris(address: str, count: int, seconds: float) -> dict:
    start = time.monotonic()
    socks = []
    for _ in range(count):
        socks.append(connect(address))
    head = b"GET / HTTP/1.1\r\nHost: " + address.encode() + b"\r\nX-Slow: "
    sent = [0] * count
    state = ["open"] * count
    ended_at = [None] * count
    received = [b""] * count
    for i, sock in enumerate(socks):
        sock.setblocking(False)
    next_byte = start
    while time.monotonic() - start < seconds and "open" in state:
        now = time.monotonic()
        if now >= next_byte:
            next_byte = now + 1.0
            for i, sock in enumerate(socks):
                if state[i] != "open":
                    continue
                byte = head[sent[i]:sent[i] + 1] if sent[i] < len(head) else b"x"
                try:
                    sock.send(byte)
                    sent[i] += 1
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    pass
        live = [sock for i, sock in enumerate(socks) if state[i] == "open"]
        ready, _, _ = select.select(live, [], [], max(0.0, min(0.2, next_byte - time.monotonic())))
        for sock in ready:
            i = socks.index(sock)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                state[i], ended_at[i] = "reset", time.monotonic() - start
                continue
            except BlockingIOError:
                continue
            if chunk:
                received[i] += chunk
                continue
            status = split_response(received[i])[0] if received[i] else 0
            state[i] = f"status-{status}" if status else "closed"
            ended_at[i] = time.monotonic() - start
    for sock in socks:
        sock.close()
    summary = {}
    for s in state:
        summary[s] = summary.get(s, 0) + 1
    ended = [t for t in ended_at if t is not None]
    return {"outcomes": summary, "first_end": round(min(ended), 2) if ended else None,
            "last_end": round(max(ended), 2) if ended else None, "bytes_sent_each": max(sent)}


def slowread(address: str, count: int, path: str, seconds: float) -> dict:
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connect: the window stays small
        sock.settimeout(10)
        sock.connect((address, PORT))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
        socks.append(sock)
    time.sleep(seconds)
    outcomes = {}
    for sock in socks:
        # Read what is there without waiting: a reset connection says so at once.
        sock.setblocking(False)
        state = "open"
        try:
            while sock.recv(65536):
                pass
            state = "closed"
        except BlockingIOError:
            state = "open"
        except ConnectionResetError:
            state = "reset"
        outcomes[state] = outcomes.get(state, 0) + 1
        sock.close()
    return {"outcomes": outcomes}


def main() -> int:
    command, address, *rest = sys.argv[1:]
    if command == "head":
        result = head(address, rest[0])
    elif command == "pipeline":
        result = pipeline(address, rest)
    elif command == "body":
        result = body(address, rest[0])
    elif command == "errors":
        result = errors(address)
    elif command == "slowread":
        result = slowread(address, int(rest[0]), rest[1], float(rest[2]))
    elif command == "slowloris":
        result = slowloris(address, int(rest[0]), float(rest[1]))
    else:
        print(json.dumps({"error": f"unknown command {command}"}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
