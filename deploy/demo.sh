#!/bin/sh
# Passerelle demo: install what is missing, build, run matcherd on its
# embedded defaults (in a throw-away working directory), load a population
# of production-school graduates and industrial vacancies built from the
# real reference data, show the ranked, explained matches, follow one
# employer's feed live while a welder is hired, a vacancy is filled and a
# new graduate arrives, then stop cleanly.
#
# Usage: ./deploy/demo.sh
# Environment (for the test suite): PASSERELLE_DEMO_BUILD=DIR uses an
# existing build instead of installing and building; PASSERELLE_DEMO_ARGS
# adds matcherd flags (e.g. other endpoints, with PASSERELLE_INGEST,
# PASSERELLE_FEED and PASSERELLE_QUERY set to match for matchctl).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -n "${PASSERELLE_DEMO_BUILD:-}" ]; then
    build=$PASSERELLE_DEMO_BUILD
else
    ./deploy/install-deps.sh
    echo "== building"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
    build=$root/build
fi
matchctl=$build/matchctl
employer=31234567800011

work=$(mktemp -d "${TMPDIR:-/tmp}/passerelle-demo.XXXXXX")
pid=""
sub=""
cleanup() {
    for p in $sub $pid; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Show feed lines (JSON) as one readable line each.
show_feed() {
    /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    t = json.loads(line)
    u = t["update"]
    kind = u.get("kind", "").replace("MATCH_KIND_", "").lower()
    who = u.get("graduateId") or "(erased)"
    if kind == "left":
        why = u.get("leftReason", "").replace("LEFT_REASON_", "").lower().replace("_", " ")
        print("  #%-5s %-8s %-28s %-20s (%s)" % (u["sequence"], kind, u["vacancyId"], who, why))
    else:
        print("  #%-5s %-8s %-28s %-20s rank %-2s score %.3f" % (u["sequence"], kind,
              u["vacancyId"], who, u.get("rank", 0), u.get("score", 0)))
' "$@"
}

echo "== starting matcherd on its embedded defaults (store in $work/passerelle-data)"
# shellcheck disable=SC2086
(cd "$work" && exec "$build/matcherd" ${PASSERELLE_DEMO_ARGS:-}) 2>"$work/matcherd.log" &
pid=$!
i=0
until "$matchctl" health --timeout 200 >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "matcherd did not start; its log:" >&2
        cat "$work/matcherd.log" >&2
        exit 1
    fi
    sleep 0.1
done
sed 's/^/  matcherd| /' "$work/matcherd.log"

echo "== following employer/$employer (an aeronautics firm in Tarbes) from sequence 0"
"$matchctl" subscribe "employer/$employer" >"$work/feed.jsonl" 2>"$work/subscribe.log" &
sub=$!

echo "== act 1: schools publish 27 graduates, federations post 10 vacancies"
"$matchctl" post deploy/demo/population.jsonl
echo
for v in v-aero-tarbes-soudeur v-chimie-lacq-soudeur v-aero-blagnac-avionique \
         v-ceram-limoges-faconnier; do
    echo "-- ranked matches of $v"
    "$matchctl" matches vacancy "$v" --limit 5
    echo
done
echo "-- and the other way round: the vacancies of graduate ep-tarbes-2026-004"
"$matchctl" matches graduate ep-tarbes-2026-004
echo

sleep 1
n1=$(wc -l <"$work/feed.jsonl")
echo "== the employer's feed so far ($n1 updates, first ones):"
head -n 8 "$work/feed.jsonl" | show_feed

echo
echo "== act 2: ep-tarbes-2026-001 is hired, v-aero-tarbes-chaudronnier is filled,"
echo "   a new TIG welder from Séméac is published"
"$matchctl" post deploy/demo/changes.jsonl
sleep 1
echo "-- what the employer's subscriber received (retractions, then refills):"
tail -n +"$((n1 + 1))" "$work/feed.jsonl" | show_feed
echo
echo "-- ranked matches of v-aero-tarbes-soudeur now"
"$matchctl" matches vacancy v-aero-tarbes-soudeur --limit 5

echo
echo "== posting the population again: every event is a duplicate, nothing changes"
"$matchctl" post deploy/demo/population.jsonl
echo
echo "== stats"
"$matchctl" stats

echo "== stopping"
kill -TERM "$sub" 2>/dev/null || true
wait "$sub" 2>/dev/null || true
sub=""
kill -TERM "$pid"
wait "$pid" || true
pid=""
sed 's/^/  matcherd| /' "$work/matcherd.log" | tail -n 2
cat <<'TXT'

To run the daemon for real:
  build/matcherd --data /var/lib/passerelle --config deploy/matcherd.conf.example
  build/matchctl post events.jsonl            # post events (JSON lines, see README)
  build/matchctl matches vacancy ID           # ranked, explained matches
  build/matchctl subscribe employer/SIRET     # follow a feed, with replay
  build/matchctl stats                        # counters
See README.md for the flags, the configuration and the protocol.
TXT
