#!/usr/bin/env bash
# Installs every Debian package yoke's build, demo and tests need, and nothing else.
# Quick when everything is present: apt-get update runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  libboost1.81-dev
  libgit2-dev libssl-dev
  libprotobuf-dev protobuf-compiler
  libsimdjson-dev
  libspdlog-dev libfmt-dev
  libcli11-dev
  libarchive-dev
  libsystemd-dev  # sd_notify: Type=notify, WATCHDOG=1, STATUS= (platform/systemd_notify)
  libcurl4-openssl-dev  # the one HTTP client: http and https artifacts, the CLI, the probe
  libkainjow-mustache-dev  # templates rendered per instance (core/template_render)
  age  # secrets in meta: decrypted at instance start, `yoke meta secret set` (platform/age)
  prometheus  # promtool: the alert rules are checked by `promtool check rules` (ctest)
  libgtest-dev libgmock-dev
  curl python3 git
  nginx-light  # tests/integration/containment_test.cc runs a real nginx under yoke
  systemd  # systemd-socket-activate: the socket-activation test (tests/integration/upgrade_test)
  clang libclang-rt-14-dev  # the libFuzzer target over the proxy's request rules (bench/fuzz.sh)
  # meta against real git servers (tests/meta/remote_test, tests/integration/meta_remote_test):
  # sshd with git-shell, and git http-backend through fcgiwrap behind nginx with a test CA
  openssh-server openssh-client fcgiwrap openssl
)
# chromium: tests/browser/status_page_test.py loads the status page headless (part of the suite);
# the demo does not need it (demo.sh sets YOKE_NO_BROWSER=1).
if [ "${YOKE_NO_BROWSER:-0}" != 1 ]; then packages+=(chromium fonts-dejavu-core); fi
# libbenchmark-dev: bench/rules_bench.cc (built only when CMake finds it).
if [ "${YOKE_WITH_BENCH:-0}" = 1 ]; then packages+=(wrk jq libbenchmark-dev); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
