#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the machine lacks,
# then runs every test (unit, property, golden, CLI, protocol; benches once in
# test mode) and ends with one line: "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --all-targets 2>&1 | tee "$log" || status=$?

passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
