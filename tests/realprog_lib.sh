# realprog_lib.sh - what the real-program tests (test_stress_ng.sh,
# test_python_sysv_ipc.sh, test_ipcmk_shim.sh) share. Sourced, not run: the
# includer sets -eu and defines SHIM (path of libsvipc-preload.so).
#
#   rp_fail MSG            print FAIL: MSG, exit 1
#   rp_skip MSG            print SKIP: MSG, exit 77 (ctest's SKIP_RETURN_CODE)
#   rp_preload             sets PRELOAD: the shim, preceded by the ASan runtime
#                          when the shim is a sanitizer build (ASan insists on
#                          coming first); then also exports ASAN_OPTIONS
#                          (no leak report: the programs are not ours)
#   rp_ns NAME             sets RP_NS to a fresh namespace directory under
#                          /dev/shm (or TMPDIR), removed at exit (RP_CLEAN)
#   rp_objects DIR         the object files (msg.*, shm.*, sem.*) in a namespace
#   rp_have_strace         true if strace can trace here (installed, ptrace allowed)
#   rp_strace OUT CMD...   runs CMD under strace, logging only the System V IPC
#                          system calls (the kernel's) to OUT.<pid>, per process
#   rp_kernel_calls OUT    prints OUT's IPC system calls, one a line
#   rp_kernel_ok OUT       prints those of them that succeeded (a kernel object
#                          was made, used or looked up): none must, under the shim

rp_fail() { echo "FAIL: $*"; exit 1; }
rp_skip() { echo "SKIP: $*"; exit 77; }

RP_IPC_CALLS=msgget,msgsnd,msgrcv,msgctl,shmget,shmat,shmdt,shmctl,semget,semop,semtimedop,semctl

rp_preload() {
	[ -f "$SHIM" ] || rp_fail "no shim at $SHIM"
	PRELOAD=$SHIM
	RP_ASAN=""
	if command -v ldd >/dev/null 2>&1; then
		RP_ASAN=$(ldd "$SHIM" 2>/dev/null | awk '/libasan/ { print $3; exit }')
	fi
	if [ -n "$RP_ASAN" ]; then
		PRELOAD="$RP_ASAN $SHIM"
		export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	fi
}

RP_CLEAN=""
rp_cleanup() {
	for d in $RP_CLEAN; do
		rm -rf "$d"
	done
}
trap rp_cleanup EXIT
trap 'exit 1' INT TERM

rp_ns() {
	base=/dev/shm
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	RP_NS=$(mktemp -d "$base/svipc-$1.XXXXXX") || rp_fail "mktemp under $base"
	RP_CLEAN="$RP_CLEAN $RP_NS"
}

rp_objects() {
	(cd "$1" && ls -d msg.* shm.* sem.* 2>/dev/null) || true
}

rp_have_strace() {
	command -v strace >/dev/null 2>&1 &&
		strace -f -qq -o /dev/null -e trace=msgget true >/dev/null 2>&1
}

rp_strace() {
	out=$1
	shift
	# --seccomp-bpf: only the IPC calls stop the tracee, so it runs at speed;
	# -ff: one file per process (OUT.PID), so that no call is split in two
	strace --seccomp-bpf -ff -qq -o "$out" -e trace=$RP_IPC_CALLS "$@"
}

rp_kernel_calls() {
	cat "$1".* 2>/dev/null | grep -E '^[a-z]+\(' || true
}

rp_kernel_ok() {
	rp_kernel_calls "$1" | grep -E '\) += (0x[0-9a-f]+|[0-9]+)( |$)' || true
}
