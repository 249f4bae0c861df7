"""A trial's checkpoints: complete on disk before its record names them.

`checkpoints/last-<epoch>/` holds the model and optimizer after the last finished
epoch, from which an interrupted trial continues and a Hyperband promotion
warm-starts; `checkpoints/best-<epoch>/` the model weights at the best validated
epoch, the ones to export. A checkpoint is written under a staging name and
renamed into place (`store.atomic.publish_folder`); the record then names it, and
the previous one is removed only afterwards, so a kill at any moment leaves a
record that points at a complete checkpoint.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import tensorflow as tf

from tuner_app import faults
from tuner_app.store import atomic
from tuner_app.store.layout import CHECKPOINTS, checkpoint_name
from tuner_app.store.records import TrialRecord


def _checkpoint(model: tf.keras.Model, with_optimizer: bool) -> tf.train.Checkpoint:
    if with_optimizer:
        return tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    return tf.train.Checkpoint(model=model)


def write_checkpoint(model: tf.keras.Model, trial_dir: Path, kind: str, epoch: int, with_optimizer: bool) -> str:
    """Writes a `kind` ("best" or "last") checkpoint of `epoch`; returns its name for the record."""
    name = checkpoint_name(kind, epoch)
    folder = trial_dir / name
    staging = atomic.staging_folder(folder)
    try:
        faults.writing("checkpoint")
        _checkpoint(model, with_optimizer).write(str(staging / "ckpt"))
    except (OSError, tf.errors.OpError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        atomic.raise_if_disk_full(exc, folder)
        raise
    faults.reached("checkpoint")
    atomic.publish_folder(staging, folder)
    return name


def remove_stray_checkpoints(trial_dir: Path, record: TrialRecord) -> None:
    """Deletes checkpoint folders the record does not name (left by a kill mid-save)."""
    folder = trial_dir / CHECKPOINTS
    if not folder.is_dir():
        return
    keep = {record.last_checkpoint, record.best_checkpoint}
    for path in folder.iterdir():
        if str(path.relative_to(trial_dir)) not in keep:
            shutil.rmtree(path, ignore_errors=True)


def restore_checkpoint(model: tf.keras.Model, folder: Path, with_optimizer: bool) -> None:
    status = _checkpoint(model, with_optimizer).read(str(folder / "ckpt"))
    status.expect_partial()
