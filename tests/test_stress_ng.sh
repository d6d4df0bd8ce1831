#!/bin/sh
# stress-ng's System V stressors (--msg, --shm-sysv, --sem-sysv), unmodified,
# on svipc through the LD_PRELOAD shim, each in a fresh namespace:
#  - the run passes stress-ng's own --verify checks (exit 0, "successful run",
#    no fail:/error: line) and does work (bogo ops > 0);
#  - it makes no kernel System V object: under strace (a second, shorter run),
#    no IPC system call reaches the kernel and succeeds. stress-ng's
#    --sem-sysv makes one on purpose with syscall(__NR_semctl, id, 0, <bad
#    command>), which the shim cannot see and the kernel refuses (EINVAL);
#    such bypasses are listed;
#  - the namespace holds no object afterwards;
# then the same stressor runs on the kernel, and a line per stressor prints
# both rates (bogo ops per second of wall time, from stress-ng's --yaml):
#     msg: kernel N bogo-ops/s, svipc M bogo-ops/s, ratio R
# The figures are printed, never asserted (a shared machine is noisy).
#
# usage: test_stress_ng.sh SHIM    (SVIPC_STRESS_SECS: seconds per timed run, default 2)
set -eu
SHIM=$1
. "$(dirname "$0")/realprog_lib.sh"

command -v stress-ng >/dev/null 2>&1 ||
	rp_skip "stress-ng is not installed (Debian package stress-ng; 'make test' installs it when run as root)"
rp_preload
SECS=${SVIPC_STRESS_SECS:-2}
LIMIT=$((SECS + 30)) # per stress-ng run
rp_ns stressng-work
work=$RP_NS
cd "$work"
if rp_have_strace; then
	tracing=1
else
	tracing=0
	echo "note: strace is not usable here: the kernel-call check is skipped (install strace)"
fi
[ -n "$RP_ASAN" ] && echo "note: sanitizer build: svipc's figures are those of the instrumented library"
echo "stress-ng $(stress-ng --version 2>/dev/null | sed -n 's/^stress-ng, version \([^ ]*\).*/\1/p')," \
	"$(nproc 2>/dev/null || echo '?') CPUs, $SECS s per timed run"

# check_run LABEL RC LOG: stress-ng's verdict on a run
check_run() {
	[ "$2" = 0 ] || { tail -20 "$3"; rp_fail "$1: stress-ng exited $2"; }
	if grep -E 'stress-ng: (fail|error):' "$3" >/dev/null; then
		grep -E 'stress-ng: (fail|error):' "$3" | head -20
		rp_fail "$1: stress-ng reported failures"
	fi
	grep 'successful run completed' "$3" >/dev/null || { tail -20 "$3"; rp_fail "$1: no 'successful run'"; }
}

# yaml_field FILE STRESSOR FIELD: one metric of stress-ng's --yaml output
yaml_field() {
	awk -v s="$2" -v f="$3:" '$1 == "-" && $2 == "stressor:" { cur = $3 }
		cur == s && $1 == f { print $2; exit }' "$1"
}

