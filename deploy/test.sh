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
echo "== all tests passed"
