#!/usr/bin/env bash
# Builds the libFuzzer target over the proxy's request rules (tests/proxy/http_rules_fuzz.cc)
# with clang, ASan and UBSan, and runs it for a bounded time from the seeds in
# tests/proxy/fuzz_seeds/ plus a working corpus in build-fuzz/corpus/.
#   bash bench/fuzz.sh          # 600 s: a long run
#   bash bench/fuzz.sh 60       # the test command's run
# A crash leaves its input in build-fuzz/ (crash-*): turn it into a test in tests/proxy/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
out=build-fuzz
mkdir -p "$out/corpus"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
launcher=(); command -v ccache >/dev/null && launcher=(ccache)
if [ ! -x "$out/http_rules_fuzz" ] || [ -n "$(find proxy/http_rules.cc proxy/http_rules.h \
    proxy/response_head.cc proxy/response_head.h tests/proxy/http_rules_fuzz.cc \
    -newer "$out/http_rules_fuzz")" ]; then
  # Beast header-only here (no separate compilation): the target needs its parser alone.
  "${launcher[@]}" clang++ -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I. -c proxy/http_rules.cc -o "$out/http_rules.o"
  "${launcher[@]}" clang++ -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I. -c proxy/response_head.cc -o "$out/response_head.o"
  "${launcher[@]}" clang++ -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I. -c tests/proxy/http_rules_fuzz.cc -o "$out/fuzz.o"
  clang++ -fsanitize=fuzzer,address,undefined "$out/http_rules.o" "$out/response_head.o" \
    "$out/fuzz.o" \
    -o "$out/http_rules_fuzz"
fi
echo "fuzz: http_rules_fuzz for ${seconds} s"
rc=0
"$out/http_rules_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus" tests/proxy/fuzz_seeds >"$out/last.log" 2>&1 || rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|Done [0-9]+ runs|ERROR|SUMMARY|http_rules_fuzz:' \
  "$out/last.log" || true
if [ "$rc" -ne 0 ]; then echo "fuzz: failed (rc $rc); see $out/last.log and $out/crash-*"; exit 1; fi
