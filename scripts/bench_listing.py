#!/usr/bin/env python3
"""Peak-memory benchmark (not a test): how much memory Lifeboat holds while reading a huge
PROPFIND listing, against the target of 150 MiB (issue 19).

A small WebDAV server written here answers PROPFIND on /photos/ with a listing generated on
the fly, and every other request with 404; `lifeboat export --photos-url … --dry-run` lists
the folder and writes nothing. Peak RSS (ru_maxrss of that one process, from wait4) for:
  - a listing of 1,000 files (the reference: the process itself);
  - a listing of --files files (default 1,000,000: about 200 MB of XML);
  - a listing of 100,000 files, each with a ~9 KB property nobody asked for (about 900 MB).

Usage: python3 scripts/bench_listing.py [--files N] [--binary PATH] [--before PATH]
--before runs an older build of lifeboat on the same listings, in the same run.
"""
import argparse, os, socket, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MIB = 150
HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:">'
SELF = (b"<d:response><d:href>/photos/</d:href><d:propstat><d:prop><d:resourcetype>"
        b"<d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status>"
        b"</d:propstat></d:response>")
TAIL = b"</d:multistatus>\n"


def response(i, padding):
    note = b'<x:note xmlns:x="urn:x">' + b"n" * padding + b"</x:note>" if padding else b""
    return (b"<d:response><d:href>/photos/IMG_%07d.jpg</d:href><d:propstat><d:prop>"
            b'<d:getetag>"%016x"</d:getetag><d:getcontentlength>%d</d:getcontentlength>'
            b"<d:resourcetype/>%s</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
            b"</d:response>" % (i, i * 7919, 100_000 + i, note))


class Listing(BaseHTTPRequestHandler):
    files, padding = 0, 0

    def log_message(self, *args):
        pass

    def do_PROPFIND(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.rstrip("/") != "/photos":
            self.send_error(404)
            return
        cls = type(self)
        length = len(HEAD) + len(SELF) + len(TAIL) + sum(
            len(response(i, cls.padding)) for i in range(cls.files))
        self.send_response(207)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(HEAD + SELF)
        batch = []
        for i in range(cls.files):
            batch.append(response(i, cls.padding))
            if len(batch) == 1000:
                self.wfile.write(b"".join(batch))
                batch = []
        self.wfile.write(b"".join(batch) + TAIL)

    def do_GET(self):
        self.send_error(404)


def peak_mib(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    return (os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024,
            time.perf_counter() - start, stderr.decode(errors="replace")[-300:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "debug" / "lifeboat")
    parser.add_argument("--before", type=Path)
    args = parser.parse_args()
    binaries = [("now", args.binary)] + ([("before", args.before)] if args.before else [])
    for _, binary in binaries:
        if not binary.exists():
            sys.exit(f"{binary} is missing: run `cargo build` first")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Listing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/photos/"
    cases = [("1,000 files (reference)", 1000, 0),
             (f"{args.files:,} files", args.files, 0),
             ("100,000 files + 9 KB each", 100_000, 9000)]
    rows = []
    for label, files, padding in cases:
        Listing.files, Listing.padding = files, padding
        xml_mib = (len(HEAD) + len(SELF) + len(TAIL)
                   + sum(len(response(i, padding)) for i in range(files))) / 2**20
        for build, binary in binaries:
            with tempfile.TemporaryDirectory(prefix="lifeboat-listing-") as tmp:
                status, peak, seconds, tail = peak_mib(
                    [str(binary), "export", "--photos-url", url, "--dry-run",
                     "--out", str(Path(tmp) / "never")])
            if status != 0:
                print(f"  {build} {label}: exit {status}: {tail}", file=sys.stderr)
            rows.append((label, xml_mib, build, peak, seconds, status))
    server.shutdown()
    reference = {build: peak for label, _, build, peak, _, _ in rows if "reference" in label}
    print(f"\npeak memory (max RSS) listing one photo folder, target < {TARGET_MIB} MiB")
    print(f"{'listing':28} {'XML MiB':>8} {'build':7} {'peak MiB':>9} {'seconds':>8}"
          f" {'x ref':>6}  exit")
    for label, xml_mib, build, peak, seconds, status in rows:
        print(f"{label:28} {xml_mib:8.0f} {build:7} {peak:9.0f} {seconds:8.1f}"
              f" {peak / reference[build]:6.2f}  {status}")


if __name__ == "__main__":
    main()
