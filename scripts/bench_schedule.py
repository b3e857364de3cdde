#!/usr/bin/env python3
"""Scheduled-run benchmark (not a test): a `lifeboat run` in which nothing changed, on the
10,000 contacts / 10,000 events / 2,000 to-dos / 300 photos dataset, against real Radicale and
WsgiDAV. Prints, measured in the same run:

  - lifeboat's no-change run: wall time, HTTP requests, bytes downloaded;
  - the server's cost of one request per collection: a sync-collection REPORT with a current
    token for each of the three collections plus one PROPFIND Depth 1 of the photo folder (curl);
  - vdirsyncer's no-change sync of the same collections (a second `vdirsyncer sync`);
  - rclone's no-change `copy` of the photos into a folder that already has them.

Usage: python3 scripts/bench_schedule.py [--contacts N] [--events N] [--todos N] [--photos N]
       [--photo-kib N] [--skip-vdirsyncer] [--skip-rclone] [--skip-build]
"""
import json, os, re, subprocess, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_export as be  # noqa: E402  (servers, seeding and tools are shared)

ROOT = be.ROOT
LIFEBOAT = ROOT / "target" / "release" / "lifeboat"


def lifeboat(config, *args):
    env = dict(os.environ, LIFEBOAT_PASSWORD=be.PASSWORD, LIFEBOAT_CONFIG_DIR=str(config))
    return subprocess.run([LIFEBOAT, *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def last_run(config):
    status = json.loads((config / "profiles" / "bench.status.json").read_text())
    return status["runs"][-1]


def sync_token(url):
    body = '<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>'
    answer = be.curl("-X", "PROPFIND", "-H", "Depth: 0", "-H", "Content-Type: application/xml",
                     "--data-binary", body, url)
    return re.search(rb"<(?:\w+:)?sync-token>([^<]+)<", answer).group(1).decode()


def server_reference(base, photos_url):
    """One request per collection: sync-collection with a current token, PROPFIND of photos."""
    total = 0.0
    for name in ["contacts", "calendar", "tasks"]:
        url = f"{base}{be.USER}/{name}/"
        token = sync_token(url)
        body = (f'<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token>'
                '<sync-level>1</sync-level><prop><getetag/></prop></sync-collection>')
        t, _ = be.timed(lambda: be.curl("-X", "REPORT", "-H", "Content-Type: application/xml",
                                        "--data-binary", body, url))
        total += t
    t, _ = be.timed(lambda: be.curl("-X", "PROPFIND", "-H", "Depth: infinity", "-H",
                                    "Content-Type: application/xml", "--data-binary",
                                    '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
                                    photos_url))
    # WsgiDAV may refuse Depth: infinity; one Depth 1 per folder is what lifeboat does.
    return total + t


def vdirsyncer_no_change(base, tmp):
    be.run_vdirsyncer(base, tmp)
    env = dict(os.environ, VDIRSYNCER_CONFIG=str(tmp / "vds.conf"))
    wall, _ = be.timed(lambda: subprocess.run([be.BENCH_VENV / "bin" / "vdirsyncer", "sync"],
                                              env=env, capture_output=True, check=True))
    return wall


def rclone_no_change(photos_url, tmp):
    if be.run_rclone(photos_url, tmp) is None:
        return None
    return be.run_rclone(photos_url, tmp)


def main():
    parser = be.dataset_arguments()
    parser.add_argument("--skip-build", action="store_true", help="use the existing release build")
    args = parser.parse_args()
    subprocess.run(["bash", ROOT / "scripts" / "setup-test-servers.sh"], check=True)
    if not args.skip_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        radicale, base = be.start_radicale(tmp)
        photo_root = tmp / "webdav"
        be.make_photos(photo_root, args.photos, args.photo_kib)
        webdav, webdav_base = be.start_webdav(tmp, photo_root)
        try:
            print(f"dataset: {args.contacts} contacts, {args.events} events, {args.todos} to-dos, "
                  f"{args.photos} photos of {args.photo_kib} KiB", flush=True)
            be.seed(base, args)
            photos_url = f"{webdav_base}Photos/"
            config, dest = tmp / "config", tmp / "snapshots"
            added = lifeboat(config, "profile", "add", "bench", "--url", base, "--user", be.USER,
                             "--photos-url", photos_url, "--dest", str(dest), "--every", "daily")
            if added.returncode != 0:
                sys.exit(added.stderr)
            first, _ = be.timed(lambda: lifeboat(config, "run", "bench"))
            print(f"  first run (everything): {first:.1f} s, {last_run(config)['message']}", flush=True)
            rounds = []
            for _ in range(3):
                wall, proc = be.timed(lambda: lifeboat(config, "run", "bench"))
                if proc.returncode != 0:
                    sys.exit(proc.stderr)
                run = last_run(config)
                rounds.append((wall, run["requests"], run["fetched_bytes"], run["fetched_items"]))
            wall, requests, fetched_bytes, fetched_items = min(rounds)
            reference = min(server_reference(base, photos_url) for _ in range(3))
            vds = None if args.skip_vdirsyncer else vdirsyncer_no_change(base, tmp / "vds-run")
            rclone = None if args.skip_rclone else rclone_no_change(photos_url, tmp)
            du = subprocess.run(["du", "-sh", "--count-links", str(dest)], capture_output=True,
                                text=True).stdout.split()[0]
            du_real = subprocess.run(["du", "-sh", str(dest)], capture_output=True,
                                     text=True).stdout.split()[0]
        finally:
            radicale.terminate()
            webdav.terminate()
    print("\nfigure                                            seconds")
    print(f"server: one request per collection (curl)         {reference:7.2f}")
    print(f"lifeboat run, nothing changed (best of 3)         {wall:7.2f}   {wall - reference:.2f} s above "
          f"the server's cost (target < 1 s); {requests} requests, {fetched_items} items and "
          f"{fetched_bytes} bytes downloaded (target 0)")
    if vds is not None:
        print(f"vdirsyncer sync, nothing changed                  {vds:7.2f}   lifeboat is {vds / wall:.1f}x faster")
    if rclone is not None:
        print(f"rclone copy of the photos, nothing changed        {rclone:7.2f}")
    print(f"5 snapshots on disk: {du} if every file were separate, {du_real} with hard links")


if __name__ == "__main__":
    main()
