#!/bin/sh
# Run every test: install dependencies, build (warnings are errors), run the
# CTest suite, then build again with AddressSanitizer + UBSan and run the
# suite once more. Usage: ./deploy/test.sh [ctest arguments...]
set -eu
cd "$(dirname "$0")/.."
./deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPASSERELLE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure "$@")

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPASSERELLE_SANITIZE=ON -DPASSERELLE_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    PASSERELLE_CRASH_ROUNDS=3 ctest --output-on-failure "$@")
echo "== build (libFuzzer targets, clang)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPASSERELLE_FUZZ=ON \
    -DPASSERELLE_WERROR=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_ingest fuzz_query
echo "== fuzzing (bounded; longer runs: docs/RELIABILITY.md)"
for t in ingest query; do
    work=$(mktemp -d)
    mkdir -p build-fuzz/artifacts
    PASSERELLE_SOURCE_DIR="$PWD" ./build-fuzz/fuzz/fuzz_$t -max_total_time="${PASSERELLE_FUZZ_SECONDS:-15}" \
        -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$t- "$work" tests/fuzz/corpus/$t \
        2>build-fuzz/fuzz_$t.log || { tail -50 build-fuzz/fuzz_$t.log; rm -rf "$work"; exit 1; }
    grep -h "stat::number_of_executed_units" build-fuzz/fuzz_$t.log | sed "s/^/fuzz_$t: /"
    rm -rf "$work"
done
echo "== all tests passed"
