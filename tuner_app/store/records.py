"""A trial's record, `trial_<id>/record.json`: what this tool knows of one trial.

The trainer rewrites it atomically after every epoch, and `export`, `repeat` and
the held-back score read it back as a `TrialRecord`. keras-tuner keeps its own
`trial.json` beside it (the hyperparameters and the metrics it was sent).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner_app.store import atomic, migrations
from tuner_app.store.layout import RECORD_FILE
from tuner_app.store.states import TrialState

#: A trial during which the process died this many times is failed (`--max-trial-deaths`' default).
MAX_DEATHS = 2


@dataclass
class TrialRecord:
    """What `record.json` holds for one trial."""

    trial_id: str
    config: dict[str, Any]
    target_epochs: int
    training: dict[str, Any] = field(default_factory=dict)
    initial_epoch: int = 0
    parent: str | None = None
    status: TrialState = TrialState.RUNNING  # RUNNING, INTERRUPTED (a clean stop), COMPLETED or FAILED
    epochs_trained: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best: dict[str, float] = field(default_factory=dict)
    last_checkpoint: str | None = None  # relative to the trial folder
    best_checkpoint: str | None = None
    seconds: float = 0.0
    params: int = 0
    reason: str | None = None
    deaths: int = 0  # times the process died while this trial was running
    stopped_early: bool = False  # early stopping ended it before target_epochs
    cut_by_budget: bool = False  # the search's time budget ended it before target_epochs

    def __post_init__(self):
        self.status = migrations.record_status(self.status)

    @classmethod
    def load(cls, path: Path) -> TrialRecord:
        data = atomic.read_json(path, "the trial record", "delete it: the trial keeps its results, but can no "
                                "longer be exported or scored on held-back rows", expect=dict)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def read(cls, trial_dir: Path) -> TrialRecord | None:
        """The record in `trial_dir`, or None when the trial has none."""
        path = Path(trial_dir) / RECORD_FILE
        return cls.load(path) if path.exists() else None

    def save(self, trial_dir: Path) -> None:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        atomic.write_json_atomic(Path(trial_dir) / RECORD_FILE, data)
