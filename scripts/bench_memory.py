#!/usr/bin/env python3
"""Peak-memory benchmark (not a test): how much memory Lifeboat holds while restoring a big
photo library, against the target of 150 MiB whatever the library's size (issue 19).

For each size in --gib (default 1 and 4) it writes that many GiB of 50 MiB photos into a
folder, archives the folder (`lifeboat export --device`), and measures the peak RSS (ru_maxrss
of that one process, from wait4) of:
  - the export itself (the reference: it streams each photo);
  - `lifeboat restore --to-folder` into an empty folder;
  - the same restore again (a re-plan: every photo is already there and is checked);
  - `lifeboat restore --photos-url` into an empty WsgiDAV folder (with --webdav);
  - `lifeboat verify` of the archive.
For each size in --text-gib (default 1) it also exports a device folder holding one `.vcf` of
that size (50 KB cards with a photo, a blank line between, so the file is kept whole too) and
then one `.ics` of that size (one calendar of 16 KB events, every tenth a recurrence override
of an event far before it), and the `.vcf` again with `\r` line ends only (old Macs): each
is cut as it is read. Their ratio is against the export
of as many GiB of photos in the same run (nan when --gib leaves that size out).

Usage: python3 scripts/bench_memory.py [--gib 1 4] [--text-gib 1] [--photo-mib 50] [--webdav]
                                      [--binary PATH]
The debug build (target/debug/lifeboat, what the tests build) is used unless --binary says
otherwise: peak memory is about what is held, which the optimisation level barely changes.
Needs about 3x the largest size in free disk under the temporary folder.
"""
import argparse, hashlib, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_export as bx  # noqa: E402  (shared server helpers)

TARGET_MIB = 150


def peak_mib(cmd, env=None):
    """Runs cmd; returns (exit status, peak RSS in MiB, seconds, stderr tail)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (proc.returncode, usage.ru_maxrss / 1024, time.perf_counter() - start,
            stderr.decode(errors="replace")[-400:])


def make_library(root, gib, photo_mib):
    """gib GiB of distinct photos; one random block, each photo's first bytes made unique."""
    block = os.urandom(photo_mib << 20)
    count = (gib << 10) // photo_mib
    for i in range(count):
        album = root / "DCIM" / f"Album {i % 4}"
        album.mkdir(parents=True, exist_ok=True)
        head = bytes([0xFF, 0xD8, 0xFF, 0xE1]) + hashlib.sha256(str(i).encode()).digest()
        with open(album / f"IMG_{i:04d}.jpg", "wb") as f:
            f.write(head)
            f.write(block[len(head):])
    return count


def make_vcf(path, gib, eol="\r\n"):
    photo = "".join(f" {os.urandom(36).hex()[:72]}{eol}" for _ in range(700))
    with open(path, "w", newline="") as f:
        n = 0
        while f.tell() < gib << 30:
            f.write(f"BEGIN:VCARD{eol}VERSION:3.0{eol}UID:card-{n}{eol}FN:Person {n}{eol}"
                    f"PHOTO;ENCODING=b;TYPE=JPEG:{eol}{photo}END:VCARD{eol}{eol}")
            n += 1
    return n


def make_vcf_cr(path, gib):
    """Old Mac line ends: not one \\n in the whole file."""
    return make_vcf(path, gib, "\r")


