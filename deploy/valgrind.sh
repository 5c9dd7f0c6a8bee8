#!/bin/sh
# Run the integration tests with matcherd under valgrind memcheck: no
# invalid read or write, no use of uninitialised memory, and no leak
# (definite or indirect) at the daemon's clean shutdown.
#
# Usage: ./deploy/valgrind.sh [test ...]   (default: test_ingest test_crash
# test_diskfull test_soak; test_matchctl's bulk post has a 20 s deadline a
# daemon under memcheck cannot meet)
# Needs a normal build in build/ (built here if missing). Each daemon writes
# its report to build/valgrind/<test>.<pid>.log; the script fails if any
# report has errors or leaks, or if a test fails (a daemon with errors exits
# with status 99, which the tests' clean-stop checks catch too).
# Long tests are shortened: PASSERELLE_CRASH_ROUNDS=2, PASSERELLE_SOAK_SECONDS=5
# unless set.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
[ -x build/matcherd ] || {
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
}
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 1; }

out=$root/build/valgrind
rm -rf "$out"
mkdir -p "$out"
tests=${*:-"test_ingest test_crash test_diskfull test_soak"}
# test_ingest cases that fit memcheck's slowness: the others (10,000
# pipelined events, 50 DEALERs, SIGTERM during a timed producer) stop
# producers on timers a 20-50x slower daemon cannot meet.
ingest_cases="test_accept_then_duplicate test_older_update_superseded
test_rejects_each_validation_class test_limits_are_accepted test_req_producer
test_garbage_flood test_rejected_leave_store_unchanged test_sigint_clean_exit"

failed=""
for t in $tests; do
    wrapper=$out/matcherd-$t
    cat >"$wrapper" <<WRAP
#!/bin/sh
exec valgrind --quiet --error-exitcode=99 --leak-check=full \\
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \\
    --track-origins=yes --log-file=$out/$t.%p.log $root/build/matcherd "\$@"
WRAP
    chmod +x "$wrapper"
    echo "== $t with matcherd under valgrind"
    cases=all
    [ "$t" = test_ingest ] && cases=$ingest_cases
    for c in $cases; do
        if ! PASSERELLE_MATCHERD=$wrapper PASSERELLE_SOURCE_DIR=$root \
            PASSERELLE_MATCHCTL=$root/build/matchctl \
            PASSERELLE_TEST_FILTER="$([ "$c" = all ] || echo "$c")" \
            PASSERELLE_START_TIMEOUT_MS=120000 PASSERELLE_ACK_TIMEOUT_MS=120000 \
            PASSERELLE_CRASH_ROUNDS=${PASSERELLE_CRASH_ROUNDS:-2} \
            PASSERELLE_SOAK_SECONDS=${PASSERELLE_SOAK_SECONDS:-5} \
            "$root/build/tests/$t" >>"$out/$t.out" 2>&1; then
            echo "   $t $c FAILED (see $out/$t.out)"
            tail -30 "$out/$t.out"
            failed="$failed $t:$c"
        fi
    done
done

# Every test must have run something (a filter that matches nothing passes).
if grep -q "PASSED  \] 0 test" "$out"/*.out; then
    echo "valgrind.sh: a test ran no case:" >&2
    grep -l "PASSED  \] 0 test" "$out"/*.out >&2
    exit 1
fi
# A report with content is an error or a leak (--quiet prints nothing else).
daemons=$(ls "$out"/*.log 2>/dev/null | wc -l)
dirty=""
for f in "$out"/*.log; do
    [ -s "$f" ] && dirty="$dirty $f"
done
echo "== valgrind: $daemons daemon runs checked"
if [ -n "$dirty" ]; then
    for f in $dirty; do echo "--- $f"; head -60 "$f"; done
    echo "valgrind.sh: errors or leaks in:$dirty" >&2
    exit 1
fi
[ -z "$failed" ] || { echo "valgrind.sh: failed:$failed" >&2; exit 1; }
echo "== valgrind: no errors, no leaks"
