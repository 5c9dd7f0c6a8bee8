#!/bin/sh
# The README's first command, in the test suite: run deploy/demo.sh against
# the build under test, on private ipc:// endpoints, and check that its
# output shows real matches, explanations, a retraction with its reason, a
# refill and the duplicates of a re-post.
set -eu
src=${PASSERELLE_SOURCE_DIR:?}
build=$(dirname "${PASSERELLE_MATCHERD:?}")
dir=$(mktemp -d "${TMPDIR:-/tmp}/test_demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export PASSERELLE_INGEST="ipc://$dir/ingest" PASSERELLE_FEED="ipc://$dir/feed" PASSERELLE_QUERY="ipc://$dir/query"
export PASSERELLE_DEMO_BUILD="$build"
export PASSERELLE_DEMO_ARGS="--ingest $PASSERELLE_INGEST --feed $PASSERELLE_FEED --query $PASSERELLE_QUERY"
out="$dir/demo.out"
if ! timeout 120 "$src/deploy/demo.sh" >"$out" 2>&1; then
    cat "$out"
    echo "test_demo: deploy/demo.sh failed"
    exit 1
fi
fail=0
check() {
    if grep -qE "$1" "$out"; then
        echo "ok: $2"
    else
        echo "MISSING: $2 (/$1/)"
        fail=1
    fi
}
check '^accepted 37, duplicate 0, rejected 0$' "the population is accepted"
check '^ +1  ep-tarbes-2026-00[0-9] +0650043X +1\.000 +0\.0  exact RNCP' "a Tarbes welder ranks first with an exact RNCP fit"
check 'Assembler des éléments métalliques' "explanations name the matched skills"
check 'left +v-aero-tarbes-soudeur +ep-tarbes-2026-001 +\(graduate hired\)' "the hired graduate is retracted"
check 'left +v-aero-tarbes-chaudronnier .*\(vacancy filled\)' "the filled vacancy's list is retracted"
check 'entered +v-aero-tarbes-soudeur +ep-tarbes-2026-010' "the new graduate enters the list"
check '^accepted 0, duplicate 37, rejected 0$' "re-posting is idempotent"
check 'matcherd info: stopping' "matcherd stops cleanly"
if [ $fail -ne 0 ]; then
    cat "$out"
    exit 1
fi
echo "test_demo: the demo shows matches, retractions, refills and duplicates"
