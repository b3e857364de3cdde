#!/usr/bin/env python3
"""Restore benchmark (not a test): builds an archive from a seeded Radicale + WsgiDAV, then, in
the same run, restores it into fresh, empty servers and times:

  - `lifeboat restore` (address books, calendars, to-do lists and photos): wall time, items/s,
    Lifeboat's own CPU time and the Radicale process's CPU time (the server is the floor);
  - the same with `--one-by-one` (no one-request address book upload), with --compare-one-by-one;
  - vdirsyncer uploading the same vdirs (the archive's contacts/ and calendars/ folders) into
    another empty Radicale, stopped after --vdirsyncer-timeout seconds (items counted then).

Usage: python3 scripts/bench_restore.py [--contacts N] [--events N] [--todos N] [--photos N]
       [--photo-kib N] [--vdirsyncer-timeout S] [--skip-vdirsyncer] [--compare-one-by-one]
Small set: --contacts 1000 --events 1000 --todos 200 --photos 50 (the default).
Large set: --contacts 10000 --events 10000 --todos 2000 --photos 300.
"""
import argparse, os, re, resource, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_export as bx  # noqa: E402  (shared server helpers)

ROOT = bx.ROOT
USER, PASSWORD = bx.USER, bx.PASSWORD
LIFEBOAT = ROOT / "target" / "release" / "lifeboat"


def process_cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_items(base, collection):
    listing = bx.curl("-X", "PROPFIND", "-H", "Depth: 1", "-H", "Content-Type: application/xml",
                      "--data-binary", '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
                      f"{base}{USER}/{collection}/")
    return max(0, len(re.findall(rb"<(?:\w+:)?response>", listing)) - 1)


