#!/usr/bin/env bash
# Runs the real app under Xvfb and saves a PNG of each main screen into docs/screenshots/:
# the first-run welcome, accounts (a phone folder, checked at start), back up, restore (an
# archive opened as if dropped, with the plan for a folder target) and browse.
# Needs: xvfb, x11-apps (xwd), xdotool, imagemagick (apt-get install -y xvfb x11-apps xdotool imagemagick).
#
# `--size WxH` draws at another window size (800x600 and 1920x1080 are checked by eye before a
# release), and `--out DIR` saves there instead; the README's pictures are 960x680.
set -euo pipefail
# Debian's ImageMagick, ahead of any other `convert` on the PATH.
export PATH="/usr/bin:$PATH"
cd "$(dirname "$0")/.."
OUT=docs/screenshots
W=960
H=680
while [ $# -gt 0 ]; do
  case $1 in
    --size) W=${2%x*}; H=${2#*x}; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [--size WxH] [--out DIR]" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
cargo build --quiet
BIN=target/debug/lifeboat
WORK=$(mktemp -d)
trap 'kill $XVFB_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
# A display number Xvfb picks itself, so two runs side by side never share (or kill) one;
# -noreset keeps it from resetting (and refusing connections) each time the app quits.
Xvfb -displayfd 3 -noreset -screen 0 ${W}x${H}x24 -nolisten tcp 3>"$WORK/display" >/dev/null 2>&1 &
XVFB_PID=$!
for _ in $(seq 100); do
  [ -s "$WORK/display" ] && break
  sleep 0.1
done
export DISPLAY=":$(head -1 "$WORK/display")"

# A phone folder: contacts (one with a photo), a calendar with a weekly meeting, to-dos with
# subtasks, and a few photos in albums.
PHONE="$WORK/Old phone"
mkdir -p "$PHONE/DCIM/Holiday 2025" "$PHONE/DCIM/Garden"
convert -size 640x480 gradient:SkyBlue-SeaGreen "$PHONE/DCIM/Holiday 2025/IMG_0001.jpg"
convert -size 480x640 gradient:Gold-OrangeRed "$PHONE/DCIM/Holiday 2025/IMG_0002.jpg"
convert -size 640x480 plasma:Green-Yellow -seed 7 "$PHONE/DCIM/Garden/IMG_0003.jpg" 2>/dev/null \
  || convert -size 640x480 gradient:Green-Yellow "$PHONE/DCIM/Garden/IMG_0003.jpg"
FACE=$(convert -size 96x96 radial-gradient:Wheat-SaddleBrown jpg:- | base64 -w0)
{
  i=0
  for name in "Ann Example" "Björn Åberg" "Chloé Martin" "Dmitri Ivanov" "Eve Nguyen" \
              "Farah Haddad" "Gus O'Brien" "Hana Sato" "Ivo Novak" "Jun Park"; do
    i=$((i + 1))
    family=${name#* }; given=${name%% *}
    printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:shot-%s\r\nFN:%s\r\nN:%s;%s;;;\r\n' "$i" "$name" "$family" "$given"
    printf 'EMAIL;TYPE=home:%s@example.org\r\nTEL;TYPE=cell:+44 20 7946 %04d\r\n' "${given,,}" "$i"
    printf 'ADR;TYPE=home:;;%d High Street;Springfield;;12345;\r\n' "$i"
    if [ "$i" = 1 ]; then
      printf 'BDAY:1980-04-12\r\nNOTE:Met at the book club.\r\nPHOTO;ENCODING=b;TYPE=JPEG:%s\r\n' "$FACE"
    fi
    printf 'END:VCARD\r\n'
  done
} > "$PHONE/contacts.vcf"
# Dates around this month, so the agenda (which opens at today) has them on screen.
MONTH=$(date +%Y%m)
cat > "$PHONE/calendar.ics" <<ICS
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Lifeboat screenshots//EN
BEGIN:VEVENT
UID:shot-standup
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/London:${MONTH}01T090000
DTEND;TZID=Europe/London:${MONTH}01T091500
RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8
SUMMARY:Team stand-up
LOCATION:Room 4
ORGANIZER;CN=Ann Example:mailto:ann@example.org
ATTENDEE;CN=Björn Åberg;PARTSTAT=ACCEPTED:mailto:bjorn@example.org
ATTENDEE;CN=Chloé Martin;PARTSTAT=TENTATIVE:mailto:chloe@example.org
DESCRIPTION:What each of us did yesterday and will do today.
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT10M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:shot-birthday
DTSTAMP:20261101T000000Z
DTSTART;VALUE=DATE:${MONTH}04
SUMMARY:Grandma's birthday
RRULE:FREQ=YEARLY
END:VEVENT
BEGIN:VEVENT
UID:shot-dentist
DTSTAMP:20261101T000000Z
DTSTART:${MONTH}02T143000Z
DTEND:${MONTH}02T150000Z
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
ICS
cat > "$PHONE/tasks.ics" <<'ICS'
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Lifeboat screenshots//EN
BEGIN:VTODO
UID:shot-move
DTSTAMP:20261101T000000Z
SUMMARY:Move house
DUE:20261215T170000Z
END:VTODO
BEGIN:VTODO
UID:shot-boxes
DTSTAMP:20261101T000000Z
SUMMARY:Buy boxes
STATUS:COMPLETED
RELATED-TO;RELTYPE=PARENT:shot-move
END:VTODO
BEGIN:VTODO
UID:shot-address
DTSTAMP:20261101T000000Z
SUMMARY:Tell the bank the new address
RELATED-TO;RELTYPE=PARENT:shot-move
END:VTODO
BEGIN:VTODO
UID:shot-milk
DTSTAMP:20261101T000000Z
SUMMARY:Milk
END:VTODO
END:VCALENDAR
ICS
ARCHIVE="$WORK/lifeboat-2026-11-28"
"$BIN" export --device "$PHONE" --out "$ARCHIVE" >/dev/null
mkdir -p "$WORK/Restored copy"

CONFIG="$WORK/config"
mkdir -p "$CONFIG"
export LIFEBOAT_CONFIG_DIR="$CONFIG"

# Starts the app with "$@", waits until its window is drawn, runs the optional clicks in
# $CLICKS ("x,y x,y ..."), and saves the window as $OUT/$1.png.
shot() {
  local name=$1
  shift
  "$BIN" gui "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  local window=""
  for _ in $(seq 100); do
    window=$(xdotool search --name '^Lifeboat$' 2>/dev/null | head -1 || true)
    [ -n "$window" ] && break
    sleep 0.1
  done
  # Without a window manager the window keeps its first size: make it the screen's.
  if [ -n "$window" ]; then
    xdotool windowmove "$window" 0 0 windowsize "$window" "$W" "$H" 2>/dev/null || true
  fi
  sleep "${WAIT:-3}"
  for xy in ${CLICKS:-}; do
    xdotool mousemove "${xy%,*}" "${xy#*,}" click 1
    sleep 1.5
  done
  xdotool mousemove $((W - 5)) $((H - 5))
  sleep 0.5
  xwd -root -silent | convert xwd:- -crop ${W}x${H}+0+0 +repage "$OUT/$name.png"
  if ! kill "$pid" 2>/dev/null; then
    echo "the app had quit before its screenshot:" >&2
    cat "$WORK/$name.log" >&2
  fi
  wait "$pid" 2>/dev/null || true
  echo "saved $OUT/$name.png"
}

shot welcome
cat > "$CONFIG/config.json" <<JSON
{
  "version": 1,
  "accounts": [
    {"id": "phone", "name": "Old phone", "preset": "folder", "address": "$PHONE", "user": ""},
    {"id": "restored", "name": "Restored copy", "preset": "folder", "address": "$WORK/Restored copy", "user": ""}
  ],
  "backup_folder": "$WORK/Backups"
}
JSON
shot accounts
shot backup --screen backup
# Window coordinates of the widgets clicked (egui lays them out the same way every time).
# Restore: open "Restore into", pick "Restored copy", then "Show what will happen".
CLICKS="157,218 143,268 82,350" shot restore "$ARCHIVE"
# Browse: the first contact, whose card has a photo.
CLICKS="53,140" shot browse "$ARCHIVE" --screen browse
# Browse: the agenda (recurrences expanded), the to-do tree and the photo grid tabs.
CLICKS="151,67" shot browse-calendar "$ARCHIVE" --screen browse
# The first event of the month opened: its details above the agenda.
CLICKS="151,67 300,126" shot browse-event "$ARCHIVE" --screen browse
CLICKS="238,67" shot browse-todos "$ARCHIVE" --screen browse
CLICKS="320,67" shot browse-photos "$ARCHIVE" --screen browse
# Import: two Google Takeout parts given as if dropped onto the window; the offer shows what
# they hold and what Lifeboat leaves out.
TAKEOUT="$WORK/Downloads"
mkdir -p "$TAKEOUT"
python3 - "$TAKEOUT" "$PHONE" <<'PY'
import json, sys, zipfile
out, phone = sys.argv[1], sys.argv[2]
photos = "Takeout/Google Photos"
with zipfile.ZipFile(f"{out}/takeout-20261128T101010Z-001.zip", "w") as z:
    z.write(f"{phone}/contacts.vcf", "Takeout/Contacts/My Contacts/My Contacts.vcf")
    z.write(f"{phone}/calendar.ics", "Takeout/Calendar/alice@gmail.com.ics")
    z.writestr("Takeout/Tasks/Tasks.json", json.dumps({"items": [{"id": "L", "title": "My Tasks",
        "items": [{"id": "a", "title": "Pack boxes"}, {"id": "b", "title": "Tape", "parent": "a"}]}]}))
    z.write(f"{phone}/DCIM/Holiday 2025/IMG_0001.jpg", f"{photos}/Photos from 2025/IMG_0001.jpg")
    z.write(f"{phone}/DCIM/Holiday 2025/IMG_0002.jpg", f"{photos}/Photos from 2025/IMG_0002.jpg")
    z.writestr("Takeout/Mail/All mail Including Spam and Trash.mbox", "From x\n" * 5000)
with zipfile.ZipFile(f"{out}/takeout-20261128T101010Z-002.zip", "w") as z:
    for name in ["IMG_0001.jpg", "IMG_0002.jpg"]:
        z.writestr(f"{photos}/Photos from 2025/{name}.supplemental-metadata.json",
                   json.dumps({"title": name, "photoTakenTime": {"timestamp": "1751371200"}}))
    z.write(f"{phone}/DCIM/Holiday 2025/IMG_0001.jpg", f"{photos}/Holiday/IMG_0001.jpg")
    z.writestr(f"{photos}/Holiday/metadata.json", json.dumps({"title": "Holiday"}))
    z.writestr("Takeout/Drive/Taxes 2025.pdf", "%PDF-1.7")
PY
shot import "$TAKEOUT"/takeout-*.zip
# A damaged .zip (bytes flipped inside one photo): it still opens, and the plan into the
# restored-copy folder names the damaged file and restores the rest, photos included.
DAMAGED="$WORK/lifeboat-damaged.zip"
"$BIN" export --device "$PHONE" --out "$DAMAGED" >/dev/null
python3 - "$DAMAGED" "$PHONE/DCIM/Garden/IMG_0003.jpg" <<'PY'
import sys
zip_path, photo = sys.argv[1], sys.argv[2]
data = bytearray(open(zip_path, "rb").read())
inside = open(photo, "rb").read()[1000:1064]
at = data.find(inside)
assert at >= 0, "the photo is not stored as is in the zip"
data[at:at + len(inside)] = bytes(b ^ 0xFF for b in inside)
open(zip_path, "wb").write(data)
PY
CLICKS="157,218 143,268 82,350" shot restore-damaged "$DAMAGED"
