#!/usr/bin/env bash
# Assembles Lifeboat.app from a release build: Contents/MacOS/lifeboat, Contents/Info.plist
# (version taken from Cargo.toml) and Contents/Resources/lifeboat.icns. Run on macOS after
# `cargo build --release` (or pass another binary); the result goes to target/Lifeboat.app.
# Signing and notarising need an Apple developer account and are not done here.
set -euo pipefail
cd "$(dirname "$0")/../.."
BINARY=${1:-target/release/lifeboat}
APP=target/Lifeboat.app
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
rm -rf "$APP"
mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
cp "$BINARY" "$APP/Contents/MacOS/lifeboat"
cp assets/icons/lifeboat.icns "$APP/Contents/Resources/"
sed "s|<string>0.1.0</string>|<string>$VERSION</string>|g" packaging/macos/Info.plist \
  > "$APP/Contents/Info.plist"
echo "made $APP"