def lifeboat_restore(archive, tmp, label, extra=()):
    for prefix in ("radicale-", "webdav-"):
        (tmp / f"{prefix}{label}").mkdir()
    radicale, base = bx.start_radicale(tmp / f"radicale-{label}")
    photos_root = tmp / f"photos-{label}"
    photos_root.mkdir()
    webdav, webdav_base = bx.start_webdav(tmp / f"webdav-{label}", photos_root)
    try:
        env = dict(os.environ, LIFEBOAT_PASSWORD=PASSWORD)
        server_cpu = process_cpu_seconds(radicale.pid)
        own_cpu = children_cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.run([LIFEBOAT, "restore", archive, "--url", base, "--user", USER,
                               "--photos-url", webdav_base, *extra],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        own_cpu = children_cpu_seconds() - own_cpu
        server_cpu = process_cpu_seconds(radicale.pid) - server_cpu
        if proc.returncode != 0:
            sys.exit(f"lifeboat restore failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return wall, own_cpu, server_cpu, proc.stdout.strip()
    finally:
        radicale.terminate()
        webdav.terminate()


def vdirsyncer_upload(archive, tmp, timeout):
    (tmp / "radicale-vds").mkdir()
    radicale, base = bx.start_radicale(tmp / "radicale-vds")
    try:
        if not (bx.BENCH_VENV / "bin" / "vdirsyncer").exists():
            subprocess.run([sys.executable, "-m", "venv", bx.BENCH_VENV], check=True)
            subprocess.run([bx.BENCH_VENV / "bin" / "pip", "install", "-q", "vdirsyncer"], check=True)
        work = tmp / "vds"
        work.mkdir()
        config = f'[general]\nstatus_path = "{work}/status/"\n'
        for kind, storage, ext in [("contacts", "carddav", ".vcf"), ("calendars", "caldav", ".ics")]:
            config += f"""
[pair {kind}]
a = "{kind}_archive"
b = "{kind}_server"
collections = ["from a"]
[storage {kind}_archive]
type = "filesystem"
path = "{archive}/{kind}/"
fileext = "{ext}"
[storage {kind}_server]
type = "{storage}"
url = "{base}"
username = "{USER}"
password = "{PASSWORD}"
"""
        (work / "vds.conf").write_text(config)
        env = dict(os.environ, VDIRSYNCER_CONFIG=str(work / "vds.conf"))
        vds = bx.BENCH_VENV / "bin" / "vdirsyncer"
        subprocess.run([vds, "discover"], env=env, input=b"y\n" * 50, capture_output=True, check=True)
        server_cpu = process_cpu_seconds(radicale.pid)
        start = time.perf_counter()
        proc = subprocess.Popen([vds, "sync"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=timeout)
            finished = proc.returncode == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            finished = False
        wall = time.perf_counter() - start
        server_cpu = process_cpu_seconds(radicale.pid) - server_cpu
        uploaded = sum(count_items(base, c.name) for kind in ("contacts", "calendars")
                       for c in (archive / kind).iterdir() if c.is_dir())
        return wall, uploaded, finished, server_cpu
    finally:
        radicale.terminate()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--todos", type=int, default=200)
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--photo-kib", type=int, default=1024)
    parser.add_argument("--vdirsyncer-timeout", type=float, default=900)
    parser.add_argument("--skip-vdirsyncer", action="store_true")
    parser.add_argument("--compare-one-by-one", action="store_true")
    args = parser.parse_args()
    subprocess.run(["bash", ROOT / "scripts" / "setup-test-servers.sh"], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    dav_items = args.contacts + args.events + args.todos
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "source").mkdir()
        radicale, base = bx.start_radicale(tmp / "source")
        photo_root = tmp / "source-photos"
        bx.make_photos(photo_root, args.photos, args.photo_kib)
        webdav, webdav_base = bx.start_webdav(tmp / "source", photo_root)
        archive = tmp / "archive"
        try:
            print(f"dataset: {args.contacts} contacts, {args.events} events, {args.todos} to-dos, "
                  f"{args.photos} photos of {args.photo_kib} KiB", flush=True)
            bx.seed(base, args)
            env = dict(os.environ, LIFEBOAT_PASSWORD=PASSWORD)
            subprocess.run([LIFEBOAT, "export", "--url", base, "--user", USER, "--photos-url",
                            f"{webdav_base}Photos/", "--out", archive], env=env, check=True,
                           capture_output=True)
        finally:
            radicale.terminate()
            webdav.terminate()
        wall, own_cpu, server_cpu, summary = lifeboat_restore(archive, tmp, "lifeboat")
        print(summary, flush=True)
        one_by_one = None
        if args.compare_one_by_one:
            one_by_one = lifeboat_restore(archive, tmp, "one-by-one", ["--one-by-one"])
        vds = None if args.skip_vdirsyncer else vdirsyncer_upload(archive, tmp, args.vdirsyncer_timeout)
    total = dav_items + args.photos
    print("\nfigure                                        seconds  items/s")
    print(f"lifeboat restore, everything                  {wall:7.1f}  {total / wall:7.1f}")
    print(f"  Lifeboat's own CPU {own_cpu:.1f} s = {own_cpu / server_cpu:.1%} of Radicale's CPU "
          f"{server_cpu:.1f} s (target < 5%)")
    if one_by_one:
        w, o, s, _ = one_by_one
        print(f"lifeboat restore --one-by-one                 {w:7.1f}  {total / w:7.1f}   "
              f"(own CPU {o:.1f} s, Radicale CPU {s:.1f} s)")
    if vds:
        w, uploaded, finished, s = vds
        state = "finished" if finished else f"stopped after {w:.0f} s with {uploaded} of {dav_items} items"
        print(f"vdirsyncer upload of the vdirs (no photos)    {w:7.1f}  {uploaded / w:7.1f}   {state}, Radicale CPU {s:.1f} s")
        if finished:
            print(f"  lifeboat items/s vs vdirsyncer: {(total / wall) / (uploaded / w):.2f}x (target >= 1.5x)")


if __name__ == "__main__":
    main()
