#!/usr/bin/env bash
# bench/run.sh — tinyscale's benchmark in one command, from a fresh clone.
#
# Builds tinyscale, fakebbb, the fixed-302 baseline and the bench runner
# into bench/out/ (gitignored), then runs the runner: a fleet of fakebbb
# processes, tinyscale in front, the baseline beside it, all on 127.0.0.1,
# driven by `tinyscale load`. Prints the results table with PASS/MISS per
# target and saves it to bench/out/results.{txt,json}.
#
#   bench/run.sh              full run (a few minutes)
#   bench/run.sh --quick      smoke test for CI (under a minute)
#   bench/run.sh --profile    also capture a CPU profile of the join path
#   bench/run.sh -h           all runner flags
#
# Every process started is stopped on exit, also on Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"

echo "bench: building into $out/" >&2
# tinyscale, fakebbb and the baseline are built as `make build` and the
# Dockerfile build the released binary (static, no symbol table), so that
# memory figures are those of what is deployed.
release() { CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' "$@"; }
release -o "$out/tinyscale" ./cmd/tinyscale
release -o "$out/fakebbb" ./cmd/fakebbb
release -o "$out/baseline" ./bench/baseline
go build -o "$out/runner" ./bench/runner

# The runner stops its children itself (and on Linux the kernel kills them
# if it dies). As a last resort, stop any child it recorded that is still
# running, by PID, if it is still one of our binaries.
cleanup() {
	local pidfile="$out/pids"
	[ -f "$pidfile" ] || return 0
	while read -r pid name; do
		[ -n "${pid:-}" ] || continue
		if kill -0 "$pid" 2>/dev/null; then
			comm=$(ps -p "$pid" -o comm= 2>/dev/null || true)
			case "$comm" in
			tinyscale | fakebbb | baseline) kill -TERM "$pid" 2>/dev/null || true ;;
			esac
		fi
	done <"$pidfile"
	rm -f "$pidfile"
}
trap cleanup EXIT

set +e
"$out/runner" --bin "$out" --out "$out" --repo . "$@"
code=$?
set -e
exit "$code"