def make_ics(path, gib):
    text = "".join(f" {os.urandom(36).hex()[:72]}\r\n" for _ in range(220))
    with open(path, "w", newline="") as f:
        f.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
                "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n")
        n = 0
        while f.tell() < gib << 30:
            uid = f"event-{n // 2}" if n % 10 == 9 else f"event-{n}"
            override = "RECURRENCE-ID:20250108T100000\r\n" if n % 10 == 9 else ""
            f.write(f"BEGIN:VEVENT\r\nUID:{uid}\r\n{override}"
                    f"DTSTART;TZID=Europe/Berlin:20250101T100000\r\nSUMMARY:Event {n}\r\n"
                    f"DESCRIPTION:\r\n{text}END:VEVENT\r\n")
            n += 1
        f.write("END:VCALENDAR\r\n")
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--text-gib", type=int, nargs="*", default=[1])
    parser.add_argument("--photo-mib", type=int, default=50)
    parser.add_argument("--webdav", action="store_true", help="also restore into WsgiDAV")
    parser.add_argument("--binary", type=Path, default=bx.ROOT / "target" / "debug" / "lifeboat")
    args = parser.parse_args()
    if not args.binary.exists():
        sys.exit(f"{args.binary} is missing: run `cargo build` first")
    if args.webdav and not (bx.VENV / "bin" / "wsgidav").exists():
        sys.exit("WsgiDAV is missing: run scripts/setup-test-servers.sh first")
    lifeboat = str(args.binary)
    rows = []
    for gib in args.gib:
        with tempfile.TemporaryDirectory(prefix="lifeboat-mem-") as tmp:
            tmp = Path(tmp)
            count = make_library(tmp / "phone", gib, args.photo_mib)
            label = f"{gib} GiB ({count} x {args.photo_mib} MiB)"

            def run(what, cmd, env=None):
                status, peak, seconds, tail = peak_mib(cmd, env)
                rows.append((label, what, peak, seconds, status))
                if status not in (0,):
                    print(f"  {what}: exit {status}: {tail}", file=sys.stderr)

            run("export (reference)",
                [lifeboat, "export", "--device", str(tmp / "phone"), "--out", str(tmp / "archive")])
            shutil.rmtree(tmp / "phone")
            run("verify", [lifeboat, "verify", str(tmp / "archive")])
            run("restore to a folder",
                [lifeboat, "restore", str(tmp / "archive"), "--to-folder", str(tmp / "restored")])
            run("restore again (all there)",
                [lifeboat, "restore", str(tmp / "archive"), "--to-folder", str(tmp / "restored")])
            shutil.rmtree(tmp / "restored")
            if args.webdav:
                (tmp / "dav").mkdir()
                (tmp / "dav-root").mkdir()
                server, base = bx.start_webdav(tmp / "dav", tmp / "dav-root")
                try:
                    env = dict(os.environ, LIFEBOAT_PASSWORD=bx.PASSWORD)
                    run("restore into WsgiDAV",
                        [lifeboat, "restore", str(tmp / "archive"), "--photos-url", base,
                         "--user", bx.USER], env)
                finally:
                    server.terminate()
                    server.wait()
    for gib in args.text_gib:
        for name, make in (("contacts.vcf", make_vcf), ("contacts-cr.vcf", make_vcf_cr),
                           ("calendar.ics", make_ics)):
            with tempfile.TemporaryDirectory(prefix="lifeboat-mem-") as tmp:
                tmp = Path(tmp)
                (tmp / "phone").mkdir()
                count = make(tmp / "phone" / name, gib)
                start = time.perf_counter()
                status, peak, seconds, tail = peak_mib(
                    [lifeboat, "export", "--device", str(tmp / "phone"), "--out",
                     str(tmp / "archive")])
                rows.append((f"{gib} GiB {name}", f"export ({count} items)", peak, seconds, status))
                if status != 0:
                    print(f"  export of {name}: exit {status}: {tail}", file=sys.stderr)
    print(f"\npeak memory (max RSS), target < {TARGET_MIB} MiB whatever the library's size")
    print(f"{'library':24} {'run':28} {'peak MiB':>9} {'seconds':>8} {'x export':>9}  exit")
    reference = {label: peak for label, what, peak, _, _ in rows if what.startswith("export")}
    photo_export = {label.split(" (")[0]: peak for label, what, peak, _, _ in rows
                    if what == "export (reference)"}
    for label, what, peak, seconds, status in rows:
        # A text file's export is compared with the export of as many GiB of photos.
        if "." in label:
            base = photo_export.get(label.split(" GiB")[0] + " GiB")
        else:
            base = reference.get(label)
        ratio = peak / base if base else float("nan")
        print(f"{label:24} {what:28} {peak:9.0f} {seconds:8.1f} {ratio:9.2f}  {status}")
    worst = max(peak for _, _, peak, _, _ in rows)
    print(f"worst peak {worst:.0f} MiB: {'under' if worst < TARGET_MIB else 'OVER'} the target")


if __name__ == "__main__":
    main()
