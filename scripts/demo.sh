#!/bin/sh
# demo.sh - `make demo`: the lecture notes' message-queue, shared-memory and semaphore scenarios
# run on svipc, then the quick benchmark.
# Usage: sh scripts/demo.sh [BUILD_DIR]   (default: build)
set -u
build=${1:-build}
bin=$build/bin
limit=10   # seconds any one demo program may take; nothing here may hang

for p in demo-sender demo-receiver demo-select demo-stat \
	demo-shm-writer demo-shm-reader demo-shm-fork demo-shm-nattch \
	demo-sem-turns demo-sem-undo-kill; do
	if [ ! -x "$bin/$p" ]; then
		echo "demo: $bin/$p is missing; build first (make)" >&2
		exit 1
	fi
done

# A namespace of our own, removed on every way out (success, failure, ^C).
SVIPC_DIR=$(mktemp -d /dev/shm/svipc-demo.XXXXXX) || exit 1
export SVIPC_DIR
receiver_pid=
writer_pid=
turns_pid=
cleanup() {
	# Only the background programs this script started, by their pids.
	[ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null && wait "$writer_pid"
	[ -n "$turns_pid" ] && kill "$turns_pid" 2>/dev/null && wait "$turns_pid"
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

echo "== svipc demo: System V message queues, shared memory and semaphores in user space =="
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
echo "-- 4. A writer and a reader share a segment by its key --"
echo "   The notes' writer/reader pair. The writer creates a segment with the key"
echo "   ftok gives for a path and a project id, attaches it, writes a message and"
echo "   waits, as the notes' writer does in pause(). The reader, a program of its"
echo "   own, finds the segment by the same key, attaches it SHM_RDONLY and prints"
echo "   the message. Then the writer is told to finish (SIGTERM): it detaches and"
echo "   removes the segment."
timeout -k 2 "$limit" "$bin/demo-shm-writer" -p W "Hello from the writer process!" &
writer_pid=$!
run "$bin/demo-shm-reader" -p W -e "Hello from the writer process!"
kill -0 "$writer_pid" 2>/dev/null || fail "the writer did not wait for the reader"
kill -TERM "$writer_pid"
wait "$writer_pid"
rc=$?
writer_pid=
[ "$rc" -eq 124 ] && fail "demo-shm-writer did not finish within $limit s"
[ "$rc" -ne 0 ] && fail "demo-shm-writer exited with status $rc"

echo
echo "-- 5. A parent and its child share an IPC_PRIVATE segment --"
echo "   The notes' fork example, the other way round: the child writes, and the"
echo "   parent reads once waitpid says the child is done (no sleep needed)."
run "$bin/demo-shm-fork"

echo
echo "-- 6. shm_nattch as processes come and go --"
echo "   Every attachment counts: each shmat, each one a fork copies; an exit or a"
echo "   SIGKILL ends a process's attachments. IPC_RMID only marks a segment that"
echo "   is still attached (SHM_DEST, key 0); the last detach destroys it."
run "$bin/demo-shm-nattch" -p N

echo
echo "-- 7. Two processes take turns on a shared buffer, guarded by semaphores --"
echo "   Shared memory has no protection of its own; a semaphore set gives it"
echo "   one. Process A creates a segment and a set of two semaphores (A's turn,"
echo "   B's turn, both 0) under one key and writes first; process B, a program"
echo "   started on its own, finds both by the key. Each turn starts with -1 on"
echo "   one's own semaphore (blocking until the other is done) and ends with +1"
echo "   on the other's: the buffer has one owner at a time. A removes both."
timeout -k 2 "$limit" "$bin/demo-sem-turns" -p T -n 3 A &
turns_pid=$!
run "$bin/demo-sem-turns" -p T -n 3 B
wait "$turns_pid"
rc=$?
turns_pid=
[ "$rc" -eq 124 ] && fail "demo-sem-turns A did not finish within $limit s"
[ "$rc" -ne 0 ] && fail "demo-sem-turns A exited with status $rc"

echo
echo "-- 8. SEM_UNDO: a lock holder killed with SIGKILL --"
echo "   A semaphore of value 1 is a lock. The holder takes it with SEM_UNDO and"
echo "   is killed while holding it; a waiter blocked in semop gets the lock"
echo "   anyway, because a dead process's SEM_UNDO operations are undone (svipc"
echo "   keeps the kernel's rule: the waiter notices the death on its own)."
run "$bin/demo-sem-undo-kill" -p U

echo
echo "-- 9. The tools: svipcmk, svipcs, svipcadm, svipcrm --"
echo "   util-linux's ipcmk/ipcs/ipcrm, for this namespace: the same options and"
echo "   output. ipcmk itself, run under the shim, makes svipc objects too."
run "$bin/svipcmk" -Q -M 64K -S 2
if command -v ipcmk >/dev/null 2>&1; then
	echo "\$ LD_PRELOAD=libsvipc-preload.so ipcmk -Q"
	run env LD_PRELOAD="$build/libsvipc-preload.so" ipcmk -Q
fi
echo "\$ svipcs"
run "$bin/svipcs"
echo "\$ svipcadm check"
run "$bin/svipcadm" check
echo "\$ svipcrm -a"
run "$bin/svipcrm" -a
echo "\$ svipcs -q"
run "$bin/svipcs" -q

echo
echo "-- 10. Benchmark (quick) --"
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
run "$bin/demo-stat" -e PBSWNTU
# svipc keeps each queue, segment and semaphore set in a file of the namespace directory.
left=$(ls -A "$SVIPC_DIR" | grep -v -x -e ns -e procs)
[ -n "$left" ] && fail "svipc left files in $SVIPC_DIR:" $left
echo "check:    the namespace holds no object file (only ns and procs)"
echo "demo:     removing $SVIPC_DIR"
echo "== demo passed =="
