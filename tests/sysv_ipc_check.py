#!/usr/bin/python3
"""Exercises the Python sysv_ipc module (Debian python3-sysv-ipc) end to end.

Run by tests/test_python_sysv_ipc.sh twice: on the kernel (no LD_PRELOAD),
where it checks itself against the real thing, and under
LD_PRELOAD=libsvipc-preload.so, where the same checks hold for svipc. It
prints a transcript: one line per check, with nothing in it that differs
between two correct runs (no ids, keys, pids or times), so the two
transcripts must be identical. Any failed check raises, and the script
exits non-zero.

    sysv_ipc_check.py            run everything, transcript on stdout

Objects are created with random keys (key=None, IPC_CREX), plus one ftok
key, so that a run on the kernel does not collide with anything else; all
of them are removed at the end, also when a check fails.
"""
import errno
import os
import signal
import sys
import threading
import time

import sysv_ipc as S

CHILD_LIMIT = 10.0   # seconds a check waits for a child or a condition
created = []         # (kind, id) of everything made, removed at exit


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError("FAILED: " + what)
    say("ok", what)


def raises(exc, fn, what, err=None):
    """fn() must raise exc (an OSError with errno err, if err is given)."""
    try:
        fn()
    except exc as e:
        if err is not None and getattr(e, "errno", None) != err:
            raise AssertionError("FAILED: %s: expected errno %s, got %s: %s"
                                 % (what, errno.errorcode[err], type(e).__name__, e))
        say("ok", what, "->", exc.__name__, errno.errorcode[err] if err else "")
        return
    except Exception as e:  # the wrong exception is a failure
        raise AssertionError("FAILED: %s: expected %s, got %s: %s"
                             % (what, exc.__name__, type(e).__name__, e))
    raise AssertionError("FAILED: %s: expected %s, nothing raised"
                         % (what, exc.__name__))


def track(kind, obj):
    created.append((kind, obj.id))
    return obj


def fork_child(body):
    """Runs body() in a child; its return value (0 = ok) is the exit code."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = body()
        except BaseException as e:  # report, never return into the parent's code
            print("child FAILED: %s: %s" % (type(e).__name__, e), flush=True)
        finally:
            sys.stdout.flush()
            os._exit(code if isinstance(code, int) else 1)
    return pid


def wait_child(pid, what, expect_signal=None):
    deadline = time.monotonic() + CHILD_LIMIT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("FAILED: %s: child did not finish" % what)
        time.sleep(0.005)
    if expect_signal is not None:
        check(os.WIFSIGNALED(status) and os.WTERMSIG(status) == expect_signal, what)
    else:
        check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, what)


def wait_until(cond, what):
    deadline = time.monotonic() + CHILD_LIMIT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("FAILED: timed out waiting for " + what)
        time.sleep(0.002)


def interrupted(fn, what):
    """fn() blocks; a signal (with a handler) 0.2 s later must end it with
    the module's "Signaled while waiting" (EINTR)."""
    fired = []
    old = signal.signal(signal.SIGALRM, lambda sig, frame: fired.append(sig))
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        fn()
    except S.Error as e:
        if type(e) is not S.Error or "Signaled" not in str(e):
            raise AssertionError("FAILED: %s: %s: %s" % (what, type(e).__name__, e))
    else:
        raise AssertionError("FAILED: %s: returned" % what)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        signal.alarm(120)  # the watchdog again (setitimer replaced it)
    check(fired, what + " -> Error (EINTR), the handler ran")


def in_thread(fn):
    """Runs fn in a thread; returns a join() that gives fn's result or raises."""
    box = {}
    def run():
        try:
            box["r"] = fn()
        except BaseException as e:
            box["e"] = e
    t = threading.Thread(target=run)
    t.start()
    def join():
        t.join(CHILD_LIMIT)
        if t.is_alive():
            raise AssertionError("FAILED: a thread did not finish")
        if "e" in box:
            raise box["e"]
        return box.get("r")
    return join


