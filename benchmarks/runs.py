"""The measured runs: the tutorial's code (reference) and tuner_app's trials, side by side.

Every run trains the tutorial's shallow model ([32], Adagrad 0.1, batch
2048) on 80% of the ratings and validates on the other 20%: tuner_app's
seeded split for the app, the tutorial's own shuffle/take/skip with the same
sizes for the reference (so the rows differ, not the amounts). The reference is the
tutorial's code from `benchmarks.tutorial`, compiled as the tutorial does;
the app is `build_model` on the search's prepared data, as a trial builds it.
Between runs the Keras session is cleared, as tuner_app's tuner does between
trials, so later runs show whether per-trial costs grow.
"""

from __future__ import annotations

import gc
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context

from benchmarks import exactness, tutorial
from benchmarks.timing import FloorEpoch, fit_timed, timed
from tuner_app import data as data_mod
from tuner_app.data import Ratings
from tuner_app.model import features
from tuner_app.model.build import build_model
from tuner_app.model.metrics import metric_name
from tuner_app.space.config import ModelConfig, TrainingConfig
from tuner_app.tuning.trainer import EpochPlan, Trainer, validation_epochs

BATCH_SIZE = 2048
EVAL_BATCH_SIZE = 4096
VALIDATION_FREQ = 5
TOP_100 = metric_name(100)


@dataclass(frozen=True)
class RuntimeState:
    """What stays alive in the process after a run's session is cleared."""

    functions: int  # graph functions registered in TensorFlow's eager runtime
    objects: int  # Python objects the garbage collector tracks


@dataclass
class RunTimes:
    """What one training run measured."""

    construct: float  # seconds to build the data/model objects this run needs
    epochs: list[float]  # per-epoch seconds, the first including fit's start-up
    validations: list[float] = field(
        default_factory=list
    )  # seconds per evaluate pass, first = warm-up
    # per floor, a floor epoch timed right after each epoch
    floors: tuple[list[float], ...] = ()
    logs: dict[str, float] = field(default_factory=dict)  # metrics of the first validation pass
    # validation passes (filtered too) with every metric, and with top-k accuracy only, alternated
    metric_passes: tuple[list[float], list[float]] = ((), ())
    before: RuntimeState | None = None  # the process as the run started
    after: RuntimeState | None = None  # the process after the run was cleared away


@dataclass
class Split:
    """The row indices both sides train and validate on (sizes, for the reference)."""

    train_rows: np.ndarray
    test_rows: np.ndarray


def make_split(ratings: Ratings) -> Split:
    """tuner_app's 80/20 split with seed 42; the reference takes the same sizes."""
    train_rows, test_rows = data_mod.split_indices(len(ratings), 0.8, 0.2, 42)
    return Split(train_rows, test_rows)


def runtime_state() -> RuntimeState:
    """What is alive in the process now (after a full garbage collection)."""
    gc.collect()
    return RuntimeState(len(context.context().list_function_names()), len(gc.get_objects()))


def _end_run() -> RuntimeState:
    """Clears the run away, as tuner_app's tuner does between trials; returns what is left."""
    # Without this, graphs of finished runs pile up and slow later ones down.
    tf.keras.backend.clear_session()
    return runtime_state()


def _evaluate_passes(
    model: tf.keras.Model, dataset: tf.data.Dataset, passes: int
) -> tuple[list[float], dict[str, float]]:
    """A warm-up pass, then `passes` more; returns each pass's seconds and the first's metrics."""
    logs, first = timed(lambda: model.evaluate(dataset, return_dict=True, verbose=0))
    seconds = [first]
    for _ in range(passes):
        seconds.append(timed(lambda: model.evaluate(dataset, verbose=0))[1])
    return seconds, {k: float(v) for k, v in logs.items()}


# -- reference ---------------------------------------------------------------------------------
def _build_reference(ratings_ds: tf.data.Dataset, movies_ds: tf.data.Dataset, split: Split):
    """The tutorial's preprocessing, split and model, compiled as it does."""
    data = tutorial.TutorialData(ratings_ds, movies_ds)
    cached_train, cached_test = tutorial.tutorial_split(
        ratings_ds, len(split.train_rows), len(split.test_rows)
    )
    model = tutorial.MovielensModel([32], data)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(0.1))
    return model, cached_train, cached_test


def reference_run(
    datasets: tuple[tf.data.Dataset, tf.data.Dataset], split: Split, epochs: int, passes: int
) -> RunTimes:
    """A fresh tutorial run of `epochs` epochs; with `passes`, also times validation passes.

    Args:
        datasets: `tutorial.tutorial_datasets(ratings)`, made once for all runs.
    """
    ratings_ds, movies_ds = datasets
    (model, train, test), construct = timed(lambda: _build_reference(ratings_ds, movies_ds, split))
    seconds, _ = fit_timed(model, train, epochs)
    times = RunTimes(construct, seconds)
    if passes:
        times.validations, times.logs = _evaluate_passes(model, test, passes)
    del model, train, test
    times.after = _end_run()
    return times


