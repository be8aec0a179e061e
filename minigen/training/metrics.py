"""The metrics log: ``metrics.jsonl``, one JSON object per logged step.

    {"step": 100, "epoch": 4, "loss": 0.1873, "lr": 0.001, "time": 3.52}

Each line is written and flushed as soon as it is known, so a crashed run keeps its curve. On
``--resume`` the lines after the checkpoint's step are dropped: the resumed run writes them again, and
the file ends up line for line the one an uninterrupted run would have written (``time`` aside).
"""
from __future__ import annotations

import json
import os

from ..io import atomic_write


def read_metrics(path) -> list:
    """Every record of a metrics.jsonl file, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class MetricsLog:
    """Appends records to ``path``; ``resume_at(step)`` first drops the records after ``step``."""

    def __init__(self, path, resume_at=None):
        self.path = os.fspath(path)
        if resume_at is None:
            open(self.path, "w").close()
        elif os.path.exists(self.path):
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_at]
            with atomic_write(self.path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)
        self._file = open(self.path, "a")

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class RunningMean:
    """The mean of each metric over the steps since the last log line (what a logged value means).

    Its sums are saved in the checkpoint, so a resumed run logs the same means as one never stopped.
    """

    def __init__(self, state=None):
        self.sums = dict(state["sums"]) if state else {}
        self.count = int(state["count"]) if state else 0

    def add(self, metrics: dict) -> None:
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def pop(self) -> dict:
        means = {key: total / self.count for key, total in self.sums.items()}
        self.sums, self.count = {}, 0
        return means

    def state_dict(self) -> dict:
        return {"sums": dict(self.sums), "count": self.count}
