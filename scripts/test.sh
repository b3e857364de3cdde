#!/usr/bin/env bash
# The test command: installs the real test servers (Radicale, Xandikos, WsgiDAV) into
# target/test-venv and the Debian-packaged engines (Cyrus; as root),
# then runs every unit, contract, integration, GUI and corpus test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where dbus and gnome-keyring are installed, the tests run on a private session bus with a
# throwaway Secret Service (its files in a temporary folder), so the keyring test uses a real
# keyring and never the developer's own.
if [ -z "${LIFEBOAT_TEST_KEYRING:-}" ] && command -v dbus-run-session >/dev/null \
   && command -v gnome-keyring-daemon >/dev/null; then
  export LIFEBOAT_TEST_KEYRING=1
  exec dbus-run-session -- bash "$0" "$@"
fi
if [ "${LIFEBOAT_TEST_KEYRING:-}" = 1 ]; then
  keyring_home=$(mktemp -d)
  trap 'rm -rf "$keyring_home"' EXIT
  printf 'throwaway' | XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets >/dev/null
fi
bash scripts/setup-test-servers.sh
bash scripts/setup-dav-engines.sh
cargo test --all-targets "$@"
