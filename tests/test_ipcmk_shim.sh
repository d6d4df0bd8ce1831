#!/bin/sh
# util-linux's ipcmk, ipcrm and ipcs, unmodified, on svipc through the
# LD_PRELOAD shim, in a fresh namespace:
#  - ipcmk creates a queue, segments (-M with size suffixes, -p modes) and a
#    semaphore set; they are svipc's (their files are in the namespace) and
#    the kernel got none (no IPC system call reached it, under strace; their
#    keys are not in the kernel's ipcs);
#  - svipcs lists them with ipcmk's sizes and modes (when svipcs is built);
#  - svipcrm removes them, by id and by key;
#  - ipcrm under the shim removes svipc objects by id and by key, and
#    `ipcrm -a` removes all of them (it walks *_INFO and *_STAT, which reach
#    the shim) and none of the kernel's: run only in a private kernel IPC
#    namespace (unshare -i, root), so that a failure cannot touch the
#    machine's objects;
#  - ipcs under the shim: its summary (-u: MSG_INFO, SHM_INFO, SEM_INFO
#    through msgctl & co.) is svipc's, but its listings are the kernel's:
#    on Linux, util-linux reads /proc/sysvipc/{msg,shm,sem} and calls no
#    *_STAT, so they never reach the shim (a known limitation, reported).
#
# usage: test_ipcmk_shim.sh SHIM SVIPCRM [SVIPCS]
set -eu
SHIM=$1
SVIPCRM=$2
SVIPCS=${3:-}
. "$(dirname "$0")/realprog_lib.sh"

command -v ipcmk >/dev/null 2>&1 || rp_skip "util-linux ipcmk is not installed"
[ -x "$SVIPCRM" ] || rp_fail "no svipcrm at $SVIPCRM"
if [ -n "$SVIPCS" ] && [ ! -x "$SVIPCS" ]; then
	SVIPCS=""
fi
[ -n "$SVIPCS" ] || echo "note: svipcs is not built: the listing and removal by key are skipped"
rp_preload
rp_ns ipcmk-work
work=$RP_NS
rp_ns ipcmk
ns=$RP_NS
export SVIPC_DIR="$ns"
tracing=0
if rp_have_strace; then
	tracing=1
else
	echo "note: strace is not usable here: the kernel-call check is skipped (install strace)"
fi

# shimmed PROGRAM ARGS...: runs a util-linux program under the shim (and
# strace: one $work/trace.PID per process), its stdout on ours
shimmed() {
	if [ $tracing = 1 ]; then
		rp_strace "$work/trace" env LD_PRELOAD="$PRELOAD" timeout -k 5 30 "$@"
	else
		LD_PRELOAD=$PRELOAD timeout -k 5 30 "$@"
	fi
}

# mk KIND ARGS...: ipcmk ARGS under the shim; prints the new id
mk() {
	kind=$1
	shift
	out=$(shimmed ipcmk "$@") || rp_fail "ipcmk $* failed: $out"
	id=$(echo "$out" | sed -n 's/^[A-Za-z ]* id: \([0-9][0-9]*\)$/\1/p')
	[ -n "$id" ] || rp_fail "ipcmk $*: no id in '$out'"
	[ -f "$ns/$kind.$id" ] || rp_fail "ipcmk $*: id $id is not an svipc object (no $ns/$kind.$id)"
	echo "$id"
}

# row TYPE ID: svipcs's table row of object ID (-q, -m or -s); fails if none
row() {
	r=$("$SVIPCS" "$1" | awk -v id="$2" '$2 == id')
	[ -n "$r" ] || rp_fail "svipcs $1 does not list id $2"
	echo "$r"
}

# expect_row TYPE ID PERMS SIZE: SIZE is bytes (-m) or nsems (-s) or messages (-q)
expect_row() {
	r=$(row "$1" "$2")
	# key id owner perms, then -q: used-bytes messages; -m: bytes nattch; -s: nsems
	set -- "$1" "$2" "$3" "$4" $r
	[ "$8" = "$3" ] || rp_fail "svipcs $1: id $2 has perms $8, not $3: $r"
	case $1 in
	-q) [ "${10}" = "$4" ] || rp_fail "svipcs -q: id $2 has ${10} messages, not $4: $r" ;;
	*) [ "$9" = "$4" ] || rp_fail "svipcs $1: id $2 has size $9, not $4: $r" ;;
	esac
}

key_of() { row "$1" "$2" | awk '{ print $1 }'; }

gone() { [ ! -e "$ns/$1" ] || rp_fail "$2: $ns/$1 is still there"; }

# ---- ipcmk ----
q=$(mk msg -Q)
m=$(mk shm -M 64K -p 0640)
m2=$(mk shm -M 1MiB)
s=$(mk sem -S 3 -p 600)
echo "ipcmk under the shim made queue $q, segments $m (64K) and $m2 (1MiB), set $s (3 semaphores)"

if [ -n "$SVIPCS" ]; then
	expect_row -q "$q" 644 0
	expect_row -m "$m" 640 65536
	expect_row -m "$m2" 644 1048576
	expect_row -s "$s" 600 3
	qkey=$(key_of -q "$q")
	mkey=$(key_of -m "$m")
	skey=$(key_of -s "$s")
	echo "svipcs lists them with ipcmk's modes and sizes"
	if command -v ipcs >/dev/null 2>&1; then
		# the kernel's listing (no preload) must not have our keys
		for k in $qkey $mkey $skey; do
			if [ "$k" != 0x00000000 ] && ipcs | grep -i "^$k " >/dev/null; then
				rp_fail "the kernel has an object with key $k"
			fi
		done
		echo "the kernel's ipcs has none of their keys"
	fi
fi

