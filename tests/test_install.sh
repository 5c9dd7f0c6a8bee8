#!/bin/sh
# Installation, as deploy/install.sh does it:
# 1. `cmake --install` of this build into a DESTDIR staging directory lays
#    out the expected files, and the unit names the prefix's matcherd;
# 2. a build configured like install.sh's (PASSERELLE_USE_INSTALLED_REFERENCE=ON)
#    installed into a temporary prefix: its unit passes systemd-analyze
#    verify, and its matcherd starts on its defaults' reference data (the
#    installed copy), on ipc:// endpoints and a temporary store, and
#    answers `matchctl health`.
# Usage: test_install.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
tmp=$(mktemp -d /tmp/passerelle-install.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

# 1. DESTDIR staging
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr/local >"$tmp/stage.log" 2>&1 ||
    { cat "$tmp/stage.log"; fail "cmake --install into DESTDIR"; }
s="$tmp/stage/usr/local"
for f in bin/matcherd bin/matchctl share/passerelle/matcherd.conf.example \
    share/passerelle/reference/VERSION share/passerelle/reference/communes.tsv \
    share/passerelle/reference/rome.tsv share/passerelle/reference/rncp.tsv \
    share/passerelle/reference/skills.tsv share/passerelle/reference/rome_skills.tsv \
    share/passerelle/reference/mobility.tsv share/passerelle/reference/PROVENANCE.md \
    lib/systemd/system/matcherd.service share/doc/passerelle/OPERATIONS.md; do
    [ -s "$s/$f" ] || fail "not installed: /usr/local/$f"
done
[ -x "$s/bin/matcherd" ] && [ -x "$s/bin/matchctl" ] || fail "binaries not executable"
grep -qxF "ExecStart=/usr/local/bin/matcherd --config /etc/passerelle/matcherd.conf" \
    "$s/lib/systemd/system/matcherd.service" || fail "the unit does not name /usr/local/bin/matcherd"
cmp -s "$src/deploy/reference/communes.tsv" "$s/share/passerelle/reference/communes.tsv" ||
    fail "installed reference differs from the shipped one"
echo "ok: DESTDIR staging holds the expected files"

# 2. A build that defaults to the installed reference, installed to a prefix
p="$tmp/prefix"
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
    -DPASSERELLE_USE_INSTALLED_REFERENCE=ON -DCMAKE_INSTALL_PREFIX="$p" >"$tmp/cfg.log" 2>&1 ||
    { cat "$tmp/cfg.log"; fail "configure"; }
nice -n 10 cmake --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log"; fail "build"; }
cmake --install "$tmp/build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "install"; }
out=$(systemd-analyze verify "$p/lib/systemd/system/matcherd.service" 2>&1) ||
    fail "systemd-analyze verify of the installed unit: $out"
[ -z "$out" ] || fail "systemd-analyze verify of the installed unit: $out"
echo "ok: the installed unit passes systemd-analyze verify"

q="ipc://$tmp/query.sock"
"$p/bin/matcherd" --data "$tmp/data" --ingest "ipc://$tmp/ingest.sock" --feed "ipc://$tmp/feed.sock" \
    --query "$q" 2>"$tmp/matcherd.log" &
pid=$!
i=0
until "$p/bin/matchctl" health --query "$q" --timeout 500 >"$tmp/health.out" 2>&1; do
    i=$((i + 1))
    if [ $i -ge 40 ] || ! kill -0 "$pid" 2>/dev/null; then
        cat "$tmp/matcherd.log" "$tmp/health.out"
        fail "the installed matcherd did not become ready"
    fi
done
grep -qx "live ready" "$tmp/health.out" || fail "health said: $(cat "$tmp/health.out")"
grep -q "reference .* from $p/share/passerelle/reference:" "$tmp/matcherd.log" ||
    { cat "$tmp/matcherd.log"; fail "matcherd did not load the installed reference data"; }
kill -TERM "$pid"
wait "$pid" || fail "matcherd exited non-zero after SIGTERM"
pid=""
echo "ok: the installed matcherd started on the installed reference data and answered health"
echo "3 passed, 0 failed"
