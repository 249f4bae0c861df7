"""A search sized by wall time (`--time-budget`, `tuner.time_budget`): the budget and what is spent of it.

The budget covers the search, over all the runs that resume it: what earlier runs
spent is kept in the state folder (`budget.json`, written at every trial's end and
at the end of a run), so running the same command with a larger budget continues
where the smaller one stopped. Once it is spent, no trial starts, and the trial
that is running stops at its next validated epoch, recorded as completed with its
best epoch and marked as cut (the CSV's `cut_by_budget`). In a distributed search
the chief's clock decides (`distributed.gate`).
"""

from __future__ import annotations

import time
from pathlib import Path

from tuner_app.space.durations import format_duration
from tuner_app.store import atomic

BUDGET_FILE = "budget.json"


class TimeBudget:
    """`seconds` of wall time, `spent_before` of them by earlier runs of the search.

    Args:
        seconds: the budget; None: no limit (every question then answers as if none were spent).
        state_dir: the search's state folder, where earlier runs' spending is kept.
    """

    def __init__(self, seconds: float | None, state_dir: Path, clock=time.monotonic):
        self.seconds = seconds
        self._path = Path(state_dir) / BUDGET_FILE
        self._clock = clock
        self._started = clock()
        self._all_spent = False
        saved = atomic.read_json(self._path, "the time budget's record", "delete it") if self._path.exists() else {}
        self.spent_before = float(saved.get("spent_seconds", 0.0)) if isinstance(saved, dict) else 0.0

    def spent(self) -> float:
        """Seconds spent by this search so far, this run included."""
        return self.spent_before + (self._clock() - self._started)

    def left(self) -> float | None:
        return None if self.seconds is None else max(0.0, self.seconds - self.spent())

    def exhausted(self) -> bool:
        return self.seconds is not None and (self._all_spent or self.spent() >= self.seconds)

    def spend_all(self) -> None:
        """Counts the budget as spent from now on (`faults.spends`: tests that need it spent at a known moment)."""
        self._all_spent = True

    def save(self) -> None:
        """Keeps what is spent, for the next run of this search."""
        atomic.write_json_atomic(self._path, {"spent_seconds": round(self.spent(), 3)})

    def describe(self) -> str:
        """'12m30s of the 30m00s time budget left'."""
        if self.seconds is None:
            return ""
        return f"{format_duration(self.left())} of the {format_duration(self.seconds)} time budget left"
