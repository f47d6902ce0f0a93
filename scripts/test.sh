#!/usr/bin/env bash
# The whole test suite, from a fresh clone. Installs what the machine lacks
# (promtool from Debian's prometheus package; Python clients into .venv), then
# runs every test: Rust unit, property, golden, CLI and farm protocol tests
# (benches once in test mode), the fault-injection build, and the Python tests
# with real clients (openenv-core, openenv validate, httpx, promtool).
# Ends with one line: "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! need cargo; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi
if ! need promtool; then
    echo "installing promtool (Debian package prometheus)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq prometheus >/dev/null
fi
if ! need nginx && [ ! -x /usr/sbin/nginx ]; then
    echo "installing nginx (Debian package)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx >/dev/null
    # The package may start a system nginx; the tests run their own.
    as_root pkill -x nginx || true
fi
if ! need kubectl; then
    echo "kubectl is required for the deployment tests (kubectl kustomize)" >&2
    exit 1
fi
if [ ! -x .venv/bin/pip ]; then
    python3 -m venv .venv
fi
# Pinned clients; a no-op when they are already installed.
.venv/bin/pip install -q -r tests/python/requirements.txt

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run() { "$@" 2>&1 | tee -a "$log" || status=1; }

run cargo test --locked --all-targets
run cargo test --locked --features fault-injection --test farm_fault
cargo build --locked --quiet
run env MLOPS_BIN="$PWD/target/debug/mlops-debug-env" .venv/bin/pytest -q -p no:cacheprovider tests/python

passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
