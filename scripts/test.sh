#!/usr/bin/env bash
# The test suite (README: "Run the tests"). Needs the packages .ci/run installs.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# Unit and integration tests (real sockets, real peers).
cargo test --locked --workspace --no-fail-fast --lib --bins --tests -- --test-threads=2 || status=1
# Documentation examples compile (and run where they are not `no_run`).
cargo test --locked --workspace --no-fail-fast --doc || status=1
# Benchmarks compile and run once each (criterion's test mode), as a smoke check.
cargo test --locked --workspace --no-fail-fast --benches || status=1
exit $status
