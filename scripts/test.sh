#!/usr/bin/env bash
# Sets up, builds and runs every test: formatting, then the suite in the normal build and
# again under AddressSanitizer + UndefinedBehaviorSanitizer, then the request-rule fuzzer for
# 60 s (YOKE_FUZZ_SECONDS). Exits non-zero on any failure, and when any process the suite
# started is still alive at the end (each is named and killed).
set -euo pipefail
cd "$(dirname "$0")/.."

# Every process the suite starts inherits this mark in its environment, whatever its parent or
# process group becomes; at the end none may be alive. (This shell's own /proc environ is the one
# it was started with, so it does not carry the mark; only what it runs from here on does.)
export YOKE_TEST_RUN="$$-$(date +%s%N)-$RANDOM"

# Live processes that carry the mark, as "pid command line", except this script and its
# ancestors. Pure bash (no child process of its own that could carry the mark).
marked_processes() {
  local skip=" " p=$$ dir pid entry line arg
  while [ "${p:-0}" -gt 1 ]; do
    skip+="$p "
    p=$(while read -r key value; do [ "$key" = PPid: ] && echo "$value"; done <"/proc/$p/status" 2>/dev/null)
  done
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $skip == *" $pid "* ]] && continue
    { while IFS= read -r -d '' entry; do
        if [ "$entry" = "YOKE_TEST_RUN=$YOKE_TEST_RUN" ]; then
          line=""
          while IFS= read -r -d '' arg; do line+="$arg "; done <"$dir/cmdline"
          echo "$pid ${line:-?}"
          break
        fi
      done <"$dir/environ"; } 2>/dev/null || true
  done
}

# Runs at exit, passed or failed: gives what the suite started a few seconds to end (25 scans,
# 0.2 s apart), then names and kills (by pid) whatever is left, and fails.
check_leftovers() {
  local status=$? left="" i
  for ((i = 0; i < 25; i++)); do
    left=$(marked_processes)
    [ -z "$left" ] && break
    sleep 0.2
  done
  if [ -n "$left" ]; then
    echo "== processes started by the suite are still alive (killed now):"
    echo "$left"
    while read -r pid _; do kill -KILL "$pid" 2>/dev/null || true; done <<<"$left"
    status=1
  else
    echo "== no process started by the suite is left"
  fi
  exit "$status"
}
trap check_leftovers EXIT

bash scripts/setup.sh

echo "== format (clang-format, .clang-format)"
unformatted=$(git ls-files '*.h' '*.cc' | xargs clang-format --dry-run -Werror 2>&1 | grep -E '^[^ ].*error' | cut -d: -f1 | sort -u || true)
if [ -n "$unformatted" ]; then
  echo "not clang-formatted (run: clang-format -i FILE):"; echo "$unformatted"; exit 1
fi

for kind in normal asan; do
  dir=build
  [ "$kind" = asan ] && dir=build-asan
  echo "== build ($kind)"
  bash scripts/build.sh "$kind"
  echo "== test ($kind)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" -j2 --output-on-failure --timeout 300 |
    { grep -vE '^ *Start |Test +#[0-9]+: .* Passed' || true; }
done
echo "== fuzz (the proxy's request rules, clang + ASan + UBSan, 60 s)"
bash bench/fuzz.sh "${YOKE_FUZZ_SECONDS:-60}"
echo "== all tests passed (normal and sanitizer builds, fuzzer)"
