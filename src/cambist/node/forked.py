"""Snapshots written by a forked child, so the event loop never waits for one.

A snapshot must see one consistent state, so it used to be serialised on the event loop:
with the open orders of a busy exchange (a 27 MB snapshot) every request waited up to 50-250
ms for it, every ``snapshot_every`` commands (measured with ``cambist_event_loop_lag_seconds``
at 10,000 orders/s; docs/benchmarks.md). A
``fork`` gives the child a copy-on-write image of the state at that instant (as Redis's
BGSAVE does); the child serialises and writes it while the parent goes on applying
commands. The cost moves to the other core and to the pages the parent changes meanwhile,
which the kernel copies.

The child first closes every inherited descriptor (the journal's lock, the sockets), then runs
only pure serialisation and file writes (no locks another thread may have held at the fork, no
logging, no event loop) and leaves with ``os._exit``, so it never runs the
parent's ``atexit`` handlers or flushes the parent's buffered output a second time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import traceback
import warnings
from collections.abc import Callable


def can_fork() -> bool:
    """Whether this platform has ``fork`` (not Windows)."""
    return hasattr(os, "fork")


def run_in_child(work: Callable[[], object]) -> int:
    """Run ``work`` in a forked child and return the child's pid (the parent reaps it with
    :func:`exit_code`). The child exits 0 once ``work`` returned, 1 if it raised (the
    traceback goes to standard error)."""
    with warnings.catch_warnings():
        # Python 3.12+ warns that a fork of a threaded process may deadlock the child on a
        # lock another thread held; this child takes none (see the module docstring).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        gc.disable()  # short-lived: a collection would only touch (and copy) shared pages
        with contextlib.suppress(OSError):  # lowest priority: the server's threads and its
            os.nice(19)  # clients come first on a busy machine; the snapshot uses what is left
        _close_inherited_fds()
        with contextlib.suppress(ValueError):  # not the main thread: no wakeup fd to drop
            signal.set_wakeup_fd(-1)  # the parent's event loop's, not ours
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        work()
        code = 0
    except BaseException:  # reported, then the child exits non-zero
        with contextlib.suppress(OSError):
            os.write(2, ("snapshot child failed:\n" + traceback.format_exc()).encode())
    finally:
        os._exit(code)


def _close_inherited_fds() -> None:
    """Close every descriptor but standard input, output and error. The child must not hold
    the journal's lock (a lock belongs to the open file, which the fork shares), the listening
    socket or client connections: if the parent is killed while the child writes, a restarted
    server would find the journal locked and the port taken until the child finished."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: every possible descriptor
        limit = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096
        os.closerange(3, min(limit, 1 << 16))
        return
    for fd in fds:
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor is gone already
                os.close(fd)


def exit_code(pid: int) -> int | None:
    """Wait for child ``pid`` (blocking: call it from a thread) and return its exit code
    (negative: killed by that signal), or None if something else in the process reaped it
    first (a reaper of every child would take its status; the snapshot's own file then tells)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)
