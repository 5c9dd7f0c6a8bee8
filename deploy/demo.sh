#!/bin/sh
# Passerelle demo: install what is missing, build, run matcherd on its
# embedded defaults (in a throw-away working directory), post the demo
# events, show the acks and the daemon's stats, then stop cleanly.
# Usage: ./deploy/demo.sh
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
./deploy/install-deps.sh

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/passerelle-demo.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== starting matcherd on its embedded defaults (store in $work/passerelle-data)"
(cd "$work" && exec "$root/build/matcherd") 2>"$work/matcherd.log" &
pid=$!
i=0
until "$root/build/matchctl" health --timeout 200 >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 50 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "matcherd did not start; its log:" >&2
        cat "$work/matcherd.log" >&2
        exit 1
    fi
    sleep 0.1
done
sed 's/^/  matcherd| /' "$work/matcherd.log"

echo "== posting deploy/demo/events.jsonl (the last event is wrong on purpose)"
"$root/build/matchctl" post deploy/demo/events.jsonl || true

echo "== posting the same file again: every event is now a duplicate"
"$root/build/matchctl" post deploy/demo/events.jsonl || true

echo "== stats"
"$root/build/matchctl" stats

echo "== stopping matcherd"
kill -TERM "$pid"
wait "$pid" || true
pid=""
sed 's/^/  matcherd| /' "$work/matcherd.log" | tail -n 1
cat <<'TXT'

To run the daemon for real:
  build/matcherd --data /var/lib/passerelle        # loopback endpoints 7401-7403
  build/matchctl post events.jsonl                 # post events (JSON lines)
  build/matchctl stats                             # counts
See README.md for the flags, the configuration file and the event format.
TXT