# ---- ipcs under the shim ----
if command -v ipcs >/dev/null 2>&1; then
	u=$(shimmed ipcs -u) || rp_fail "ipcs -u under the shim failed"
	echo "$u" | grep -E '^allocated queues = 1$' >/dev/null ||
		{ echo "$u"; rp_fail "ipcs -u under the shim: not svipc's 1 queue"; }
	echo "$u" | grep -E '^segments allocated 2$' >/dev/null ||
		{ echo "$u"; rp_fail "ipcs -u under the shim: not svipc's 2 segments"; }
	if ! echo "$u" | grep -E '^used arrays = 1$' >/dev/null ||
		! echo "$u" | grep -E '^allocated semaphores = 3$' >/dev/null; then
		echo "$u"
		rp_fail "ipcs -u under the shim: not svipc's set of 3"
	fi
	echo "ipcs -u under the shim reports svipc's objects (MSG_INFO, SHM_INFO, SEM_INFO)"
	if [ -n "$SVIPCS" ]; then
		l=$(shimmed ipcs) || rp_fail "ipcs under the shim failed"
		if echo "$l" | grep -i "^$qkey " >/dev/null; then
			echo "note: ipcs under the shim now lists svipc's queue"
		else
			echo "note (known limitation): ipcs under the shim lists the kernel's objects, not svipc's:" \
				"util-linux reads /proc/sysvipc/* on Linux (use svipcs)"
		fi
	fi
fi

# ---- svipcrm ----
"$SVIPCRM" -q "$q" || rp_fail "svipcrm -q $q"
gone "msg.$q" "svipcrm -q $q"
"$SVIPCRM" -m "$m2" || rp_fail "svipcrm -m $m2"
gone "shm.$m2" "svipcrm -m $m2"
if [ -n "$SVIPCS" ]; then
	"$SVIPCRM" -M "$mkey" || rp_fail "svipcrm -M $mkey"
	gone "shm.$m" "svipcrm -M $mkey"
	"$SVIPCRM" -S "$skey" || rp_fail "svipcrm -S $skey"
	gone "sem.$s" "svipcrm -S $skey"
	if "$SVIPCS" | grep '^0x' >/dev/null; then
		"$SVIPCS"
		rp_fail "svipcs still lists objects"
	fi
	echo "svipcrm removed them by id (queue, 1MiB segment) and by key (64K segment, set)"
else
	"$SVIPCRM" -m "$m" || rp_fail "svipcrm -m $m"
	"$SVIPCRM" -s "$s" || rp_fail "svipcrm -s $s"
	gone "shm.$m" "svipcrm -m $m"
	gone "sem.$s" "svipcrm -s $s"
	echo "svipcrm removed them by id"
fi

# ---- ipcrm under the shim ----
q=$(mk msg -Q)
m=$(mk shm -M 8K)
s=$(mk sem -S 1)
shimmed ipcrm -q "$q" -m "$m" -s "$s" || rp_fail "ipcrm -q $q -m $m -s $s under the shim"
gone "msg.$q" "ipcrm -q $q"
gone "shm.$m" "ipcrm -m $m"
gone "sem.$s" "ipcrm -s $s"
if [ -n "$SVIPCS" ]; then
	q=$(mk msg -Q)
	m=$(mk shm -M 8K)
	s=$(mk sem -S 2)
	shimmed ipcrm -Q "$(key_of -q "$q")" -M "$(key_of -m "$m")" -S "$(key_of -s "$s")" ||
		rp_fail "ipcrm by key under the shim"
	gone "msg.$q" "ipcrm -Q"
	gone "shm.$m" "ipcrm -M"
	gone "sem.$s" "ipcrm -S"
	echo "ipcrm under the shim removed svipc objects by id and by key"
else
	echo "ipcrm under the shim removed svipc objects by id"
fi

# ---- ipcrm -a under the shim, in a private kernel IPC namespace ----
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 &&
	unshare -i true 2>/dev/null; then
	q=$(mk msg -Q)
	m=$(mk shm -M 8K)
	s=$(mk sem -S 2)
	# in the private namespace: one kernel object of each kind, which must stay
	out=$(unshare -i sh -c '
		ipcmk -Q >/dev/null && ipcmk -M 4096 >/dev/null && ipcmk -S 1 >/dev/null || exit 3
		LD_PRELOAD="$1" timeout -k 5 30 ipcrm -a || exit 4
		ipcs | grep -c "^0x"' sh "$PRELOAD" 2>&1) || rp_fail "ipcrm -a under the shim (in unshare -i): $out"
	[ "$out" = 3 ] || rp_fail "ipcrm -a under the shim touched the kernel's objects: $out of 3 left"
	left=$(rp_objects "$ns")
	[ -z "$left" ] || rp_fail "ipcrm -a under the shim left $(echo "$left" | tr "\n" " ")"
	echo "ipcrm -a under the shim removed all svipc objects and none of the kernel's"
else
	echo "note: ipcrm -a not tried (needs root and unshare -i, to keep the machine's kernel objects out of reach)"
fi

# ---- the kernel saw nothing ----
if [ $tracing = 1 ]; then
	calls=$(rp_kernel_calls "$work/trace")
	if [ -n "$calls" ]; then
		echo "$calls" | head -20
		rp_fail "IPC system calls of ipcmk/ipcs/ipcrm reached the kernel (above)"
	fi
	echo "no IPC system call of ipcmk, ipcs or ipcrm reached the kernel ($(find "$work" -name 'trace.*' | wc -l) processes traced)"
fi
left=$(rp_objects "$ns")
[ -z "$left" ] || rp_fail "objects left in the namespace: $(echo "$left" | tr "\n" " ")"
echo "ipcmk/ipcrm/ipcs: all checks pass"
