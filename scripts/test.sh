#!/usr/bin/env bash
# The test suite (README: "Run the tests"). Needs the packages .ci/run installs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets --no-fail-fast -- --test-threads=2
