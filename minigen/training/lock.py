"""One run writes a run folder at a time: ``train.lock`` in the folder while it trains.

    with run_lock("runs/vae-digits"):       # refuses if another live process holds it
        ...                                  # train; the lock goes on return, error or Ctrl-C

The lock is a file created with O_CREAT | O_EXCL, which the operating system makes atomic: of two
runs starting at once, exactly one creates it. It holds the owner's process id and host name, so a lock
left behind by a run that was killed (SIGKILL, a power cut) is recognised as stale, its process being
gone, and taken over with a message. A lock from another host (a shared file system) cannot be
checked and is never taken over. Under MPI only rank 0 writes the folder, so only rank 0 takes it.
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

from ..io import process_alive
from ..recipe import UsageError

LOCK = "train.lock"


def _owner() -> str:
    return f"{os.getpid()} {socket.gethostname()}\n"


def _read_owner(path):
    """(pid, host) written in the lock file, or (None, None) if it cannot be read (half written)."""
    try:
        with open(path) as f:
            pid, host = f.read().split()
        return int(pid), host
    except (OSError, ValueError):
        return None, None




def _create(path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(_owner())
    return True


def acquire(folder, stream=None) -> str:
    """Create ``folder``/train.lock for this process; returns its path. A UsageError if a live run
    holds it; a stale one (its process gone) is taken over, saying so on ``stream`` (stderr)."""
    path = os.path.join(os.fspath(folder), LOCK)
    for _ in range(50):
        if _create(path):
            return path
        pid, host = _read_owner(path)
        if pid is None:                  # being written this very moment: look again
            time.sleep(0.01)
            continue
        if host != socket.gethostname() or process_alive(pid):
            raise UsageError(f"{folder} is being written by another run (process {pid} on {host}, lock "
                             f"{path}); wait for it to finish, or train into another --out folder")
        # Stale. Take it over under a second O_EXCL file, so that two runs finding the same stale lock
        # cannot both remove it (the second would remove the first's fresh lock).
        takeover = path + ".takeover"
        if not _create(takeover):
            time.sleep(0.01)
            continue
        try:
            if _read_owner(path) == (pid, host):
                os.remove(path)
                (stream or sys.stderr).write(f"taking over the lock {path}: its run (process {pid}) is "
                                             "no longer running\n")
        finally:
            os.remove(takeover)
    raise UsageError(f"could not lock {folder}: {path} keeps changing hands (or remove a stale "
                     f"{path}.takeover)")


def release(path) -> None:
    """Remove the lock if this process still holds it."""
    if _read_owner(path) == (os.getpid(), socket.gethostname()):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def run_lock(folder, stream=None):
    """Hold ``folder``/train.lock for the duration of the block (see the module docstring)."""
    path = acquire(folder, stream)
    try:
        yield path
    finally:
        release(path)
