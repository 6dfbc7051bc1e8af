"""Children that die with their parent: no EchoNest process outlives the runner that started it.

Two layers, because either alone has a hole. ``die_with_parent`` asks the Linux kernel
(``prctl(PR_SET_PDEATHSIG)``) to send the child SIGTERM the moment its parent dies, even by
SIGKILL; it runs in the child between fork and exec (``Popen(preexec_fn=...)``) so it covers
binaries we do not control, such as valkey-server. ``parent_gone`` is the portable fallback a
Python child polls in its own loop (the parent pid changes to 1 or a subreaper once orphaned).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def _prctl_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM,
                    umask: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``signum`` when ``parent_pid`` dies.

    Checks the parent once more after arming the signal: a parent that died between fork and
    prctl would otherwise never send it. ``umask`` (e.g. 0o077) is applied in the child too.
    """

    def arm() -> None:
        if umask is not None:
            os.umask(umask)
        _prctl_pdeathsig(signum)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signum)

    return arm


def parent_gone(parent_pid: int | None) -> bool:
    """True once the process that started us is gone (we were re-parented)."""
    return bool(parent_pid) and os.getppid() != parent_pid
