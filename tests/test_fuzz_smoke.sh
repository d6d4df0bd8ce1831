#!/bin/sh
# A CI-sized run of the libFuzzer targets (fuzz/): builds them with clang in
# BUILD/fuzz-smoke and runs each for FUZZ_SMOKE_SECONDS (default 20).
# Fails on a crash, a sanitizer report or a hang (an input over 10 s);
# skips (77) when clang or libFuzzer is missing.
#   sh test_fuzz_smoke.sh SOURCE_DIR BUILD_DIR
src=${1:?usage: test_fuzz_smoke.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: test_fuzz_smoke.sh SOURCE_DIR BUILD_DIR}
sh "$src/fuzz/run.sh" "$build/fuzz-smoke" "${FUZZ_SMOKE_SECONDS:-20}"
rc=$?
[ $rc -eq 77 ] && echo "SKIP: clang with libFuzzer is not installed (Debian: clang libclang-rt-14-dev)"
exit $rc
