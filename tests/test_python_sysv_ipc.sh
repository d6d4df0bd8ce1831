#!/bin/sh
# The Python sysv_ipc module (Debian python3-sysv-ipc), unmodified, on svipc
# through the LD_PRELOAD shim. tests/sysv_ipc_check.py exercises its
# MessageQueue, SharedMemory and Semaphore (and ftok, the errors, the
# permission checks as another user) and prints a transcript; it runs
#  1. on the kernel (no preload): the script checked against the real thing;
#  2. under the shim, in a fresh namespace, under strace when available;
# and then: both runs pass, their transcripts are identical, no IPC system
# call of the svipc run reached the kernel (the module calls msgget & co.
# through libc, semtimedop included), and the namespace is left empty.
#
# usage: test_python_sysv_ipc.sh SHIM SCRIPT
set -eu
SHIM=$1
SCRIPT=$2
. "$(dirname "$0")/realprog_lib.sh"

PY=/usr/bin/python3 # Debian's module is built for Debian's python, whatever is first on PATH
[ -x $PY ] || rp_skip "no $PY (Debian's python3, which python3-sysv-ipc is built for)"
$PY -c 'import sysv_ipc' 2>/dev/null ||
	rp_skip "the python sysv_ipc module is not installed (Debian package python3-sysv-ipc; 'make test' installs it when run as root)"
rp_preload
rp_ns py-work
work=$RP_NS
rp_ns py
ns=$RP_NS
# the permission checks run as nobody in a child: the namespace must let
# every user in (svipc accepts a world-writable directory if it is sticky)
[ "$(id -u)" = 0 ] && chmod 1777 "$ns"

rc=0
timeout -k 5 120 $PY "$SCRIPT" >"$work/kernel.txt" 2>&1 || rc=$?
[ $rc = 0 ] || { tail -20 "$work/kernel.txt"; rp_fail "the check script failed on the kernel (exit $rc): the script, not svipc, is wrong"; }
echo "kernel: $(grep -c '^ok' "$work/kernel.txt") checks passed"

rc=0
if rp_have_strace; then
	SVIPC_DIR=$ns rp_strace "$work/strace" env LD_PRELOAD="$PRELOAD" \
		timeout -k 5 120 $PY "$SCRIPT" >"$work/svipc.txt" 2>&1 || rc=$?
	traced=1
else
	SVIPC_DIR=$ns LD_PRELOAD=$PRELOAD timeout -k 5 120 $PY "$SCRIPT" >"$work/svipc.txt" 2>&1 || rc=$?
	traced=0
	echo "note: strace is not usable here: the kernel-call check is skipped (install strace)"
fi
[ $rc = 0 ] || { tail -20 "$work/svipc.txt"; rp_fail "the check script failed on svipc (exit $rc)"; }
echo "svipc:  $(grep -c '^ok' "$work/svipc.txt") checks passed"
[ -f "$ns/ns" ] || rp_fail "svipc's namespace was not used (no $ns/ns)"

if ! diff -u "$work/kernel.txt" "$work/svipc.txt"; then
	rp_fail "the transcripts differ (above: - kernel, + svipc)"
fi
echo "the transcripts are identical"

if [ $traced = 1 ]; then
	calls=$(rp_kernel_calls "$work/strace")
	if [ -n "$calls" ]; then
		echo "$calls" | head -20
		rp_fail "IPC system calls reached the kernel under the shim (above)"
	fi
	echo "no IPC system call reached the kernel"
fi
left=$(rp_objects "$ns")
[ -z "$left" ] || rp_fail "objects left in the namespace: $(echo "$left" | tr "\n" " ")"
echo "python3-sysv-ipc: all checks pass on svipc as on the kernel"
