#!/usr/bin/env python3
"""Benchmark (not a test) of the window: time to the first frame from a start, and frame
times while scrolling and searching 50,000 contacts.

    python3 scripts/bench_gui.py [--runs 5] [--no-frames]

Start-up: the release binary is started under Xvfb (glow on Mesa's llvmpipe) with
LIFEBOAT_BENCH_FIRST_FRAME set; it prints the wall-clock time at which its second frame
began (so the first was on screen) and quits. The first run follows a drop of the page cache
when this user may do that (a cold start); the rest are warm. The reference, measured in the
same run, is the same binary printing `--version` (process start, no window). Targets: first
frame under 1 s.

Frames: `cargo bench --bench gui_frames` (see its header). Target: every frame under 16 ms.
Needs Xvfb (apt-get install -y xvfb).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "lifeboat")


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def first_frame_ms(env) -> float:
    started = time.time()
    proc = subprocess.run(
        [BIN, "gui"], env=env, capture_output=True, text=True, timeout=120
    )
    for line in proc.stderr.splitlines():
        if line.startswith("first-frame-shown-at-unix-ms="):
            return int(line.split("=", 1)[1]) - started * 1000.0
    sys.exit(f"no first frame reported (exit {proc.returncode}):\n{proc.stderr}")


def version_ms() -> float:
    started = time.time()
    subprocess.run([BIN, "--version"], check=True, capture_output=True)
    return (time.time() - started) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-frames", action="store_true")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)

    display = ":98"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    try:
        config = tempfile.mkdtemp()
        env = dict(os.environ, DISPLAY=display, LIFEBOAT_CONFIG_DIR=config,
                   LIFEBOAT_BENCH_FIRST_FRAME="1")
        env.pop("WAYLAND_DISPLAY", None)
        cold = drop_caches()
        first = first_frame_ms(env)
        warm = [first_frame_ms(env) for _ in range(args.runs)]
        reference = statistics.median(version_ms() for _ in range(args.runs))
    finally:
        xvfb.terminate()
        xvfb.wait()

    label = "cold (page cache dropped)" if cold else "first run (cache not droppable here)"
    print(f"first frame, {label}: {first:7.0f} ms")
    print(f"first frame, warm (median of {args.runs}): {statistics.median(warm):7.0f} ms"
          f"  (min {min(warm):.0f}, max {max(warm):.0f})")
    print(f"reference: `lifeboat --version` (median): {reference:7.1f} ms;"
          f" warm first frame = {statistics.median(warm) / reference:.0f}x that")
    print("target: first frame under 1000 ms")
    sys.stdout.flush()

    if not args.no_frames:
        subprocess.run(["cargo", "bench", "--bench", "gui_frames"], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
