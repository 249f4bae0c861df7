"""Trainer: best-epoch objective, NaN failures, Hyperband warm starts, stop and continue."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tuner_app  # noqa: F401
from tuner_app.data import SyntheticSpec, make_synthetic, split_indices
from tuner_app.errors import StopRequested, TrialFailed
from tuner_app.model import features
from tuner_app.space.config import ModelConfig, TrainingConfig
from tuner_app.store.records import TrialRecord
from tuner_app.store.states import TrialState
from tuner_app.tuning.trainer import EpochPlan, Trainer, validation_epochs

SHALLOW = ModelConfig((16,), "relu", "adagrad", 0.1)
BATCH = TrainingConfig(batch_size=256, epochs=5)


@pytest.fixture(scope="module")
def prepared():
    ratings = make_synthetic(SyntheticSpec(users=80, movies=100, ratings=4000, seed=2))
    train_rows, test_rows = split_indices(len(ratings), 0.8, 0.2, 42)
    return features.prepare(ratings, train_rows, test_rows)


def make_trainer(prepared, tmp_path, objective="val_top_10", freq=1, exclude_seen=False):
    return Trainer(prepared, objective, freq, tmp_path, eval_batch_size=512, exclude_seen=exclude_seen,
                   shuffle_seed=0)


def test_validation_epochs_every_freq_and_the_last():
    assert validation_epochs(0, 300, 5)[:3] == [5, 10, 15] and validation_epochs(0, 300, 5)[-1] == 300
    assert validation_epochs(0, 7, 5) == [5, 7]
    assert validation_epochs(3, 9, 1) == [4, 5, 6, 7, 8, 9]


def test_each_epoch_of_the_training_stream_is_a_new_permutation_of_all_rows(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path)
    steps = trainer.steps_per_epoch(256)
    assert steps == -(-len(prepared.train) // 256)
    stream = iter(trainer.train_dataset(256))
    epochs = [[next(stream) for _ in range(steps)] for _ in range(3)]
    keys = np.stack([prepared.train.user, prepared.train.timestamp, prepared.train.title], axis=1)
    want = sorted(map(tuple, keys.tolist()))
    orders = []
    for batches in epochs:
        rows = np.concatenate([np.stack([b["user"], b["timestamp"], b["title"]], axis=1) for b in batches])
        assert sorted(map(tuple, rows.tolist())) == want  # every row once, columns kept together
        orders.append(rows[:, 0].tolist())
    assert len({str(order) for order in orders}) == 3  # three different orders


def test_objective_is_the_best_validated_epoch(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path, freq=2)
    record = trainer.run("a", SHALLOW, EpochPlan(epochs=5), BATCH)
    validated = [e for e in record.history if "val_top_10" in e]
    assert [e["epoch"] for e in record.history] == [1, 2, 3, 4, 5]
    assert [e["epoch"] for e in validated] == [2, 4, 5]
    best = max(validated, key=lambda e: e["val_top_10"])
    assert record.best_epoch == best["epoch"]
    assert record.best["val_top_10"] == best["val_top_10"]
    assert record.status is TrialState.COMPLETED and record.params > 0 and record.seconds > 0
    on_disk = json.loads((tmp_path / "trial_a" / "record.json").read_text())
    assert on_disk["best_epoch"] == record.best_epoch
    checkpoints = sorted(p.name for p in (tmp_path / "trial_a" / "checkpoints").iterdir())
    assert checkpoints == sorted({f"best-{record.best_epoch:04d}", "last-0005"})


def test_nan_loss_fails_the_trial_with_its_reason(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path)
    with pytest.raises(TrialFailed, match=r"loss became (nan|inf) at epoch 1"):
        trainer.run("b", ModelConfig((16,), "relu", "adam", 1.0e30), EpochPlan(epochs=3), BATCH)
    record = TrialRecord.load(tmp_path / "trial_b" / "record.json")
    assert record.status is TrialState.FAILED and "loss became" in record.reason


def test_hyperband_child_continues_from_its_parents_weights(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path)
    parent = trainer.run("p", SHALLOW, EpochPlan(epochs=3), BATCH)
    child = trainer.run("c", SHALLOW, EpochPlan(epochs=5, initial_epoch=3, parent="p"), BATCH)
    fresh = trainer.run("f", SHALLOW, EpochPlan(epochs=1), BATCH)
    assert [e["epoch"] for e in child.history] == [4, 5]
    assert child.initial_epoch == 3 and child.parent == "p"
    # A warm start goes on falling from the parent's last loss; a fresh model starts above it.
    parent_last, child_first, fresh_first = (
        parent.history[-1]["loss"], child.history[0]["loss"], fresh.history[0]["loss"]
    )
    assert child_first < parent_last < fresh_first


def test_stopped_trial_continues_from_its_last_epoch(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path)

    def stop_after_second_epoch(record, entry):
        if entry["epoch"] == 2:
            trainer.stop.request()

    trainer.epoch_listeners.append(stop_after_second_epoch)
    with pytest.raises(StopRequested):
        trainer.run("s", SHALLOW, EpochPlan(epochs=4), BATCH)
    record = TrialRecord.load(tmp_path / "trial_s" / "record.json")
    assert record.status is TrialState.INTERRUPTED and record.epochs_trained == 2

    resumed = make_trainer(prepared, tmp_path).run("s", SHALLOW, EpochPlan(epochs=4), BATCH)
    assert [e["epoch"] for e in resumed.history] == [1, 2, 3, 4]
    assert resumed.status is TrialState.COMPLETED and resumed.deaths == 0


def test_a_trial_the_process_keeps_dying_in_is_failed(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path)
    trial_dir = tmp_path / "trial_d"
    trial_dir.mkdir()
    config = json.loads(json.dumps(SHALLOW.__dict__))
    # "running": as format 1 spelled it (store.migrations reads it).
    TrialRecord("d", config, 3, BATCH.__dict__, status="running", deaths=1).save(trial_dir)
    with pytest.raises(TrialFailed, match=r"the process died 2 times while this trial was running"):
        trainer.run("d", SHALLOW, EpochPlan(epochs=3), BATCH)
    assert TrialRecord.load(trial_dir / "record.json").deaths == 2


def test_early_stopping_ends_the_trial_after_patience_validations(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path)
    # A learning rate this small barely moves: the objective stops improving at once.
    record = trainer.run("e", ModelConfig((16,), "relu", "adagrad", 1e-6), EpochPlan(epochs=30),
                         TrainingConfig(batch_size=256, epochs=30, early_stopping_patience=2))
    assert record.stopped_early and record.status is TrialState.COMPLETED
    assert record.epochs_trained < 30
    after_best = [e for e in record.history if e["epoch"] > record.best_epoch]
    assert len(after_best) == 2


def test_filtered_metrics_are_reported_when_seen_titles_are_excluded(prepared, tmp_path):
    trainer = make_trainer(prepared, tmp_path, objective="val_filtered_top_10", exclude_seen=True)
    record = trainer.run("g", SHALLOW, EpochPlan(epochs=1), BATCH)
    entry = record.history[0]
    for k in (1, 5, 10, 50, 100):
        assert entry[f"val_filtered_top_{k}"] >= entry[f"val_top_{k}"]
    assert record.best_epoch == 1 and "val_filtered_top_10" in record.best
