#!/usr/bin/env bash
# Installs the Debian-packaged CalDAV/CardDAV engines the compatibility matrix
# (tests/engines.rs) starts on loopback: Cyrus IMAP with its CalDAV/CardDAV modules
# (Fastmail's engine). Needs root and apt-get; the packages' own services are never started
# (policy-rc.d), the tests run each engine with throwaway storage of their own.
# Idempotent and quick when already done.
set -euo pipefail
packages=(cyrus-imapd cyrus-caldav cyrus-admin sasl2-bin)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-dav-engines: not root or no apt-get; the engine matrix skips ${missing[*]}" >&2
  exit 0
fi
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
echo "engines installed: ${missing[*]}"
