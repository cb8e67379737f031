#!/usr/bin/env bash
# The proxy benchmark: ../shared/bench/proxy_bench.sh with `yoke proxy` as the candidate
# (mirroring on), then again with the mirror target slowed to 200 ms per request. Prints the
# shared script's tables (medians, ratios against direct and nginx in the same run) and
# yoke's peak RSS in each run.
#   bash bench/proxy.sh                     defaults: CONNS="8 64 256" REPS=3 DURATION=10
#   CONNS=64 REPS=1 DURATION=3 bash bench/proxy.sh      a quick look
# Knobs: YOKE_PROXY_ARGS (more `yoke proxy` flags, e.g. "--body-sample-rate 0"),
# YOKE_THREADS (yoke's worker threads, default 1, like nginx's one worker),
# SHARED_BENCH (default ../shared/bench), SKIP_FAST=1, SKIP_SLOW=1, SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
YOKE_WITH_BENCH=1 bash scripts/setup.sh
# SKIP_BUILD=1: benchmark build/yoke as it is (built just before, under the shared build lock).
[ "${SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh normal
shared=$(cd "${SHARED_BENCH:-../shared/bench}" && pwd)
export YOKE="$PWD/build/yoke" FIXTURE="$PWD/build/fixture_service"
export YOKE_THREADS="${YOKE_THREADS:-1}" SLOW_PORT="${SLOW_PORT:-18098}"
out=$(mktemp -d /tmp/yoke-bench.XXXXXX)

# Samples the candidate's peak RSS (VmHWM) while the benchmark runs.
run() {
  local name=$1 cmd=$2
  echo "## $name"
  rm -f "$out/yoke.pid"
  RESULTS_DIR="$out/$name" CANDIDATE_CMD="$cmd" bash "$shared/proxy_bench.sh" &
  local bench=$!
  local peak=0
  while kill -0 "$bench" 2>/dev/null; do
    if [ -f "$out/yoke.pid" ]; then
      local kb
      kb=$(awk '/VmHWM/ {print $2}' "/proc/$(cat "$out/yoke.pid")/status" 2>/dev/null || echo 0)
      [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
    fi
    sleep 1
  done
  wait "$bench"
  echo "# yoke peak RSS ($name): $((peak / 1024)) MiB"
}

yoke_cmd='echo $$ > '"$out"'/yoke.pid; exec "$YOKE" proxy --listen 127.0.0.1:$CANDIDATE_PORT --running $BACKEND_A --testing $BACKEND_B --threads $YOKE_THREADS '"${YOKE_PROXY_ARGS:-}"
[ "${SKIP_FAST:-0}" = 1 ] || run fast-mirror "$yoke_cmd"
if [ "${SKIP_SLOW:-0}" != 1 ]; then
  slow_cmd='"$FIXTURE" --port $SLOW_PORT --delay-ms 200 >/dev/null 2>&1 & echo $$ > '"$out"'/yoke.pid; exec "$YOKE" proxy --listen 127.0.0.1:$CANDIDATE_PORT --running $BACKEND_A --testing 127.0.0.1:$SLOW_PORT --threads $YOKE_THREADS'
  run slow-mirror "$slow_cmd"
fi
echo "# raw runs: $out"
