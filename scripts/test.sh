#!/usr/bin/env bash
# Builds clipmill twice (optimised, and with AddressSanitizer + UBSan) with
# warnings as errors and runs every test (ctest) in both builds; in between,
# runs the libFuzzer targets for a minute (tests/fuzz/run.sh, clang).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLIPMILL_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
tests/fuzz/run.sh "${CLIPMILL_FUZZ_SECONDS:-60}"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLIPMILL_SANITIZE=ON -DCLIPMILL_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs")