def missing_key():
    """A key with no object of any kind behind it."""
    for _ in range(100):
        k = int.from_bytes(os.urandom(4), "little") & 0x7fffffff
        if k == S.IPC_PRIVATE:
            continue
        try:
            S.MessageQueue(k)
            continue
        except S.ExistentialError:
            pass
        try:
            S.Semaphore(k)
            continue
        except S.ExistentialError:
            pass
        try:
            S.SharedMemory(k)
            continue
        except S.ExistentialError:
            pass
        return k
    raise AssertionError("FAILED: no free key found")


def read_proc_int(name):
    with open("/proc/sys/kernel/" + name) as f:
        return int(f.read().split()[0])


# ---- message queues -------------------------------------------------------

def check_queues():
    say("# message queues")
    q = track("msg", S.MessageQueue(None, S.IPC_CREX, mode=0o600, max_message_size=2048))
    check(q.current_messages == 0, "new queue is empty")
    check(q.max_size == read_proc_int("msgmnb"), "max_size (msg_qbytes) is msgmnb")
    check(q.mode & 0o777 == 0o600, "mode is 0600")
    check(q.uid == os.geteuid() and q.cuid == os.geteuid(), "uid and cuid are the caller's")
    check(q.gid == os.getegid() and q.cgid == os.getegid(), "gid and cgid are the caller's")
    check(q.last_send_time == 0 and q.last_receive_time == 0, "no send or receive yet")
    check(q.last_change_time > 0, "last_change_time is set")

    q.send(b"one", type=1)
    q.send(b"two", type=2)
    q.send("three", type=3)
    q.send(b"", type=4)
    q.send(bytes(range(256)) * 4, type=5)
    check(q.current_messages == 5, "five messages queued")
    check(q.last_send_pid == os.getpid(), "last_send_pid is ours")
    check(q.last_send_time > 0, "last_send_time is set")
    check(q.receive(type=2) == (b"two", 2), "receive(type=2) takes the type-2 message")
    check(q.receive(type=-3) == (b"one", 1), "receive(type=-3) takes the lowest type <= 3")
    check(q.receive() == (b"three", 3), "receive() takes the oldest")
    check(q.receive(block=False) == (b"", 4), "an empty message comes back empty")
    check(q.receive(type=5) == (bytes(range(256)) * 4, 5), "1 KiB of every byte value survives")
    check(q.last_receive_pid == os.getpid(), "last_receive_pid is ours")
    check(q.current_messages == 0, "queue empty again")
    raises(S.BusyError, lambda: q.receive(block=False), "receive(block=False) on an empty queue")
    q.send(b"x", type=7)
    raises(S.BusyError, lambda: q.receive(block=False, type=8),
           "receive(block=False, type=8) with only type 7 queued")
    raises(S.BusyError, lambda: q.receive(block=False, type=-6),
           "receive(block=False, type=-6) with only type 7 queued")
    check(q.receive(block=False, type=7) == (b"x", 7), "the type-7 message is still there")
    raises(ValueError, lambda: q.send(b"x", type=0), "send(type=0)")
    raises(ValueError, lambda: q.send(b"y" * 2049), "send beyond max_message_size")

    # Lowering msg_qbytes (IPC_SET) is allowed to the owner; then fill it.
    q.max_size = 4096
    check(q.max_size == 4096, "max_size set to 4096")
    sent = 0
    try:
        while sent < 100:
            q.send(b"z" * 1000, block=False)
            sent += 1
    except S.BusyError:
        pass
    say("ok queue of 4096 bytes holds", sent, "messages of 1000 bytes, then BusyError")
    check(q.current_messages == sent, "current_messages counts them")

    # A blocked send completes when a child makes room.
    def drain_later():
        time.sleep(0.1)
        q.receive()
        return 0
    pid = fork_child(drain_later)
    q.send(b"w" * 1000)   # blocks until the child has received one
    wait_child(pid, "blocked send completes after a child's receive")
    check(q.current_messages == sent, "queue is full again")
    while q.current_messages:
        q.receive()

    # A blocked receive completes when a child sends; type filter honoured.
    def send_later():
        time.sleep(0.1)
        q.send(b"decoy", type=1)
        q.send(b"wanted", type=9)
        return 0
    pid = fork_child(send_later)
    check(q.receive(type=9) == (b"wanted", 9), "blocked receive(type=9) gets the child's type-9 message")
    wait_child(pid, "sender child exits")
    check(q.receive(block=False) == (b"decoy", 1), "the decoy stayed queued")

    # Threads: a receive blocked in one thread (the module lets go of the
    # GIL) is completed by a send from another; a signal interrupts one.
    join = in_thread(lambda: q.receive(type=11))
    time.sleep(0.1)
    q.send(b"from main", type=11)
    check(join() == (b"from main", 11), "a receive blocked in a thread gets the main thread's send")
    interrupted(lambda: q.receive(type=12), "a blocked receive interrupted by a signal")

    # Attribute setters.
    q.mode = 0o640
    check(q.mode & 0o777 == 0o640, "mode set to 0640")
    q.uid = os.geteuid()
    q.gid = os.getegid()
    check(q.uid == os.geteuid() and q.gid == os.getegid(), "uid and gid set (to the same values)")

    # Opening by key gives the same queue.
    q2 = S.MessageQueue(q.key)
    check(q2.id == q.id, "MessageQueue(key) opens the same queue")
    raises(S.ExistentialError, lambda: S.MessageQueue(q.key, S.IPC_CREX),
           "MessageQueue(existing key, IPC_CREX)")

    # A receiver blocked when the queue is removed gets ExistentialError (EIDRM).
    def blocked_receiver():
        try:
            q.receive()
        except S.ExistentialError:
            return 0
        return 1
    pid = fork_child(blocked_receiver)
    time.sleep(0.2)
    key, qid = q.key, q.id
    q.remove()
    wait_child(pid, "a receiver blocked at remove() gets ExistentialError")
    # the module maps msgsnd's EINVAL (no such id) to OSError, EIDRM only to ExistentialError
    raises(OSError, lambda: q.send(b"late"), "send on a removed queue", errno.EINVAL)
    raises(S.ExistentialError, lambda: q.current_messages, "current_messages of a removed queue")
    raises(S.ExistentialError, lambda: S.MessageQueue(key), "MessageQueue(key of a removed queue)")
    raises(S.ExistentialError, lambda: S.remove_message_queue(qid), "remove_message_queue(removed id)")
    raises(S.ExistentialError, lambda: S.MessageQueue(missing_key()), "MessageQueue(missing key)")

    # IPC_CREAT alone creates, then opens.
    k = missing_key()
    a = track("msg", S.MessageQueue(k, S.IPC_CREAT))
    b = S.MessageQueue(k, S.IPC_CREAT)
    check(a.id == b.id, "IPC_CREAT creates, then opens the same queue")
    S.remove_message_queue(a.id)
    raises(S.ExistentialError, lambda: a.current_messages, "remove_message_queue(id) removes it")


