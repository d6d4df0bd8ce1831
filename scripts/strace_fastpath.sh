#!/bin/sh
# strace_fastpath.sh - shows that svipc's uncontended msgsnd+msgrcv and semop make no system call.
#
# usage: scripts/strace_fastpath.sh [BUILD_DIR]   (default: build/ beside scripts/; run `make` first)
#
# Runs BUILD_DIR/bench/svipc-fastpath under `strace -f -c` twice per fast
# path, with N=1000 and N=100000, and prints both strace tables and both
# totals:
#   msg: one process, N msgsnd+msgrcv pairs with IPC_NOWAIT on a queue that
#        is never empty nor full (svipc-fastpath N);
#   sem: one process, N rounds of semop -1/+1 on one semaphore, the same with
#        SEM_UNDO, and a 4-operation semop -1/+1, never a reason to wait
#        (svipc-fastpath sem N).
# A fast path makes no system call when its two totals are equal (a few
# calls of slack are allowed for one-off work): PASS. Exit 0 when both pass;
# otherwise FAIL, exit 1, with the extra calls per operation. Exit 2 when it
# cannot run. Builds nothing.
set -eu

BUILD=${1:-$(dirname "$0")/../build}
BIN=$BUILD/bench/svipc-fastpath
N_SMALL=1000
N_LARGE=100000
SLACK=10 # calls; 10 over 99000 extra pairs would be 0.0001 per pair

if [ ! -x "$BIN" ]; then
	echo "strace_fastpath: $BIN not found; build it first (make)" >&2
	exit 2
fi
if ! command -v strace >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "strace_fastpath: strace is missing (apt-get install strace, as root)" >&2
		exit 2
	fi
	echo "strace_fastpath: installing strace" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
fi

work=$(mktemp -d /tmp/strace-fastpath.XXXXXX)
trap 'rm -rf "$work" /dev/shm/svipc-fastpath-sh.$$.*' EXIT INT TERM

# Total of the "calls" column of a strace -c table.
total_calls() {
	awk '$NF == "total" { print $4; found = 1 } END { if (!found) print "?" }' "$1"
}

# check LABEL ONE MANY ARGS...: strace -f -c of "$BIN ARGS... N" for both N;
# prints PASS or FAIL (ONE: what one iteration is, MANY: its plural);
# returns 0 PASS, 1 FAIL.
# Exits 2 when a run fails or the totals cannot be read.
check() {
	label=$1
	one=$2
	many=$3
	shift 3
	for n in $N_SMALL $N_LARGE; do
		echo "== [$label] strace -f -c $BIN${*:+ $*} $n"
		# Each run gets a fresh namespace so both do the same one-off work.
		ns=$(mktemp -d "/dev/shm/svipc-fastpath-sh.$$.XXXXXX")
		if ! SVIPC_DIR=$ns timeout 120 strace -f -c -o "$work/strace.$label.$n" "$BIN" "$@" "$n"; then
			echo "strace_fastpath: $BIN $* $n failed" >&2
			[ -s "$work/strace.$label.$n" ] && cat "$work/strace.$label.$n"
			rm -rf "$ns"
			exit 2
		fi
		rm -rf "$ns"
		cat "$work/strace.$label.$n"
		echo
	done

	small=$(total_calls "$work/strace.$label.$N_SMALL")
	large=$(total_calls "$work/strace.$label.$N_LARGE")
	echo "[$label] system calls: N=$N_SMALL: $small, N=$N_LARGE: $large"
	case "$small$large" in
	*[!0-9]*)
		echo "strace_fastpath: could not read the strace totals" >&2
		exit 2
		;;
	esac
	extra=$((large - small))
	if [ "$extra" -le "$SLACK" ]; then
		echo "PASS [$label]: the count does not grow with N ($extra more calls for $((N_LARGE - N_SMALL)) more $many): no system call per $one"
		return 0
	fi
	per=$(awk -v e="$extra" -v d="$((N_LARGE - N_SMALL))" 'BEGIN { printf "%.4f", e / d }')
	echo "FAIL [$label]: $extra more calls for $((N_LARGE - N_SMALL)) more $many: $per system calls per $one"
	echo "      (compare the two tables above: the calls that grow are on the fast path)"
	return 1
}

rc=0
check msg "message (msgsnd+msgrcv pair)" "pairs" || rc=1
echo
check sem "semop (6 per round)" "rounds" sem || rc=1
echo
if [ "$rc" -eq 0 ]; then
	echo "PASS: neither the message-queue nor the semaphore fast path makes a system call"
else
	echo "FAIL: a fast path makes system calls (see above)"
fi
exit $rc
