#!/bin/sh
# strace_fastpath.sh - shows that svipc's uncontended msgsnd+msgrcv makes no system call per message.
#
# usage: scripts/strace_fastpath.sh [BUILD_DIR]   (default: build/ beside scripts/; run `make` first)
#
# Runs BUILD_DIR/bench/svipc-fastpath (one process, N msgsnd+msgrcv pairs with
# IPC_NOWAIT on a queue that is never empty nor full) under `strace -f -c`
# with N=1000 and N=100000, prints both strace tables and both totals. The
# fast path makes no system call when the totals are equal (a few calls of
# slack are allowed for one-off work): PASS, exit 0. Otherwise FAIL, exit 1,
# with the extra calls per message. Exit 2 when it cannot run. Builds nothing.
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

for n in $N_SMALL $N_LARGE; do
	echo "== strace -f -c $BIN $n"
	# Each run gets a fresh namespace so both do the same one-off work.
	ns=$(mktemp -d "/dev/shm/svipc-fastpath-sh.$$.XXXXXX")
	if ! SVIPC_DIR=$ns timeout 120 strace -f -c -o "$work/strace.$n" "$BIN" "$n"; then
		echo "strace_fastpath: $BIN $n failed" >&2
		[ -s "$work/strace.$n" ] && cat "$work/strace.$n"
		exit 2
	fi
	rm -rf "$ns"
	cat "$work/strace.$n"
	echo
done

small=$(total_calls "$work/strace.$N_SMALL")
large=$(total_calls "$work/strace.$N_LARGE")
echo "system calls: N=$N_SMALL: $small, N=$N_LARGE: $large"
case "$small$large" in
*[!0-9]*)
	echo "strace_fastpath: could not read the strace totals" >&2
	exit 2
	;;
esac
extra=$((large - small))
if [ "$extra" -le "$SLACK" ]; then
	echo "PASS: the count does not grow with N ($extra more calls for $((N_LARGE - N_SMALL)) more pairs): no system call per message"
	exit 0
fi
per=$(awk -v e="$extra" -v d="$((N_LARGE - N_SMALL))" 'BEGIN { printf "%.4f", e / d }')
echo "FAIL: $extra more calls for $((N_LARGE - N_SMALL)) more pairs: $per system calls per msgsnd+msgrcv pair"
echo "      (compare the two tables above: the calls that grow are on the fast path)"
exit 1
