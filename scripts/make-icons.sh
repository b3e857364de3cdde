#!/usr/bin/env bash
# Makes every icon file from assets/lifeboat.svg: PNGs from 16 to 512 px, a Windows .ico and a
# macOS .icns (both hold PNGs). Deterministic: running it again yields identical files, which
# `scripts/make-icons.sh --check` verifies (CI does). Needs rsvg-convert (librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=assets/icons
if [ "${1:-}" = "--check" ]; then
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT"
SIZES="16 24 32 48 64 128 256 512"
for size in $SIZES; do
  rsvg-convert --width "$size" --height "$size" assets/lifeboat.svg --output "$OUT/lifeboat-$size.png"
done
python3 - "$OUT" <<'PY'
import struct, sys
out = sys.argv[1]
png = lambda size: open(f"{out}/lifeboat-{size}.png", "rb").read()

# .ico: a directory of PNG images (Windows Vista and later read PNG entries).
sizes = [16, 24, 32, 48, 64, 128, 256]
images = [png(s) for s in sizes]
ico = struct.pack("<HHH", 0, 1, len(sizes))
offset = 6 + 16 * len(sizes)
for size, data in zip(sizes, images):
    ico += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
    offset += len(data)
open(f"{out}/lifeboat.ico", "wb").write(ico + b"".join(images))

# .icns: typed PNG chunks (icp4 16, icp5 32, icp6 64, ic07 128, ic08 256, ic09 512).
chunks = b""
for kind, size in [(b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256), (b"ic09", 512)]:
    data = png(size)
    chunks += kind + struct.pack(">I", 8 + len(data)) + data
open(f"{out}/lifeboat.icns", "wb").write(b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks)
PY
if [ "${1:-}" = "--check" ]; then
  for file in "$OUT"/*; do
    if ! cmp -s "$file" "assets/icons/$(basename "$file")"; then
      echo "assets/icons/$(basename "$file") does not match assets/lifeboat.svg: run scripts/make-icons.sh" >&2
      exit 1
    fi
  done
  [ "$(ls "$OUT" | wc -l)" = "$(ls assets/icons | wc -l)" ] || { echo "assets/icons holds other files" >&2; exit 1; }
  echo "icons match assets/lifeboat.svg"
fi