# ---- shared memory --------------------------------------------------------

def check_memory():
    say("# shared memory")
    m = track("shm", S.SharedMemory(None, S.IPC_CREX, mode=0o600, size=10000, init_character=b"x"))
    check(m.attached, "the constructor attaches")
    check(m.size == 10000, "size is what was asked (10000), not rounded")
    check(m.number_attached == 1, "number_attached is 1")
    check(m.read(5) == b"xxxxx", "init_character fills the segment")
    check(m.read(offset=9995) == b"xxxxx", "read to the end from an offset")
    check(m.creator_pid == os.getpid() and m.last_pid == os.getpid(), "creator_pid and last_pid are ours")
    check(m.last_attach_time > 0 and m.last_change_time > 0, "attach and change times are set")
    check(m.uid == os.geteuid() and m.cuid == os.geteuid(), "uid and cuid are the caller's")
    check(m.mode & 0o777 == 0o600, "mode is 0600")
    m.write(b"hello", offset=100)
    check(m.read(5, offset=100) == b"hello", "write then read at an offset")
    raises(ValueError, lambda: m.write(b"ab", offset=9999), "write past the end")
    raises(ValueError, lambda: m.read(1, offset=10000), "read at offset == size")

    # A second attachment (by key) sees the same memory.
    m2 = S.SharedMemory(m.key)
    check(m2.id == m.id, "SharedMemory(key) opens the same segment")
    check(m.number_attached == 2, "number_attached is 2")
    check(m2.read(5, offset=100) == b"hello", "the second attachment sees the first's write")
    m2.write(b"HELLO", offset=100)
    check(m.read(5, offset=100) == b"HELLO", "and the other way round")
    mv = memoryview(m)
    mv[0:3] = b"abc"
    check(len(mv) == 10000, "buffer protocol: memoryview has the segment's size")
    mv.release()
    check(m2.read(3) == b"abc", "a memoryview write is shared")
    m2.detach()
    check(not m2.attached and m.number_attached == 1, "detach: number_attached back to 1")
    check(m.last_detach_time > 0, "last_detach_time is set")
    raises(S.NotAttachedError, lambda: m2.read(1), "read after detach")
    raises(S.NotAttachedError, lambda: m2.detach(), "detach twice")
    m2.attach(flags=S.SHM_RDONLY)
    check(m.number_attached == 2, "re-attach (read-only) counts")
    check(m2.read(3) == b"abc", "a read-only attachment reads")
    raises(OSError, lambda: m2.write(b"no"), "write() on a read-only attachment (the module refuses)")
    # Past the module's own check, the mapping itself must be read-only.
    def poke_read_only():
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        mv = memoryview(m2)   # the module hands out a writable view
        mv[0] = 0x41
        return 3              # the store went through: not read-only
    wait_child(fork_child(poke_read_only), "a store into a SHM_RDONLY attachment raises SIGSEGV",
               expect_signal=signal.SIGSEGV)
    check(m.read(1) == b"a", "and changed nothing")
    m2.detach()
    m3 = S.attach(m.id)
    check(m3.read(3) == b"abc" and m.number_attached == 2, "sysv_ipc.attach(id) attaches")
    m3.detach()
    raises(ValueError, lambda: S.SharedMemory(m.key, size=20000),
           "SharedMemory(key, size larger than the segment)")
    raises(S.ExistentialError, lambda: S.SharedMemory(m.key, S.IPC_CREX),
           "SharedMemory(existing key, IPC_CREX)")

    # A forked child inherits the attachment; its write is seen; counts follow.
    def child_writes():
        if m.number_attached != 2:
            return 2
        m.write(b"child", offset=200)
        return 0
    pid = fork_child(child_writes)
    wait_child(pid, "a forked child shares the attachment (number_attached 2 in it)")
    check(m.read(5, offset=200) == b"child", "the child's write is seen")
    check(m.number_attached == 1, "the child's exit detached it")

    m.mode = 0o640
    check(m.mode & 0o777 == 0o640, "mode set to 0640")

    # Removed while attached: still usable, gone for lookups; gone at detach.
    key, mid = m.key, m.id
    m.remove()
    check(m.read(5, offset=200) == b"child", "a removed segment stays readable while attached")
    raises(S.ExistentialError, lambda: S.SharedMemory(key), "SharedMemory(key of a removed segment)")
    m.detach()
    raises(S.ExistentialError, lambda: m.size, "size of a removed, detached segment")
    raises(S.ExistentialError, lambda: S.remove_shared_memory(mid), "remove_shared_memory(removed id)")
    raises(S.ExistentialError, lambda: S.SharedMemory(missing_key()), "SharedMemory(missing key)")

    # Default size is a page.
    p = track("shm", S.SharedMemory(None, S.IPC_CREX))
    check(p.size == S.PAGE_SIZE, "default size is PAGE_SIZE")
    check(p.read(1) == b" ", "default init_character is a space")
    p.detach()
    p.remove()


