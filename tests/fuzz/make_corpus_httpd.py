#!/usr/bin/python3
"""Writes the seed corpus of the `http` and `tar` fuzz targets: tests/fuzz/corpus/{http,tar}/.

http: requests as curl, ab and browsers send them, and the classic malformations, each preceded
by the byte that chooses the piece size the target feeds them in. tar: small archives from
Python's tarfile in the ustar, pax and GNU formats (long names, implied directories).
Standard library only; the output is the same on every run.
"""

import io
import os
import shutil
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))

REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: 10.0.2.15\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    "head-range": b"HEAD /test/1M.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n",
    "range-suffix": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-500\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
    "ims": b"GET /a HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n\r\n",
    "ims-asctime": b"GET /a HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sun Nov  6 08:49:37 1994\r\n\r\n",
    "ab-keepalive": b"GET /about.txt HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 10.0.2.15\r\n"
                    b"User-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
    "pipelined": b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute": b"GET http://example.com:8080/a%20b/../c?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "lf-only": b"\n\nGET /x HTTP/1.1\nHost: y\nConnection: close\n\n",
    "body": b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
    "chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-version": b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    "bare-cr": b"GET / HTTP/1.1\rHost: x\r\n\r\n",
    "nul": b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
    "absurd-length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
}


def archive(fmt, members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for path, data in members:
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue().rstrip(b"\0")  # tarfile pads to 10 KiB records: keep the two end blocks only
    return data + b"\0" * (-len(data) % 512) + b"\0" * 1024


ARCHIVES = {
    "ustar-site": (tarfile.USTAR_FORMAT, [("css", None), ("index.html", b"<p>hi</p>\n"), ("css/a.css", b"p{}\n")]),
    "pax-long-path": (tarfile.PAX_FORMAT, [("d" * 120 + "/long-name.txt", b"x" * 10)]),
    "gnu-long-name": (tarfile.GNU_FORMAT, [("g" * 110, b"gnu long name\n")]),
    "implied-directories": (tarfile.USTAR_FORMAT, [("a/b/c/deep.txt", b"deep\n"), ("a-b", b"sibling\n")]),
}


def write(directory: str, items: dict) -> None:
    path = os.path.join(HERE, "corpus", directory)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for name, data in items.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
    print(f"corpus/{directory}: {len(items)} inputs, {sum(len(d) for d in items.values())} bytes")


def main() -> None:
    write("http", {name: bytes([i * 7]) + body for i, (name, body) in enumerate(REQUESTS.items())})
    write("tar", {name: archive(fmt, members) for name, (fmt, members) in ARCHIVES.items()})


if __name__ == "__main__":
    main()
