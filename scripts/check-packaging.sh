#!/usr/bin/env bash
# CI's packaging checks: the icons match their SVG source, the desktop entry and AppStream
# metadata validate, the macOS plist and the WiX source parse, and a .deb is built, installed
# with dpkg -i and run from /usr/bin. Installs the tools it needs (Debian packages, cargo-deb).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
command -v appstreamcli >/dev/null || need+=(appstream)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash scripts/make-icons.sh --check
desktop-file-validate packaging/linux/org.lifeboat.Lifeboat.desktop
appstreamcli validate --no-net packaging/linux/org.lifeboat.Lifeboat.metainfo.xml
python3 - <<'PY'
import plistlib, tomllib, xml.etree.ElementTree as ET
version = tomllib.load(open("Cargo.toml", "rb"))["package"]["version"]
plist = plistlib.load(open("packaging/macos/Info.plist", "rb"))
assert plist["CFBundleIdentifier"] == "org.lifeboat.Lifeboat", plist
assert plist["CFBundleExecutable"] == "lifeboat", plist
assert plist["CFBundleIconFile"] == "lifeboat.icns", plist
assert plist["CFBundleShortVersionString"] == version, (plist, version)
assert plist["LSMinimumSystemVersion"], plist
wix = ET.parse("packaging/windows/lifeboat.wxs").getroot()
assert wix.tag.endswith("Wix"), wix.tag
print(f"Info.plist (version {version}) and lifeboat.wxs parse")
PY

# The .deb, from the debug build the tests use (a release build would add half an hour).
# `cargo test --no-run` builds the binary with the same features as the test run that
# follows in CI, so nothing is compiled twice.
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet
cargo test --no-run --quiet
cargo deb --no-build --profile dev --quiet
deb=$(ls -t target/debian/lifeboat_*.deb | head -1)
depends=$(dpkg-deb --field "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$')
apt-get install -y -qq $depends >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $depends >/dev/null; }
dpkg -i "$deb" >/dev/null
dpkg -L lifeboat | grep -q '^/usr/share/applications/org.lifeboat.Lifeboat.desktop$'
dpkg -L lifeboat | grep -q '^/usr/share/icons/hicolor/256x256/apps/org.lifeboat.Lifeboat.png$'
/usr/bin/lifeboat --version
dpkg -r lifeboat >/dev/null
echo "packaging checks passed: $deb"
