#!/usr/bin/env bash
# The test command: installs the real test servers (Radicale, WsgiDAV) into target/test-venv,
# then runs every unit, contract, integration and corpus test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-servers.sh
cargo test --all-targets "$@"