# ---- semaphores -------------------------------------------------------------

def check_semaphores():
    say("# semaphores")
    check(S.SEMAPHORE_TIMEOUT_SUPPORTED, "the module uses semtimedop")
    s = track("sem", S.Semaphore(None, S.IPC_CREX, mode=0o600, initial_value=1))
    check(s.value == 1, "initial_value is 1")
    check(s.mode & 0o777 == 0o600, "mode is 0600")
    check(s.uid == os.geteuid() and s.cuid == os.geteuid(), "uid and cuid are the caller's")
    s.acquire()
    check(s.value == 0, "acquire takes it")
    check(s.last_pid == os.getpid() and s.o_time > 0, "last_pid and o_time are set")
    raises(S.BusyError, lambda: s.acquire(timeout=0), "acquire(timeout=0) when taken")
    t0 = time.monotonic()
    raises(S.BusyError, lambda: s.acquire(timeout=0.3), "acquire(timeout=0.3) when taken")
    took = time.monotonic() - t0
    check(0.25 <= took < 5, "the timeout waited about 0.3 s")
    s.block = False
    raises(S.BusyError, lambda: s.acquire(), "acquire with block=False when taken")
    s.block = True
    s.release()
    check(s.value == 1, "release gives it back")
    s.release(delta=3)
    check(s.value == 4, "release(delta=3)")
    s.acquire(delta=2)
    check(s.value == 2, "acquire(delta=2)")
    raises(S.BusyError, lambda: s.Z(timeout=0.05), "Z() with value 2 times out")
    s.value = 0
    s.Z(timeout=1)
    say("ok Z() returns at once with value 0")
    s.value = 5
    check(s.value == 5, "value set to 5")
    raises(ValueError, lambda: setattr(s, "value", S.SEMAPHORE_VALUE_MAX + 1),
           "value beyond SEMAPHORE_VALUE_MAX")
    s.value = S.SEMAPHORE_VALUE_MAX
    raises(ValueError, lambda: s.release(), "release beyond SEMAPHORE_VALUE_MAX")
    s.value = 1
    with s:
        check(s.value == 0, "the context manager acquires")
    check(s.value == 1, "and releases")

    # A blocked acquire is counted by waiting_for_nonzero and woken by a release.
    s.value = 0
    def release_when_waited():
        wait_until(lambda: s.waiting_for_nonzero == 1, "waiting_for_nonzero == 1")
        s.release()
        return 0
    pid = fork_child(release_when_waited)
    s.acquire(timeout=CHILD_LIMIT)
    wait_child(pid, "a blocked acquire is counted and woken by a child's release")
    check(s.waiting_for_nonzero == 0, "no one waits any more")

    def zero_when_waited():
        wait_until(lambda: s.waiting_for_zero == 1, "waiting_for_zero == 1")
        s.acquire()
        return 0
    s.value = 1
    pid = fork_child(zero_when_waited)
    s.Z(timeout=CHILD_LIMIT)
    wait_child(pid, "a Z() waiter is counted and woken when the value reaches 0")

    # SEM_UNDO: a child's acquire is undone at its exit, and at SIGKILL.
    s.value = 3
    check(not s.undo, "undo is off by default")
    def take_and_exit(undo):
        def body():
            s.undo = undo
            s.acquire()
            return 0
        return body
    wait_child(fork_child(take_and_exit(False)), "child acquire without undo")
    check(s.value == 2, "without undo the child's acquire stays")
    wait_child(fork_child(take_and_exit(True)), "child acquire with undo")
    check(s.value == 2, "with undo the child's acquire is undone at exit")
    def take_and_hang():
        s.undo = True
        s.acquire()
        time.sleep(CHILD_LIMIT * 2)
        return 0
    pid = fork_child(take_and_hang)
    wait_until(lambda: s.value == 1, "the child's acquire")
    os.kill(pid, signal.SIGKILL)
    wait_child(pid, "SIGKILL the holder", expect_signal=signal.SIGKILL)
    wait_until(lambda: s.value == 2, "the undo of the killed child")
    say("ok with undo the acquire of a SIGKILLed child is undone")
    s.undo = True
    check(s.undo, "undo can be set")
    s.undo = False

    # Threads and signals.
    s.value = 0
    join = in_thread(lambda: s.acquire(timeout=CHILD_LIMIT))
    wait_until(lambda: s.waiting_for_nonzero == 1, "the thread to block")
    s.release()
    join()
    check(s.value == 0, "an acquire blocked in a thread is woken by the main thread's release")
    interrupted(lambda: s.acquire(), "a blocked acquire (semop) interrupted by a signal")
    interrupted(lambda: s.acquire(timeout=CHILD_LIMIT), "a blocked acquire(timeout) (semtimedop) interrupted by a signal")
    s.value = 2

    s.mode = 0o640
    check(s.mode & 0o777 == 0o640, "mode set to 0640")
    s2 = S.Semaphore(s.key)
    check(s2.id == s.id and s2.value == 2, "Semaphore(key) opens the same set")
    raises(S.ExistentialError, lambda: S.Semaphore(s.key, S.IPC_CREX),
           "Semaphore(existing key, IPC_CREX)")

    # A waiter blocked at remove() gets ExistentialError (EIDRM).
    s.value = 0
    def blocked_acquire():
        try:
            s.acquire(timeout=CHILD_LIMIT)
        except S.ExistentialError:
            return 0
        return 1
    pid = fork_child(blocked_acquire)
    wait_until(lambda: s.waiting_for_nonzero == 1, "the child to block")
    key, sid = s.key, s.id
    s.remove()
    wait_child(pid, "an acquire blocked at remove() gets ExistentialError")
    raises(S.ExistentialError, lambda: s.value, "value of a removed semaphore")
    raises(S.ExistentialError, lambda: s.release(), "release on a removed semaphore")
    raises(S.ExistentialError, lambda: S.Semaphore(key), "Semaphore(key of a removed set)")
    raises(S.ExistentialError, lambda: S.remove_semaphore(sid), "remove_semaphore(removed id)")
    raises(S.ExistentialError, lambda: S.Semaphore(missing_key()), "Semaphore(missing key)")

    # IPC_CREAT alone creates, then opens; the module sets initial_value
    # (SETVAL) whenever IPC_CREAT is given.
    k = missing_key()
    c = track("sem", S.Semaphore(k, S.IPC_CREAT, initial_value=7))
    check(c.value == 7, "IPC_CREAT creates with initial_value 7")
    c2 = S.Semaphore(k, S.IPC_CREAT, initial_value=2)
    check(c2.id == c.id and c.value == 2, "IPC_CREAT again opens the same set (and sets 2)")
    c.remove()


