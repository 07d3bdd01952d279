"""What every worker process the crawler starts does first (parser, extraction and WARC
encoder workers): end when the crawler ends. A crawler killed with ``kill -9`` cannot tell its
workers to go, and a pool's workers hold its queue open for each other, so without this they
would wait for work for ever, each with its libraries loaded (150 MB for an extraction worker)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Iterator

#: Seconds between two looks at the parent, where the kernel cannot be asked to tell.
PARENT_POLL = 1.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ignore Ctrl-C (the crawler stops its workers itself) and end this process when its parent
    ends: Linux's parent-death signal, and a thread that checks the parent, for other systems
    and for a parent that died before the signal was asked for."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_with_parent(signal.SIGKILL)


def end_with_parent(signum: int) -> None:
    """Be sent ``signum`` when the parent ends (SIGTERM: stop as after ``kill``; SIGKILL: at
    once). SIGKILL comes from the kernel (Linux's parent-death signal) and from a thread that
    watches the parent; another signal from the thread only, once: the kernel's would come again
    each time the process is handed to a new parent that ends."""
    parent = os.getppid()
    if signum == signal.SIGKILL:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
        except (OSError, AttributeError):
            pass  # not Linux: the thread below does it

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(PARENT_POLL)
        if signum == signal.SIGKILL:
            os._exit(1)
        os.kill(os.getpid(), signum)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@contextlib.contextmanager
def stop_signal_held() -> Iterator[None]:
    """SIGINT blocked in this thread while a crawl is started in a child process (``crawler
    serve``'s runs): the child inherits the block, so a SIGINT sent to it before it can stop
    cleanly (a cancel while its interpreter starts) waits, pending, until the crawl takes it
    (:func:`take_stop_signal`), instead of a ``KeyboardInterrupt`` in the middle of an import.
    One that comes to this process meanwhile is delivered when the block ends."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def take_stop_signal() -> None:
    """Unblock SIGINT (once the crawl's handler is in place): one that came while it was held
    (:func:`stop_signal_held`) is handled now, as a stop."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


__all__ = ["PARENT_POLL", "die_with_parent", "end_with_parent", "stop_signal_held", "take_stop_signal"]
