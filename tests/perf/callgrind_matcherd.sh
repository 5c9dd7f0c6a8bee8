#!/bin/sh
# callgrind_matcherd.sh - run matcherd under valgrind's callgrind, which
# counts the instructions it executes: the same work gives the same count
# however busy the machine is, which wall time and CPU time do not.
#
#   PASSERELLE_CALLGRIND_MATCHERD=build/matcherd \
#   PASSERELLE_CALLGRIND_OUT=/tmp/cg.out \
#   build/tests/bench_ingest --matcherd tests/perf/callgrind_matcherd.sh \
#       --sizes 3000 --steady 1000 --reps 1 --ack-timeout 600000
#   callgrind_annotate /tmp/cg.out | head -40
# The daemon runs some 50 times slower: keep sizes small.
set -u
daemon=${PASSERELLE_CALLGRIND_MATCHERD:?set PASSERELLE_CALLGRIND_MATCHERD to the matcherd binary}
out=${PASSERELLE_CALLGRIND_OUT:-callgrind.out}
exec valgrind --tool=callgrind --callgrind-out-file="$out" "$daemon" "$@"
