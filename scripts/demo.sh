#!/bin/sh
# demo.sh - `make demo`: the lecture notes' message-queue scenarios run on svipc, then the quick benchmark.
# Usage: sh scripts/demo.sh [BUILD_DIR]   (default: build)
set -u
build=${1:-build}
bin=$build/bin
limit=10   # seconds any one demo program may take; nothing here may hang

for p in demo-sender demo-receiver demo-select demo-stat; do
	if [ ! -x "$bin/$p" ]; then
		echo "demo: $bin/$p is missing; build first (make)" >&2
		exit 1
	fi
done

# A namespace of our own, removed on every way out (success, failure, ^C).
SVIPC_DIR=$(mktemp -d /dev/shm/svipc-demo.XXXXXX) || exit 1
export SVIPC_DIR
receiver_pid=
cleanup() {
	# Only the background program this script started, by its pid.
	[ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
	rm -rf "$SVIPC_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

fail() {
	echo "demo: FAILED: $*" >&2
	exit 1
}

# Runs one program under a time limit; any failure ends the demo.
run() {
	timeout --foreground -k 2 "$limit" "$@"
	rc=$?
	[ "$rc" -eq 124 ] && fail "${1##*/} did not finish within $limit s"
	[ "$rc" -ne 0 ] && fail "${1##*/} exited with status $rc"
	return 0
}

echo "== svipc demo: System V message queues in user space =="
echo "namespace: SVIPC_DIR=$SVIPC_DIR (the programs' ftok keys are made from this path)"

echo
echo "-- 1. A sender and a receiver exchange typed messages --"
echo "   The notes' sender/receiver pair: two programs agree on a key (ftok of a"
echo "   path and a project id). The sender creates the queue and leaves its"
echo "   messages there; the receiver, started after the sender has exited, takes"
echo "   them in order and removes the queue, as the notes' receiver does."
run "$bin/demo-sender" -p P -n 1:"hello, receiver" 2:"a type-2 message" 1:"goodbye"
run "$bin/demo-stat" -p P
run "$bin/demo-receiver" -p P -t 0 -r 1:"hello, receiver" 2:"a type-2 message" 1:"goodbye"
run "$bin/demo-stat" -p P

echo
echo "-- 2. A receiver blocks until a sender delivers --"
echo "   As the notes suggest, the receiver starts first and sleeps in msgrcv; a"
echo "   second later a sender sends a message of another type (the receiver sleeps"
echo "   on), then the one it wants."
timeout -k 2 "$limit" "$bin/demo-receiver" -p B -t 2 -w 0.5 -r 2:"wake up" &
receiver_pid=$!
sleep 1
kill -0 "$receiver_pid" 2>/dev/null || fail "the receiver did not wait for the sender"
echo "demo:     one second later the receiver (pid $receiver_pid) is still blocked"
run "$bin/demo-stat" -p B
run "$bin/demo-sender" -p B 1:"not for you"
sleep 0.2
kill -0 "$receiver_pid" 2>/dev/null || fail "a type-1 message ended the wait for type 2"
echo "demo:     the receiver still waits: type 1 is not what it asked for"
run "$bin/demo-sender" -p B 2:"wake up"
wait "$receiver_pid"
rc=$?
receiver_pid=
[ "$rc" -eq 124 ] && fail "the blocked receiver was never woken (killed after $limit s)"
[ "$rc" -ne 0 ] && fail "demo-receiver exited with status $rc"

echo
echo "-- 3. Choosing messages by type: msgtyp > 0, msgtyp < 0, MSG_EXCEPT --"
echo "   Seven messages of four types go in; each msgrcv below shows what it takes"
echo "   and why (Linux's rule). The program checks every pick against that rule."
run "$bin/demo-select"

echo
echo "-- 4. Benchmark (quick) --"
bench=$build/bench/svipc-bench
if [ -x "$bench" ]; then
	timeout --foreground -k 5 120 "$bench" --quick
	rc=$?
	[ "$rc" -eq 124 ] && fail "svipc-bench --quick did not finish within 120 s"
	[ "$rc" -ne 0 ] && fail "svipc-bench --quick exited with status $rc"
else
	echo "note: $bench is not built yet; skipping the benchmark"
fi

echo
echo "-- Leaving nothing behind --"
run "$bin/demo-stat" -e PBS
echo "demo:     removing $SVIPC_DIR"
echo "== demo passed =="
