#!/usr/bin/env bash
# The demo: sets up, builds, then runs yoke on the bundled sample service in a temp base
# folder on 127.0.0.1. Leaves no process behind and exits 0 when everything worked.
set -euo pipefail
cd "$(dirname "$0")/.."
YOKE_NO_BROWSER=1 bash scripts/setup.sh
bash scripts/build.sh normal
exec python3 scripts/demo.py --yoke build/yoke --sample build/fixture_service "$@"
