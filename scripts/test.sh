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
    # The tests start their own nginx on free ports; a system nginx the
    # package may start is left alone (this script stops only what it started).
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx >/dev/null
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
# checkov pins packaging<24 (pytest needs >=24): its own venv.
if [ ! -x .venv-checkov/bin/pip ]; then
    python3 -m venv .venv-checkov
fi
.venv-checkov/bin/pip install -q -r tests/python/requirements-checkov.txt
# The dashboard's type check: @grafana/schema and TypeScript, pinned by
# tests/grafana/package-lock.json, into tests/grafana/node_modules.
if ! need npm; then
    echo "npm is required for the dashboard schema check (Debian package npm)" >&2
    exit 1
fi
if [ ! -x tests/grafana/node_modules/.bin/tsc ]; then
    (cd tests/grafana && npm ci --no-audit --no-fund --silent)
fi
echo "stage setup: ${SECONDS} s"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# One stage: its output goes to the log, then its wall time is printed.
run() {
    local name=$1 t0=$SECONDS
    shift
    "$@" 2>&1 | tee -a "$log" || status=1
    echo "stage ${name}: $((SECONDS - t0)) s"
}

run "rust tests" cargo test --locked --all-targets --no-fail-fast
run "fault injection" cargo test --locked --features fault-injection --test farm_fault
run "build" cargo build --locked --quiet
run "python tests" env MLOPS_BIN="$PWD/target/debug/mlops-debug-env" .venv/bin/pytest -q -p no:cacheprovider tests/python
echo "all stages: ${SECONDS} s"

passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