# stressor NAME OPS ARGS...: one stressor (NAME is stress-ng's metric name;
# OPS the bogo-op count of the traced run)
stressor() {
	name=$1
	ops=$2
	shift 2
	tag=$(echo "$*" | tr -c 'a-z0-9\n' '_')

	# 1. Timed run on svipc.
	rp_ns "stressng-$name"
	ns=$RP_NS
	rc=0
	SVIPC_DIR=$ns LD_PRELOAD=$PRELOAD timeout -k 5 $LIMIT \
		stress-ng "$@" -t "$SECS" --verify --metrics-brief --yaml "$work/$tag.svipc.yaml" \
		>"$work/$tag.svipc.log" 2>&1 || rc=$?
	check_run "svipc: stress-ng $*" $rc "$work/$tag.svipc.log"
	[ -f "$ns/ns" ] || rp_fail "stress-ng $*: svipc's namespace was not used (no $ns/ns)"
	svipc_ops=$(yaml_field "$work/$tag.svipc.yaml" "$name" bogo-ops)
	svipc_rate=$(yaml_field "$work/$tag.svipc.yaml" "$name" bogo-ops-per-second-real-time)
	if [ -z "$svipc_ops" ] || [ "${svipc_ops%%.*}" -le 0 ]; then
		rp_fail "stress-ng $*: no bogo ops on svipc"
	fi

	# 2. Leftovers. A segment removed while attached whose last attacher was
	# killed (stress-ng SIGKILLs its workers) stays until svipc notices:
	# any SHM_INFO does (README), here util-linux ipcs -u under the shim.
	left=$(rp_objects "$ns")
	if [ -n "$left" ] && command -v ipcs >/dev/null 2>&1; then
		SVIPC_DIR=$ns LD_PRELOAD=$PRELOAD timeout 30 ipcs -u >/dev/null 2>&1 || true
		echo "note: stress-ng $*: left $(echo "$left" | tr "\n" " ") until the next SHM_INFO;" \
			"now: $(rp_objects "$ns" | tr '\n' ' ')"
		left=$(rp_objects "$ns")
	fi
	[ -z "$left" ] || rp_fail "stress-ng $*: objects left in the namespace: $(echo "$left" | tr "\n" " ")"

	# 3. The kernel's IPC system calls, in a shorter run under strace.
	if [ $tracing = 1 ]; then
		rp_ns "stressng-$name-traced"
		rc=0
		SVIPC_DIR=$RP_NS rp_strace "$work/$tag.strace" \
			env LD_PRELOAD="$PRELOAD" timeout -k 5 $LIMIT \
			stress-ng "$@" --"$name"-ops "$ops" --verify >"$work/$tag.traced.log" 2>&1 || rc=$?
		check_run "svipc under strace: stress-ng $*" $rc "$work/$tag.traced.log"
		ok=$(rp_kernel_ok "$work/$tag.strace")
		if [ -n "$ok" ]; then
			echo "$ok" | head -20
			rp_fail "stress-ng $*: IPC system calls reached the kernel and succeeded (above)"
		fi
		n=$(rp_kernel_calls "$work/$tag.strace" | wc -l)
		if [ "$n" -gt 0 ]; then
			echo "note: stress-ng $*: $n IPC system call(s) bypassed the shim (raw syscall()), all refused by the kernel:"
			rp_kernel_calls "$work/$tag.strace" | sed 's/^\([a-z]*\)([0-9]*,/    \1(ID,/' | sort | uniq -c | head -5
		fi
		[ -z "$(rp_objects "$RP_NS")" ] || rp_fail "stress-ng $*: objects left by the traced run"
	fi

	# 4. The same on the kernel, for the figures. A kernel that refuses
	# (a container without System V IPC) gives no figure, not a failure.
	rc=0
	timeout -k 5 $LIMIT stress-ng "$@" -t "$SECS" --verify --metrics-brief \
		--yaml "$work/$tag.kernel.yaml" >"$work/$tag.kernel.log" 2>&1 || rc=$?
	kernel_rate=""
	if [ $rc = 0 ] && grep 'successful run completed' "$work/$tag.kernel.log" >/dev/null; then
		kernel_rate=$(yaml_field "$work/$tag.kernel.yaml" "$name" bogo-ops-per-second-real-time)
	else
		echo "note: stress-ng $* on the kernel exited $rc:"
		tail -5 "$work/$tag.kernel.log"
	fi
	awk -v n="$name" -v a="$*" -v k="${kernel_rate:-0}" -v s="$svipc_rate" 'BEGIN {
		if (k > 0)
			printf "%s: kernel %.0f bogo-ops/s, svipc %.0f bogo-ops/s, ratio %.2f   (stress-ng %s --verify)\n", n, k, s, s / k, a
		else
			printf "%s: kernel n/a, svipc %.0f bogo-ops/s   (stress-ng %s --verify)\n", n, s, a
	}'
}

stressor msg 20000 --msg 1
stressor shm-sysv 100 --shm-sysv 1
stressor sem-sysv 20000 --sem-sysv 1
# Two harder cases: 8 KiB messages (two fit in a queue of msgmnb 16384
# bytes, so senders and receivers wait all the time), and four processes
# contending for one semaphore set.
stressor msg 5000 --msg 1 --msg-bytes 8192
stressor sem-sysv 5000 --sem-sysv 1 --sem-sysv-procs 4
echo "stress-ng: all stressors passed --verify on svipc"
