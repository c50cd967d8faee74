#!/usr/bin/env bash
# Builds the gateway and the load generator (release), then runs the benchmark on SQLite
# and PostgreSQL (skipped when unreachable), then the SNAP client overhead (in process).
# Extra arguments go to `loadgen all`, e.g.
#   bench/run.sh --duration 20 --perf-dir /tmp/perf
# Result: a table on stdout and bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gateway -p bench
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/loadgen" all --gateway "$target_dir/release/gateway" "$@"
