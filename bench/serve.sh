#!/usr/bin/env bash
# Benchmark of `ptrec serve` (the node agent) on the ~2,000-function synthetic host:
#   - requests/s and latency with wrk on loopback for GET /metrics and GET /v1/state
#     (both served from the last reconcile, never by rediscovering the host);
#   - the server's resident memory (VmRSS from /proc/PID/status) idle after the first
#     reconcile, and after the load.
# Each wrk run is repeated (--runs, default 3) and the best is printed, with the load average:
# other work on the machine skews the figures. Targets: >= 20,000 req/s for /metrics on a
# 2-core machine, <= 15 MB RSS idle.
#
# Usage: bench/serve.sh [--runs N] [--seconds S] [--connections C] [--pfs P --vfs V]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 seconds=5 connections=8 pfs=16 vfs=120
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --pfs) pfs=$2; shift 2 ;;
    --vfs) vfs=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench/serve.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
scripts/install-deps
for tool in wrk curl; do
  command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
done
scripts/build >/dev/null

work=$(mktemp -d "${TMPDIR:-/dev/shm}/ptrec-bench-serve-XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

build/bench/ptrec_bench_host --pfs "$pfs" --vfs "$vfs" --out "$work/host" >/dev/null
functions=$(ls "$work/host/sys/bus/pci/devices" | wc -l)
build/ptrec serve --root "$work/host" --config "$work/host.yaml" --listen 127.0.0.1:0 --interval 1h 2>"$work/serve.log" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*msg="listening".* port=\([0-9]*\).*/\1/p' "$work/serve.log")
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/serve.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$pid/status"; }
sleep 2
idle_rss=$(rss)
reconcile=$(curl -s "http://127.0.0.1:$port/v1/status" | python3 -c 'import json,sys; print("%.0f ms" % (json.load(sys.stdin)["last_reconcile"]["duration_seconds"] * 1000))')

best() {  # best requests/s (and its latency line) of $runs wrk runs on $1
  local best_rps=0 best_line="" out rps
  for _ in $(seq "$runs"); do
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$port$1")
    rps=$(awk '/^Requests\/sec/ {print int($2)}' <<<"$out")
    if [ "$rps" -gt "$best_rps" ]; then
      best_rps=$rps
      best_line=$(awk '/^ +Latency +[0-9]/ {l=$2} / 50% / {p50=$2} / 99% / {p99=$2} /^Transfer/ {t=$2} END {printf "avg %s, p50 %s, p99 %s, %s/s", l, p50, p99, t}' <<<"$out")
    fi
  done
  printf "%-10s %8s req/s   (%s)\n" "$1" "$best_rps" "$best_line"
}

echo "ptrec serve on a synthetic host: $functions PCI functions ($pfs PFs x $vfs VFs), body sizes:" \
  "/metrics $(curl -s "http://127.0.0.1:$port/metrics" | wc -c) B, /v1/state $(curl -s "http://127.0.0.1:$port/v1/state" | wc -c) B"
echo "first reconcile (discover + plan + render): $reconcile; idle RSS after it: $idle_rss"
echo "wrk -t2 -c$connections -d${seconds}s, best of $runs; load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
best /metrics
best /v1/state
echo "RSS after the load: $(rss); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
