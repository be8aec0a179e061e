"""When one rank fails, every rank stops, soon, and says why.

Collective operations wait for every rank. A rank that raises, is killed or hangs would otherwise leave
the others waiting inside an all-reduce forever. Three mechanisms cover the three cases:

    a rank raises           it prints its traceback and calls MPI_Abort, which makes the launcher stop
                            every rank of the job (``abort_job``; the trainer does this for any error
                            that did not happen on every rank at the same point)
    a rank is killed        the launcher (mpiexec, mpirun, srun) sees a process die and stops the others
    a rank hangs            the ranks waiting for it time out: a watchdog thread notices a blocking call
                            that has waited longer than the timeout and aborts the job (``Watchdog``)

Files are written only by rank 0, atomically (write a temporary file, then rename), so a job stopped
in any of these ways keeps its last good checkpoint.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time


def abort_job(message: str, mpi_abort=None, exit_code: int = 1):
    """Print ``message`` and stop every rank: ``mpi_abort()`` (MPI_Abort) where there is MPI, else exit.

    If MPI_Abort itself fails to end the process, it ends anyway: a rank that meant to stop the job
    must never go on.
    """
    try:
        sys.stderr.write(message.rstrip() + "\n")
        sys.stderr.flush()
    finally:
        if mpi_abort is not None:
            try:
                mpi_abort()
            finally:
                os._exit(exit_code)
    raise SystemExit(exit_code)


class Watchdog:
    """A daemon thread that calls ``on_timeout(what, waited_seconds)`` when a block entered with
    ``with watchdog.waiting(what, timeout):`` has not finished after ``timeout`` seconds.

    It costs two attribute writes per blocking call; the thread starts with the first wait.
    """

    def __init__(self, on_timeout):
        self.on_timeout = on_timeout
        self._deadline = None        # (time it started, timeout, what) of the wait in progress
        self._thread = None
        self._stopped = threading.Event()

    @contextlib.contextmanager
    def waiting(self, what: str, timeout: float):
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="minigen-watchdog", daemon=True)
            self._thread.start()
        previous, self._deadline = self._deadline, (time.monotonic(), float(timeout), what)
        try:
            yield
        finally:
            self._deadline = previous

    def _watch(self):
        while not self._stopped.wait(0.5):
            deadline = self._deadline
            if deadline is None:
                continue
            started, timeout, what = deadline
            waited = time.monotonic() - started
            if waited > timeout and self._deadline is deadline:
                self.on_timeout(what, waited)
                return

    def stop(self):
        self._stopped.set()
