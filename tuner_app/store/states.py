"""A trial's state: one type for keras-tuner's statuses, the results CSV's and this tool's records.

keras-tuner's `TrialStatus` strings (what the oracle and the results CSV hold) are mapped onto
`TrialState` once, by `TrialState.of`; a trial's record (`store.records`) keeps the same names,
with INTERRUPTED for a trial the user stopped cleanly (keras-tuner still says RUNNING there).
TensorFlow-free.
"""

from __future__ import annotations

from enum import Enum


class TrialState(str, Enum):
    """Where a trial stands, spelled as keras-tuner and the results CSV spell it."""

    RUNNING = "RUNNING"
    IDLE = "IDLE"  # keras-tuner's answer to a worker that must wait for others
    INVALID = "INVALID"
    STOPPED = "STOPPED"  # keras-tuner's answer to a worker that must stop
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"  # a record only: stopped cleanly, it continues when the search resumes

    @classmethod
    def of(cls, value) -> TrialState | None:
        """keras-tuner's status (or a record's, or a CSV cell) as a TrialState; None for none."""
        if value is None or isinstance(value, TrialState):
            return value
        return cls(str(value).upper())

    def is_finished(self) -> bool:
        """Whether the trial has ended for good: completed, failed or invalid (its row is in the results)."""
        return self in (TrialState.COMPLETED, TrialState.FAILED, TrialState.INVALID, TrialState.STOPPED)

    def is_completed(self) -> bool:
        return self is TrialState.COMPLETED


def is_finished(status) -> bool:
    """`TrialState.of(status).is_finished()`, False for no status at all."""
    state = TrialState.of(status)
    return state is not None and state.is_finished()


def is_completed(status) -> bool:
    return TrialState.of(status) is TrialState.COMPLETED
