#!/usr/bin/env bash
# Installs the Debian-packaged CalDAV/CardDAV engines the compatibility matrix
# (tests/engines.rs) starts on loopback: Cyrus IMAP with its CalDAV/CardDAV modules
# (Fastmail's engine), DAViCal (Apache with PHP, PostgreSQL) and SOGo (with memcached);
# and adb, the Android debug bridge whose real server the phone tests (tests/android.rs)
# connect to a simulated phone.
# Needs root and apt-get; the packages' own services are never started (policy-rc.d): the
# tests run each engine with throwaway storage, database and web server of their own.
# Idempotent and quick when already done.
set -euo pipefail
packages=(cyrus-imapd cyrus-caldav cyrus-admin sasl2-bin sogo memcached
          davical postgresql apache2 libapache2-mod-php php-pgsql adb)
# DAViCal's settings for requests to 127.0.0.1: the test harness runs its own PostgreSQL and
# says where in LIFEBOAT_PG (Apache's SetEnv).
write_davical_conf() {
  [ -d /etc/davical ] && [ -w /etc/davical ] || return 0
  cat > /etc/davical/127.0.0.1-conf.php <<'PHP'
<?php
// Written by Lifeboat's scripts/setup-dav-engines.sh for its test engines.
$c->pg_connect[] = $_SERVER['LIFEBOAT_PG'] ?? "dbname=davical user=davical_app";
$c->admin_email = 'calendar-admin@example.org';
$c->system_name = 'Lifeboat test DAViCal';
PHP
}
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  write_davical_conf
  exit 0
fi
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
write_davical_conf
echo "engines installed: ${missing[*]}"