def run_reference_recipe(ratings: Ratings, split: Split, epochs: int) -> tuple[float, float]:
    """The tutorial's whole recipe end to end; returns (seconds, final top-100 accuracy)."""
    ratings_ds, movies_ds = tutorial.tutorial_datasets(ratings)

    def recipe():
        model, train, test = _build_reference(ratings_ds, movies_ds, split)
        return model.fit(
            train, validation_data=test, validation_freq=VALIDATION_FREQ, epochs=epochs, verbose=0
        )

    history, seconds = timed(recipe)
    _end_run()
    # Fewer epochs than the validation frequency leave nothing validated.
    return seconds, float(history.history.get(f"val_{TOP_100}", [math.nan])[-1])


# -- app ---------------------------------------------------------------------------------------
@dataclass
class AppSearch:
    """What tuner_app builds once per search."""

    data: features.SplitData
    trainer: Trainer
    train: tf.data.Dataset  # endless: `steps` batches an epoch
    steps: int
    seconds: float  # prepare + Trainer + training pipeline


def prepare_app(ratings: Ratings, split: Split, search_dir: Path) -> AppSearch:
    """The once-per-search work: vocabularies, encoded splits, the trainer and its pipelines."""

    def build():
        data = features.prepare(ratings, split.train_rows, split.test_rows)
        trainer = Trainer(
            data, "val_top_100", VALIDATION_FREQ, search_dir, eval_batch_size=EVAL_BATCH_SIZE
        )
        return data, trainer, trainer.train_dataset(BATCH_SIZE)

    (data, trainer, train), seconds = timed(build)
    return AppSearch(data, trainer, train, trainer.steps_per_epoch(BATCH_SIZE), seconds)


def app_trial(
    search: AppSearch, ratings: Ratings, epochs: int, passes: int, check: bool,
    floors: Sequence[FloorEpoch] = (),
) -> tuple[RunTimes, exactness.TopKCheck | None]:
    """One trial as the app trains it, validated once after training.

    That first validation pass carries the tracing of the test step; `passes`
    more time the steady validation. With `check`, the trial's top-k accuracies
    are also recomputed with numpy. An epoch of each of `floors` is timed after
    each training epoch (outside the epoch's time).
    """
    before = runtime_state()
    model, construct = timed(lambda: build_model(search.data.vocab, ModelConfig()))
    samples = tuple([] for _ in floors)

    def between():
        for floor, seconds in zip(floors, samples, strict=True):
            seconds.append(floor.sample())

    seconds, _ = fit_timed(model, search.train, epochs, between if floors else None,
                           steps_per_epoch=search.steps)
    times = RunTimes(construct, seconds, before=before, floors=samples)
    times.validations, times.logs = _evaluate_passes(model, search.trainer.validation, passes)
    top_k = exactness.check_top_k(model, times.logs, ratings, search.data) if check else None
    if check:
        times.metric_passes = metric_passes(search, model, passes)
    del model
    times.after = _end_run()
    return times, top_k


def metric_passes(search: AppSearch, model: tf.keras.Model, passes: int) -> tuple[list[float], list[float]]:
    """Seconds of validation passes with every metric (top-k accuracy and the per-user figures, unfiltered
    and filtered) and with top-k accuracy only (the pass before the per-user figures), alternated so that
    both see the same minutes of a drifting VM; each model's warm-up pass left out."""
    every, top_only = (build_model(search.data.vocab, ModelConfig(), seen=search.data.seen, per_user_metrics=on)
                       for on in (True, False))
    for twin in (every, top_only):
        twin.set_weights(model.get_weights())
        twin.evaluate(search.trainer.validation, verbose=0)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(passes, 3)):
        for twin, seconds in zip((every, top_only), times, strict=True):
            seconds.append(timed(lambda twin=twin: twin.evaluate(search.trainer.validation, verbose=0))[1])
    return times


def run_app_recipe(ratings: Ratings, split: Split, epochs: int) -> tuple[float, float]:
    """A real tuner_app trial of the tutorial's recipe, from prepare to the last validation.

    It goes through `Trainer.run`, so it includes what a search trial does
    beyond training: a record and checkpoints after every epoch.
    """
    with tempfile.TemporaryDirectory(prefix="speed-recipe-") as folder:

        def recipe():
            search = prepare_app(ratings, split, Path(folder))
            return search.trainer.run("recipe", ModelConfig(), EpochPlan(epochs), TrainingConfig(epochs=epochs))

        record, seconds = timed(recipe)
    _end_run()
    return seconds, float(record.history[-1]["val_top_100"])  # the app validates the last epoch


def validations_in_recipe(epochs: int) -> tuple[int, int]:
    """Validation passes in a recipe of `epochs` epochs: (reference, app)."""
    return epochs // VALIDATION_FREQ, len(validation_epochs(0, epochs, VALIDATION_FREQ))
