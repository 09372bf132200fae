"""Processes die with the launcher that started them (`make run`, `manage.py gpuworkers`).

The launchers supervise their processes with honcho, which starts each in a session of its
own: Ctrl-C or SIGTERM reaches the launcher, which stops them all; but a launcher killed with
SIGKILL (or the OOM killer) could not, and its Celery workers went on consuming tasks and
holding the GPU. So a launcher names itself in EVOLAB_LAUNCHER_PID, and each process it
starts watches that process through a pidfd (no PID reuse can fool it) and stops itself when
the launcher is gone: a Celery worker with a cold shutdown (SIGQUIT: its pool processes are
terminated at once; a child in training is taken over by another worker when its lease
expires), the web server with SIGTERM; one still there GRACE_SECONDS later (a Celery worker
that had just lost its broker too sat in its reconnect loop and never shut down) is
SIGKILLed. Pool processes also ask the kernel to kill them when their Celery parent dies
(PR_SET_PDEATHSIG), whatever killed it.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading

LAUNCHER_PID = "EVOLAB_LAUNCHER_PID"
_PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 10.0


def launched_env() -> dict[str, str]:
    """What a launcher adds to the environment of the processes it starts."""
    return {LAUNCHER_PID: str(os.getpid())}


def die_with_launcher(signum: int = signal.SIGTERM) -> bool:
    """Send `signum` to this process when the launcher named in the environment exits.
    False when no launcher is named (started by hand, by a test, by systemd)."""
    raw = os.environ.get(LAUNCHER_PID, "")
    if not raw.isascii() or not raw.isdigit() or int(raw) == os.getpid():
        return False
    try:
        fd = os.pidfd_open(int(raw))
    except ProcessLookupError:  # gone already
        os.kill(os.getpid(), signum)
        return True
    except OSError:  # a kernel without pidfds: watch the parent instead
        return _watch_parent(int(raw), signum)
    threading.Thread(target=_wait_readable, args=(fd, signum), daemon=True).start()
    return True


def _wait_readable(fd: int, signum: int) -> None:
    select.select([fd], [], [])  # a pidfd becomes readable when its process exits
    _stop(signum)


def _stop(signum: int) -> None:
    """Ask this process to stop with `signum`; kill it if it is still here after the grace."""
    os.kill(os.getpid(), signum)
    threading.Event().wait(GRACE_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)


def _watch_parent(pid: int, signum: int) -> bool:
    if os.getppid() != pid:
        return False

    def poll() -> None:
        while os.getppid() == pid:
            threading.Event().wait(0.5)
        _stop(signum)

    threading.Thread(target=poll, daemon=True).start()
    return True


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Linux: the kernel sends `signum` to this process when its parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() == 1:  # the parent died before the call: nothing would signal us
        os.kill(os.getpid(), signum)
