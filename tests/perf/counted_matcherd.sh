#!/bin/sh
# counted_matcherd.sh - run matcherd and count the user-space instructions
# it executes, for benchmarks on a shared, noisy machine where wall time
# varies run to run but instruction counts do not.
#
# Use it as bench_ingest's daemon:
#   PASSERELLE_COUNTED_MATCHERD=build/matcherd \
#   PASSERELLE_COUNTED_OUT=/tmp/counts.txt \
#   build/tests/bench_ingest --matcherd tests/perf/counted_matcherd.sh ...
# On SIGTERM or SIGINT the signal goes to matcherd; when it has exited,
# `perf stat` (attached to it) writes its counts to PASSERELLE_COUNTED_OUT.
# The pid bench_ingest sees is this script's, so its RSS column is not
# matcherd's: the wrapper appends matcherd's own memory lines (VmRSS,
# VmHWM, RssAnon, RssFile) at the stop request to PASSERELLE_COUNTED_OUT.rss.
set -u
daemon=${PASSERELLE_COUNTED_MATCHERD:?set PASSERELLE_COUNTED_MATCHERD to the matcherd binary}
out=${PASSERELLE_COUNTED_OUT:-counted.txt}
# matcherd is stopped if this script is killed (bench_ingest gives up)
setpriv --pdeathsig TERM "$daemon" "$@" &
child=$!
perf stat -e instructions:u,task-clock -x, -o "$out" -p "$child" &
counter=$!
trap 'grep -E "^(VmRSS|VmHWM|RssAnon|RssFile)" "/proc/$child/status" >>"$out.rss" 2>/dev/null
kill -TERM "$child" 2>/dev/null' TERM INT
while kill -0 "$child" 2>/dev/null; do
    wait "$child"
done
rc=$?
kill -INT "$counter" 2>/dev/null
wait "$counter" 2>/dev/null
exit $rc
