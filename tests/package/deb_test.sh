#!/usr/bin/env bash
# The .deb (cmake/packaging.cmake): built with cpack from the build tree into a scratch folder,
# its control file checked (dpkg-deb --info and -f), unpacked with dpkg-deb -x (never dpkg -i
# here), and `yoke --version` run from the unpacked root.
#   deb_test.sh BUILD_DIR VERSION
set -euo pipefail
build="$1"
version="$2"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log" >&2; fail "cpack failed"; }
deb="$scratch/out/yoke_${version}_amd64.deb"
[ -f "$deb" ] || { ls "$scratch/out" >&2; fail "no $deb"; }
echo "built $(basename "$deb"), $(stat -c %s "$deb") bytes"

info="$(dpkg-deb --info "$deb")"
echo "$info" | sed -n '/Package:/,$p'
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = yoke ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends="$(field Depends)"
# From the binary's shared libraries (dpkg-shlibdeps), and adduser for postinst.
for lib in libc6 libgit2 libprotobuf libarchive libsystemd0 libssl adduser; do
  echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib: $depends"
done
echo "$info" | grep -q ' postinst' || fail "no postinst in the control archive"

root="$scratch/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$scratch/control"
for f in usr/bin/yoke usr/libexec/yoke/yoke-exec lib/systemd/system/yoke@.service \
         lib/systemd/system/yoke@.socket etc/yoke/hello.txtpb.example \
         usr/share/yoke/prometheus/yoke-alerts.yml usr/share/yoke/grafana/yoke.json \
         usr/share/doc/yoke/operations.md usr/share/doc/yoke/yoke-help.txt; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
[ -x "$root/usr/bin/yoke" ] || fail "/usr/bin/yoke not executable"
grep -qx 'ExecStart=/usr/bin/yoke run --config /etc/yoke/%i.txtpb' "$root/lib/systemd/system/yoke@.service" ||
  fail "the unit does not run /usr/bin/yoke"
grep -qx 'Type=notify' "$root/lib/systemd/system/yoke@.service" || fail "the unit is not Type=notify"
grep -q 'adduser --system' "$scratch/control/postinst" || fail "postinst creates no system user"
[ "$(stat -c %a "$scratch/control/postinst")" = 755 ] || fail "postinst is not 0755"
grep -qx '/etc/yoke/hello.txtpb.example' "$scratch/control/conffiles" || fail "conffiles"
grep -q 'yoke run --help' "$root/usr/share/doc/yoke/yoke-help.txt" || fail "help text lacks run"

out="$("$root/usr/bin/yoke" --version)"
echo "unpacked /usr/bin/yoke --version: $out"
echo "$out" | grep -q "$version" || fail "--version printed '$out', not $version"
echo "PASS"
