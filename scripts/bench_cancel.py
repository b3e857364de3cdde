#!/usr/bin/env python3
"""Cancel-latency benchmark (not a test): how long Lifeboat takes to stop after Cancel while
photos arrive slowly, against the target of 2 s (issue 20).

A small WebDAV server written here lists --photos photos and sends each at --rate bytes a
second. `lifeboat export --photos-url …` is started, interrupted (SIGINT, what Ctrl-C and the
window's Cancel both turn into a cancel) after --after seconds, and timed until it exits;
each run also checks that no archive was left behind. The reference in the same run is the
time the same binary takes to start and exit (`lifeboat --version`).

Usage: python3 scripts/bench_cancel.py [--runs 5] [--after 2] [--binary PATH]
"""
import argparse, os, signal, statistics, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 2.0


class Slow(BaseHTTPRequestHandler):
    photos, rate = 4, 1

    def log_message(self, *args):
        pass

    def do_PROPFIND(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        items = "".join(
            f"<d:response><d:href>/photos/p{i}.jpg</d:href><d:propstat><d:prop><d:resourcetype/>"
            f"<d:getcontentlength>100000</d:getcontentlength></d:prop>"
            f"<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
            for i in range(type(self).photos))
        body = ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/photos/'
                '</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>'
                '</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>'
                f"{items}</d:multistatus>").encode()
        self.send_response(207)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b"x" * type(self).rate)
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--after", type=float, default=2.0)
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "debug" / "lifeboat")
    args = parser.parse_args()
    if not args.binary.exists():
        sys.exit(f"{args.binary} is missing: run `cargo build` first")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/photos/"
    latencies, starts = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([str(args.binary), "--version"], capture_output=True, check=True)
        starts.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory(prefix="lifeboat-cancel-") as tmp:
            out = Path(tmp) / "archive"
            proc = subprocess.Popen([str(args.binary), "export", "--photos-url", url,
                                     "--out", str(out)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(args.after)
            pressed = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            proc.wait()
            latencies.append(time.perf_counter() - pressed)
            left = sorted(p.name for p in Path(tmp).iterdir())
            if left:
                print(f"  left behind: {left}", file=sys.stderr)
    server.shutdown()
    print(f"\ncancel while {Slow.photos} photos arrive at {Slow.rate} byte/s, "
          f"{args.runs} runs, target < {TARGET_S} s")
    print(f"  cancel to exit: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print(f"  reference (start and exit, --version): median "
          f"{statistics.median(starts) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
