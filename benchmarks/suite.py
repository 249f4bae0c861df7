"""The benchmark's measurements and its report, for `benchmarks.speed`.

Import only after `tuner_app.model.runtime.load_tensorflow()` (as `speed.main` does):
it imports TensorFlow, which must start as Keras 2.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import report, runs, tutorial
from benchmarks.exactness import KS, TopKCheck
from benchmarks.timing import (
    FloorEpoch,
    busy_warning,
    epoch_stats,
    load_average,
    machine_description,
    median,
)
from tuner_app.data import Ratings, load_grouplens
from tuner_app.model.build import STEPS_PER_EXECUTION
from tuner_app.model.metrics import metric_name


@dataclass
class Measurements:
    """Everything one run of the benchmark measured."""

    machine: str  # taken before any work, so its load average is other processes'
    start_load: float  # 1-minute load average before any work
    ratings: Ratings
    split: runs.Split
    floor_batches: str  # the batches of a floor epoch, e.g. "39 x 2048 + 1 x 128 rows"
    xent_floor: list[float]  # floor epochs with TensorFlow's sparse softmax cross-entropy op
    once_per_search: float
    app_trials: list[runs.RunTimes]
    check: TopKCheck
    ref_runs: list[runs.RunTimes]


def collect(args: argparse.Namespace) -> Measurements:
    """Runs the app's trials, the reference's runs and the floor, interleaved.

    App trial 1, reference run 1, app trial 2, reference run 2, ..., then the
    remaining app trials: the CPU of a shared VM drifts over minutes, and what
    is compared should be measured in the same minutes. For the same reason
    the in-batch floors (tuner_app's kernel on every row, and scoring each
    distinct title once) are timed for an epoch right after each of the app's
    epochs, and the floor with TensorFlow's op after every run. App trials
    stay in order (per-trial setup after the first is measured on a process
    that has already run trials).
    """
    machine, start_load = machine_description(), load_average()
    ratings = load_grouplens(args.data)
    split = runs.make_split(ratings)
    _, title_ids = np.unique(ratings.item_id[split.train_rows], return_inverse=True)
    floor = FloorEpoch(title_ids, runs.BATCH_SIZE, steps_per_call=STEPS_PER_EXECUTION)
    distinct_floor = FloorEpoch(title_ids, runs.BATCH_SIZE, loss="distinct",
                                steps_per_call=STEPS_PER_EXECUTION)
    xent_floor = FloorEpoch(title_ids, runs.BATCH_SIZE, loss="xent", steps_per_call=STEPS_PER_EXECUTION)

    def sample_floors():
        xent_floor.sample()

    reference_data = tutorial.tutorial_datasets(ratings)
    app_trials, ref_runs, check = [], [], None
    with tempfile.TemporaryDirectory(prefix="speed-") as folder:
        search = runs.prepare_app(ratings, split, Path(folder))
        for i in range(max(args.trials, args.repeats)):
            if i < args.trials:
                trial, top_k = runs.app_trial(
                    search, ratings, args.epochs, args.repeats if i == 0 else 0, check=i == 0,
                    floors=(floor, distinct_floor),
                )
                app_trials.append(trial)
                check = check or top_k
                sample_floors()
            if i < args.repeats:
                ref_runs.append(
                    runs.reference_run(
                        reference_data, split, args.epochs, args.repeats if i == 0 else 0
                    )
                )
                sample_floors()
    return Measurements(
        machine,
        start_load,
        ratings,
        split,
        floor.description,
        xent_floor.seconds,
        search.seconds,
        app_trials,
        check,
        ref_runs,
    )


def build_report(m: Measurements, args: argparse.Namespace) -> str:
    """The table, the notes behind its derived rows, and the top-k detail."""
    ref_stats = epoch_stats([run.epochs for run in m.ref_runs])
    app_stats = epoch_stats([trial.epochs for trial in m.app_trials])
    ref_val = median(m.ref_runs[0].validations[1:])
    app_val = median(m.app_trials[0].validations[1:])
    setup = report.setup_seconds(
        m.ref_runs, ref_stats, m.app_trials, app_stats, app_val, m.once_per_search
    )
    ref_top_k = {k: m.ref_runs[0].logs[metric_name(k)] for k in KS}

    rows = report.epoch_rows(
        ref_stats,
        app_stats,
        report.paired_floor([(t.epochs, t.floors[0]) for t in m.app_trials]),
        report.paired_floor([(t.epochs, t.floors[1]) for t in m.app_trials]),
        m.floor_batches,
        median(m.xent_floor),
    )
    rows += report.validation_rows(ref_val, app_val, args.repeats, m.check)
    rows.append(report.metric_pass_row(*m.app_trials[0].metric_passes))
    rows.append(
        report.Row(
            f"top-100 after {args.epochs} epochs (learn the same)",
            f"{ref_top_k[100]:.4f}",
            f"{m.check.app[100]:.4f}",
        )
    )
    rows += report.setup_rows(setup)
    rows += report.leftover_rows(m.app_trials)

    # A single recipe run pays the search's one-off work and the first trial's setup.
    epochs = args.recipe_epochs
    ref_n_val, app_n_val = runs.validations_in_recipe(epochs)
    app_setup = m.once_per_search + setup.app_trials[0]
    ref_total = report.recipe_total(setup.reference, ref_stats, ref_val, epochs, ref_n_val)
    app_total = report.recipe_total(app_setup, app_stats, app_val, epochs, app_n_val)
    rows.append(
        report.recipe_row(f"tutorial recipe, {epochs} ep, extrapolated", ref_total, app_total)
    )
    if args.full:
        rows += full_recipe_rows(m.ratings, m.split, epochs)

    notes = [
        f"Recipe extrapolation ([32], {epochs} epochs, validation every {runs.VALIDATION_FREQ}):",
        report.recipe_breakdown(
            "reference", setup.reference, ref_stats, ref_val, epochs, ref_n_val
        ),
        report.recipe_breakdown(
            "app (once per search + trial 1 setup)",
            app_setup,
            app_stats,
            app_val,
            epochs,
            app_n_val,
        ),
        report.setup_note(setup),
        (
            f"app/floor: the median over the app's steady epochs of each epoch's seconds over "
            f"those of a floor epoch timed right after it (a bare in-batch softmax step and "
            f"Adagrad update on [batch, 32] embeddings for each of the epoch's batches, "
            f"{m.floor_batches}, {STEPS_PER_EXECUTION} steps per call as the app's). The floor "
            f"scores every row of a batch ([2048, 2048] scores); the app scores each distinct title "
            f"of a batch once, weighted by its copies (the same loss and gradients, about "
            f"[2048, 780] scores on ml-100k), and the row under it times that same loss bare, on "
            f"the training rows' titles in a new random order each epoch: app over it is what the "
            f"towers, input pipeline and fit loop add."
        ),
        (
            f"Epoch seconds run from one epoch's end to the next (boundaries included); each "
            f"run's first epoch dropped; {ref_stats.count} reference and {app_stats.count} app "
            f"epochs pooled."
        ),
    ]
    return "\n".join(
        [
            f"Machine: {m.machine}",
            *busy_warning(m.start_load),
            (
                f"Data: {m.ratings.description}; {len(m.split.train_rows)} training / "
                f"{len(m.split.test_rows)} validation ratings. "
                f"Settings: epochs={args.epochs}, repeats={args.repeats}, "
                f"trials={args.trials}, recipe epochs={epochs}"
            ),
            "",
            report.format_table(rows),
            "",
            *notes,
            "",
            accuracy_section(m.check, ref_top_k, args.epochs),
        ]
    )




def full_recipe_rows(ratings: Ratings, split: runs.Split, epochs: int) -> list[report.Row]:
    """Both recipes run end to end: measured wall time and final top-100 accuracy."""
    ref_seconds, ref_top_100 = runs.run_reference_recipe(ratings, split, epochs)
    app_seconds, app_top_100 = runs.run_app_recipe(ratings, split, epochs)
    return [
        report.recipe_row(f"tutorial recipe, {epochs} ep, measured", ref_seconds, app_seconds),
        report.Row(
            f"final top-100 after {epochs} epochs", f"{ref_top_100:.4f}", f"{app_top_100:.4f}"
        ),
    ]


def accuracy_section(check: TopKCheck, reference: dict[int, float], epochs: int) -> str:
    return "\n".join(
        [
            (
                f"Validation top-k accuracy after {epochs} epochs. app = tuner_app's ExactTopK; "
                "numpy = id rank recomputed from the app model's embeddings; TFRS same model = "
                "FactorizedTopK on the app model (score-based, under-counts); tutorial model = "
                "the reference's own evaluate."
            ),
            report.accuracy_table(check, reference, epochs),
        ]
    )


def run(args: argparse.Namespace) -> str:
    """Measures everything the arguments ask for; returns the report text."""
    return build_report(collect(args), args)
