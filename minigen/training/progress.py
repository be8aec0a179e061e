"""A one-line progress bar on stderr, and plain lines when stderr is not a terminal.

On a terminal the line is redrawn in place (at most ten times a second)::

    classifier/digits  340/660 [#########.........]  52% | loss 0.0412 | 210.3 step/s | eta 2s

Into a file or a CI log, where a redrawn line would pile up as thousands of lines, it prints one plain
line every ``every`` steps instead (a tenth of the run by default).
"""
from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    def __init__(self, total: int, start: int = 0, desc: str = "", stream=None, every=None,
                 width: int = 20):
        self.total, self.start, self.desc, self.width = total, start, desc, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every or max(1, (total - start) // 10)
        self.t0 = time.perf_counter()
        self.last_draw = 0.0
        self.step = start
        self.metrics = {}
        self.closed = False

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.t0
        return (self.step - self.start) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        fraction = self.step / self.total if self.total else 1.0
        filled = int(round(fraction * self.width))
        rate = self.rate()
        eta = (self.total - self.step) / rate if rate > 0 else 0.0
        parts = [f"{self.desc} {self.step:>{len(str(self.total))}}/{self.total} "
                 f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}"]
        parts += [f"{key} {value:.4g}" for key, value in self.metrics.items()]
        parts += [f"{rate:.1f} step/s", f"eta {_duration(eta)}"]
        return " | ".join(parts)

    def update(self, step: int, metrics: dict) -> None:
        self.step, self.metrics = step, metrics
        if self.tty:
            now = time.perf_counter()
            if now - self.last_draw >= 0.1 or step == self.total:
                self.last_draw = now
                self.stream.write("\r\033[K" + self.line())
                self.stream.flush()
        elif (step - self.start) % self.every == 0 or step == self.total:
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.closed:
            self.stream.write("\n")
            self.stream.flush()
        self.closed = True

    def write(self, message: str) -> None:
        """A message on its own line, without garbling the bar."""
        self.stream.write(("\r\033[K" if self.tty else "") + message + "\n")
        if self.tty:
            self.stream.write(self.line())
        self.stream.flush()
