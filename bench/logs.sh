#!/usr/bin/env bash
# The log ingestion benchmark, on one core: MB/s for yoke's tailer and classifier, a bare
# simdjson on-demand parse of the same file (same process), and jq, over a ~200 MB NDJSON file
# made by ../shared/bench/gen_logs.py. Every count is checked against the file's ERROR count.
#   bash bench/logs.sh [SIZE_MB=200] [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
YOKE_WITH_BENCH=1 bash scripts/setup.sh
bash scripts/build.sh normal
shared=$(cd "${SHARED_BENCH:-../shared/bench}" && pwd)
size=${1:-200} reps=${2:-5}
log=/tmp/yoke-bench-logs-${size}.ndjson
[ -s "$log" ] && [ -s "$log.expected" ] || python3 "$shared/gen_logs.py" "$log" "$size" >/dev/null
expected=$(cat "$log.expected")
cat "$log" >/dev/null  # warm the page cache
echo "# $log: $(stat -c %s "$log") bytes, $expected ERROR lines; one core (taskset -c 0)"
taskset -c 0 build/bench/yoke_log_bench "$log" "$expected" "$reps"
start=$(date +%s.%N)
count=$(taskset -c 0 jq -c 'select(.level=="ERROR")' "$log" | wc -l)
end=$(date +%s.%N)
awk -v b="$(stat -c %s "$log")" -v s="$start" -v e="$end" -v c="$count" -v x="$expected" \
  'BEGIN { printf "jq select(.level==\"ERROR\")       %8.1f MB/s  (count %s)\n", b/1e6/(e-s), (c==x ? "matches" : "DOES NOT match") }'
