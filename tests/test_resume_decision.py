"""How a trial starts from the record a previous run left: a pure function, every case."""

from __future__ import annotations

import dataclasses

import pytest

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tuner_app.space.config import ModelConfig, TrainingConfig
from tuner_app.store.records import TrialRecord
from tuner_app.store.states import TrialState
from tuner_app.tuning.trainer import Start, resume_decision

CONFIG = ModelConfig((16,), "relu", "adam", 0.01)
TRAINING = TrainingConfig(batch_size=256, epochs=5)


def record(status: TrialState, deaths: int = 0, target: int = 5, config: ModelConfig = CONFIG) -> TrialRecord:
    as_dict = {**dataclasses.asdict(config), "layer_sizes": list(config.layer_sizes)}
    return TrialRecord("0", as_dict, target, dataclasses.asdict(TRAINING), status=status, deaths=deaths)


@pytest.mark.parametrize("saved,start", [
    (None, Start.FRESH),
    (record(TrialState.COMPLETED), Start.DONE),  # its result stands: training it again would count it twice
    (record(TrialState.COMPLETED, target=9), Start.FRESH),  # another plan (a Hyperband round): trained anew
    (record(TrialState.COMPLETED, config=ModelConfig((32,), "relu", "adam", 0.01)), Start.FRESH),
    (record(TrialState.FAILED), Start.FAILED),
    (record(TrialState.INTERRUPTED), Start.CONTINUE),
    (record(TrialState.RUNNING), Start.DIED),  # the process died while it ran: one death
    (record(TrialState.RUNNING, deaths=1), Start.DIED_TOO_OFTEN),  # the second of two allowed
    (record(TrialState.RUNNING, deaths=1, config=ModelConfig((32,), "relu", "adam", 0.01)), Start.FRESH),
])
def test_how_a_trial_starts_from_what_it_left(saved, start):
    assert resume_decision(saved, CONFIG, TRAINING, target_epochs=5, max_deaths=2) is start


def test_the_decision_changes_nothing_and_counts_deaths_against_the_limit():
    saved = record(TrialState.RUNNING, deaths=1)
    before = dataclasses.asdict(saved)
    assert resume_decision(saved, CONFIG, TRAINING, 5, max_deaths=3) is Start.DIED
    assert resume_decision(saved, CONFIG, TRAINING, 5, max_deaths=2) is Start.DIED_TOO_OFTEN
    assert dataclasses.asdict(saved) == before
    # Another batch size is another trial, as a new field at its default is the same one.
    assert resume_decision(saved, CONFIG, TrainingConfig(batch_size=512, epochs=5), 5, 2) is Start.FRESH