# ---- ftok -------------------------------------------------------------------

def check_ftok():
    say("# ftok")
    path = os.path.abspath(__file__)
    st = os.stat(path)
    proj = 0x5a
    k = S.ftok(path, proj, silence_warning=True)
    expect = ((proj & 0xff) << 24) | ((st.st_dev & 0xff) << 16) | (st.st_ino & 0xffff)
    # key_t is signed: the module may hand back a negative number
    check(k & 0xffffffff == expect, "ftok(path, 0x5a) is libc's key")
    check(S.ftok(path, proj, silence_warning=True) == k, "ftok is stable")
    check(S.ftok(path + ".does-not-exist", 1, silence_warning=True) == -1,
          "ftok of a missing file is -1 (libc's answer; the module does not raise)")
    # The key may be in use by an unrelated object: then it says so and skips.
    try:
        q = track("msg", S.MessageQueue(k, S.IPC_CREX))
    except S.ExistentialError:
        say("ok ftok key already in use on this machine; open-by-ftok skipped")
        return
    q.send(b"ftok")
    check(S.MessageQueue(S.ftok(path, proj, silence_warning=True)).receive() == (b"ftok", 1),
          "a queue found again by its ftok key")
    q.remove()


# ---- permissions --------------------------------------------------------------

def check_permissions():
    say("# permissions")
    q = track("msg", S.MessageQueue(None, S.IPC_CREX, mode=0o600))
    m = track("shm", S.SharedMemory(None, S.IPC_CREX, mode=0o644, size=4096, init_character=b"p"))
    s = track("sem", S.Semaphore(None, S.IPC_CREX, mode=0o644, initial_value=3))

    def denied(what, fn):
        raises(S.PermissionsError, fn, what)

    def others():
        denied("MessageQueue(key) of a 0600 queue", lambda: S.MessageQueue(q.key))
        denied("remove a queue one does not own", lambda: S.remove_message_queue(q.id))
        denied("SharedMemory(key) asking 0600 of a 0644 segment", lambda: S.SharedMemory(m.key))
        r = S.SharedMemory(m.key, mode=0o400)
        check(r.read(1) == b"p", "SharedMemory(key, mode=0400) attaches read-only and reads")
        r.detach()
        denied("set the mode of a segment one does not own", lambda: setattr(r, "mode", 0o666))
        denied("Semaphore(key) asking 0600 of a 0644 set", lambda: S.Semaphore(s.key))
        t = S.Semaphore(s.key, mode=0o400)
        check(t.value == 3, "Semaphore(key, mode=0400) reads the value")
        denied("acquire without write permission", lambda: t.acquire(timeout=0))
        # the module maps semctl's EPERM to OSError (PermissionsError is EACCES only)
        raises(OSError, lambda: t.remove(), "remove a set one does not own", errno.EPERM)
        return 0

    if os.geteuid() == 0:
        # root passes every check: become nobody in a child.
        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            return others()
        wait_child(fork_child(as_nobody), "as nobody (uid 65534)")
    else:
        # An owner is refused too when the owner bits say no (read stays
        # allowed: the module's setters read the object before they set).
        q.mode = 0o400
        m.mode = 0o444
        s.mode = 0o444
        wait_child(fork_child(owner_denied(q, m, s)), "as the owner of read-only objects")
        q.mode, m.mode, s.mode = 0o600, 0o644, 0o644
        say("ok (not root: the 'other' checks ran against the owner bits)")
    check(q.current_messages == 0 and m.read(1) == b"p" and s.value == 3,
          "the objects are unchanged")
    q.remove()
    m.detach()
    m.remove()
    s.remove()


def owner_denied(q, m, s):
    def body():
        raises(S.PermissionsError, lambda: S.MessageQueue(q.key), "MessageQueue(key) asking 0600 of a 0400 queue")
        raises(S.PermissionsError, lambda: S.SharedMemory(m.key), "SharedMemory(key) asking 0600 of a 0444 segment")
        raises(S.PermissionsError, lambda: S.Semaphore(s.key), "Semaphore(key) asking 0600 of a 0444 set")
        t = S.Semaphore(s.key, mode=0o400)
        raises(S.PermissionsError, lambda: t.acquire(timeout=0), "acquire without write permission")
        return 0
    return body


def cleanup():
    for kind, oid in created:
        try:
            {"msg": S.remove_message_queue, "shm": S.remove_shared_memory,
             "sem": S.remove_semaphore}[kind](oid)
        except (S.ExistentialError, S.PermissionsError):
            pass


def main():
    signal.alarm(120)  # a hang anywhere ends the run
    say("sysv_ipc", S.VERSION)
    try:
        check_queues()
        check_memory()
        check_semaphores()
        check_ftok()
        check_permissions()
    finally:
        cleanup()
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
