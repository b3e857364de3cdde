#!/usr/bin/env python3
"""Takeout import benchmark (not a test): builds a Google Takeout of --gib GiB in --parts zip
parts (photos of --photo-mib MiB stored as Takeout stores them, each with a sidecar, a quarter
of them also in an album, plus contacts, a calendar and Tasks.json), then in the same run:

  - `lifeboat export --takeout PARTS --out ARCHIVE`: wall time, throughput over the zip bytes
    and peak memory (max RSS), with the archive verified after;
  - `unzip -q` of the same parts into a folder: wall time and throughput (the reference: it
    only unpacks, writing every album copy again).

Usage: python3 scripts/bench_takeout.py [--gib 2] [--parts 4] [--photo-mib 4] [--keep]
Needs `unzip` and about 3 × --gib of free disk under target/.
"""
import argparse, json, os, random, resource, shutil, subprocess, sys, time, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIFEBOAT = ROOT / "target" / "release" / "lifeboat"


def build_takeout(folder, gib, parts, photo_mib):
    photo_bytes = photo_mib * 1024 * 1024
    photos = max(1, int(gib * 1024 / photo_mib * 0.8))  # album copies make up the rest
    per_part = (photos + parts - 1) // parts
    rng = random.Random(7)
    block = rng.randbytes(1024 * 1024)
    paths = []
    number = 0
    for part in range(parts):
        path = folder / f"takeout-20261128T101010Z-{part + 1:03}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            if part == 0:
                cards = "".join(
                    f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {i}\r\nN:{i};Person;;;\r\n"
                    f"EMAIL:p{i}@example.org\r\nEND:VCARD\r\n" for i in range(2000))
                z.writestr("Takeout/Contacts/My Contacts/My Contacts.vcf", cards,
                           zipfile.ZIP_DEFLATED)
                events = "".join(
                    f"BEGIN:VEVENT\r\nUID:e{i}@google.com\r\nDTSTAMP:20261128T000000Z\r\n"
                    f"DTSTART:20260101T{i % 24:02}0000Z\r\nSUMMARY:Event {i}\r\nEND:VEVENT\r\n"
                    for i in range(2000))
                z.writestr("Takeout/Calendar/alice@gmail.com.ics",
                           f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google//EN\r\n{events}"
                           "END:VCALENDAR\r\n", zipfile.ZIP_DEFLATED)
                tasks = {"items": [{"id": "L", "title": "My Tasks", "items": [
                    {"id": f"t{i}", "title": f"Task {i}", "status": "needsAction",
                     **({"parent": f"t{i - 1}"} if i % 3 else {})} for i in range(500)]}]}
                z.writestr("Takeout/Tasks/Tasks.json", json.dumps(tasks), zipfile.ZIP_DEFLATED)
            for _ in range(per_part):
                if number >= photos:
                    break
                number += 1
                name = f"IMG_{number:05}.jpg"
                header = number.to_bytes(8, "little")
                body = header + (block * (photo_bytes // len(block) + 1))[:photo_bytes - 8]
                year = f"Takeout/Google Photos/Photos from {2015 + number % 10}"
                z.writestr(f"{year}/{name}", body)
                sidecar = json.dumps({"title": name,
                                      "photoTakenTime": {"timestamp": str(1_500_000_000 + number)}})
                z.writestr(f"{year}/{name}.supplemental-metadata.json", sidecar,
                           zipfile.ZIP_DEFLATED)
                if number % 4 == 0:
                    album = f"Takeout/Google Photos/Album {number % 7}"
                    z.writestr(f"{album}/{name}", body)
                    z.writestr(f"{album}/{name}.supplemental-metadata.json", sidecar,
                               zipfile.ZIP_DEFLATED)
        paths.append(path)
    return paths, photos


def timed(command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{command[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    # ru_maxrss of children is the largest any child reached, in KiB on Linux.
    return wall, after.ru_maxrss / 1024, proc


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--photo-mib", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="leave the files in target/")
    args = parser.parse_args()
    if not LIFEBOAT.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = ROOT / "target" / "bench-takeout"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        print(f"building a {args.gib} GiB Takeout in {args.parts} parts…", flush=True)
        parts, photos = build_takeout(work, args.gib, args.parts, args.photo_mib)
        zip_bytes = sum(p.stat().st_size for p in parts)
        mib = zip_bytes / 1024 / 1024
        subprocess.run(["sync"])

        # unzip first so that both runs find the parts equally warm in the page cache.
        unzip_dir = work / "unzipped"
        unzip_wall = 0.0
        for part in parts:
            wall, _, _ = timed(["unzip", "-q", "-o", str(part), "-d", str(unzip_dir)])
            unzip_wall += wall
        shutil.rmtree(unzip_dir)
        subprocess.run(["sync"])

        archive = work / "archive"
        wall, peak_mib, proc = timed(["/usr/bin/env", str(LIFEBOAT), "export", "--takeout",
                                      *map(str, parts), "--out", str(archive)])
        manifest = json.loads((archive / "manifest.json").read_text())
        archived_photos = sum(1 for i in manifest["items"] if i["kind"] == "photo")
        verify = subprocess.run([LIFEBOAT, "verify", str(archive)], capture_output=True, text=True)

        print(f"Takeout: {len(parts)} parts, {mib:.0f} MiB, {photos} distinct photos "
              f"of {args.photo_mib} MiB (a quarter also in an album)")
        print(f"lifeboat export --takeout: {wall:6.1f} s  {mib / wall:7.1f} MiB/s  "
              f"peak memory {peak_mib:.0f} MiB  photos archived {archived_photos}  "
              f"verify {'ok' if verify.returncode == 0 else 'FAILED'}")
        print(f"unzip -q (reference):       {unzip_wall:6.1f} s  {mib / unzip_wall:7.1f} MiB/s")
        print(f"ratio lifeboat/unzip wall time: {wall / unzip_wall:.2f}")
        if archived_photos != photos or verify.returncode != 0:
            sys.exit("the archive is incomplete")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
