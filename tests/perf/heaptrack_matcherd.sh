#!/bin/sh
# heaptrack_matcherd.sh - run matcherd under heaptrack (Debian package
# heaptrack), which records every allocation with its call stack: what
# holds the daemon's own memory at its peak, by the code that allocated it.
# The daemon runs nearly as fast as without, so any size will do.
#
#   PASSERELLE_HEAPTRACK_MATCHERD=build/matcherd \
#   PASSERELLE_HEAPTRACK_OUT=/tmp/ht \
#   build/tests/bench_national --graduates 100000 --vacancies 100000 --reps 1 \
#       --store COPY --matcherd tests/perf/heaptrack_matcherd.sh
#   heaptrack_print -f /tmp/ht.zst --print-peaks 1 --print-allocators 0 \
#       --print-temporary 0 --print-leaks 0 -n 20
#
# heaptrack counts what was allocated, the kernel what was touched
# (RssAnon): a buffer allocated large and used in part weighs more in the
# first. matcherd --load runs as it is.
set -u
daemon=${PASSERELLE_HEAPTRACK_MATCHERD:?set PASSERELLE_HEAPTRACK_MATCHERD to the matcherd binary}
out=${PASSERELLE_HEAPTRACK_OUT:-heaptrack.matcherd}
for a in "$@"; do [ "$a" = "--load" ] && exec "$daemon" "$@"; done
command -v heaptrack >/dev/null || {
    echo "heaptrack_matcherd.sh: heaptrack is not installed (apt-get install heaptrack)" >&2
    exit 1
}
heaptrack -o "$out" "$daemon" "$@" >&2 &
ht=$!
# heaptrack runs the daemon as its own child: a stop must reach the daemon
child=""
while [ -z "$child" ] && kill -0 "$ht" 2>/dev/null; do
    sleep 0.1
    child=$(pgrep -P "$ht" -f "^$daemon " | head -1)
done
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
while kill -0 "$ht" 2>/dev/null; do
    wait "$ht"
done
wait "$ht"
