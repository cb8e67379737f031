#!/usr/bin/env bash
# Configures (once) and builds yoke with ninja, -j2 and ccache.
#   scripts/build.sh          the normal build in build/
#   scripts/build.sh asan     the AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-normal}"
case "$kind" in
  normal) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DYOKE_SANITIZE=ON) ;;
  *) echo "usage: $0 [normal|asan]" >&2; exit 2 ;;
esac
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Paths relative to the checkout, so a fresh clone elsewhere hits the same cache entries.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
fi
# Progress lines are dropped; pipefail keeps ninja's exit status.
ninja -C "$dir" -j2 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
