#!/usr/bin/env bash
# Sets up, builds and runs every test: formatting, then the suite in the normal build and
# again under AddressSanitizer + UndefinedBehaviorSanitizer, then the request-rule fuzzer for
# 60 s (YOKE_FUZZ_SECONDS). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== format (clang-format, .clang-format)"
unformatted=$(git ls-files '*.h' '*.cc' | xargs clang-format --dry-run -Werror 2>&1 | grep -E '^[^ ].*error' | cut -d: -f1 | sort -u || true)
if [ -n "$unformatted" ]; then
  echo "not clang-formatted (run: clang-format -i FILE):"; echo "$unformatted"; exit 1
fi

for kind in normal asan; do
  dir=build; retry=()
  # Under GCC 12's ASan a fork can (rarely) hang before exec when another thread holds the
  # sanitizer's allocator lock (its runtime predates the fix that locks it around fork); the
  # sanitizer pass retries a failed test once. The normal build never retries.
  [ "$kind" = asan ] && dir=build-asan && retry=(--repeat until-pass:2)
  echo "== build ($kind)"
  bash scripts/build.sh "$kind"
  echo "== test ($kind)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" -j2 --output-on-failure --timeout 300 "${retry[@]}" |
    { grep -vE '^ *Start |Test +#[0-9]+: .* Passed' || true; }
done
echo "== fuzz (the proxy's request rules, clang + ASan + UBSan, 60 s)"
bash bench/fuzz.sh "${YOKE_FUZZ_SECONDS:-60}"
echo "== all tests passed (normal and sanitizer builds, fuzzer)"
