#!/usr/bin/env bash
# Installs the real servers the integration tests start on loopback: Radicale and Xandikos
# (CalDAV/CardDAV) and WsgiDAV (WebDAV photos), into a venv under target/ so nothing touches
# the system Python. The Debian-packaged engines come from scripts/setup-dav-engines.sh.
# Idempotent and quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/test-venv
RADICALE_VERSION=3.9.0
WSGIDAV_VERSION=4.4.0
XANDIKOS_VERSION=0.4.10
if [ -x "$VENV/bin/radicale" ] && [ -x "$VENV/bin/wsgidav" ] && [ -x "$VENV/bin/xandikos" ] \
   && "$VENV/bin/python" -c "import radicale, wsgidav, cheroot, xandikos" 2>/dev/null \
   && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("radicale"))')" = "$RADICALE_VERSION" ]; then
  exit 0
fi
mkdir -p target
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "radicale==$RADICALE_VERSION" "wsgidav==$WSGIDAV_VERSION" "xandikos==$XANDIKOS_VERSION" cheroot
echo "test servers installed in $VENV"
