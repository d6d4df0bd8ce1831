#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for a while.
#
#   sh fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# BUILD_DIR is configured with clang and -DSVIPC_FUZZ=ON if it is not yet;
# each target (default: all) runs SECONDS seconds with -timeout=10 (an input
# taking longer is reported as a hang), its corpus in BUILD_DIR/corpus/<t>
# (kept between runs) and any crashing input in BUILD_DIR/artifacts/<t>/.
# The namespaces the targets make go in a temporary directory under
# $SVIPC_FUZZ_TMP (default /dev/shm), removed at the end.
#
# Exit status: 0 if no target crashed or hung, 1 if one did, 77 if clang or
# libFuzzer is missing (then nothing ran; scripts/test_deps.sh installs them
# on Debian: packages clang and libclang-rt-14-dev).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
secs=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=${*:-fuzz_msg fuzz_sem fuzz_shm fuzz_ns}
CLANG=${CLANG:-clang}

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
if ! command -v "$CLANG" >/dev/null 2>&1 ||
	! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	echo "fuzz: $CLANG with libFuzzer is not available (Debian: apt-get install clang libclang-rt-14-dev); not run" >&2
	exit 77
fi

mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$CLANG" -DSVIPC_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=Debug >"$build/configure.log" 2>&1 ||
		{ cat "$build/configure.log" >&2; exit 1; }
fi
cmake --build "$build" --target fuzz_targets -j"${JOBS:-2}" >"$build/build.log" 2>&1 ||
	{ tail -40 "$build/build.log" >&2; exit 1; }

tmp=$(mktemp -d "${SVIPC_FUZZ_TMP:-/dev/shm}/svipc-fuzz-run.XXXXXX")
trap 'rm -rf "$probe" "$tmp"' EXIT
status=0
printf '%-10s %12s %8s  %s\n' target executions exec/s result
for t in $targets; do
	mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
	log="$build/$t.log"
	SVIPC_FUZZ_TMP="$tmp" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
		"$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t/" "$build/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		result=ok
	else
		status=1
		art=$(ls -t "$build/artifacts/$t" 2>/dev/null | head -1)
		result="FAILED (exit $rc; input: $build/artifacts/$t/$art; log: $log)"
		grep -E 'ERROR|SUMMARY|timeout|deadly signal' "$log" | head -5 >&2
	fi
	printf '%-10s %12s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
done
exit $status
