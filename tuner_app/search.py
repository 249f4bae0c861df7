"""One search from start to finish: data, state checks, tuner, results, stops.

`run_search` loads and splits the data once, builds the vocabularies once,
creates or reloads the keras-tuner project in `<results>/<name>/`, runs the
trials, and keeps `<results>/<name>.csv` current after every trial.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tuner_app import data as data_mod
from tuner_app import storage
from tuner_app.data import DataSpec, Ratings
from tuner_app.errors import SearchError, TunerAppError
from tuner_app.space import SearchSpec

STATE_FILE = "search.json"


class SearchInterrupted(TunerAppError):
    """The user stopped the search; it can be resumed."""

    exit_code = 130


class SearchMismatch(TunerAppError):
    """Resuming with a changed space or different data."""

    exit_code = 2


@dataclass(frozen=True)
class SearchOptions:
    results_dir: Path = Path("results")
    overwrite: bool = False
    quiet: bool = False
    max_deaths: int = 2


@dataclass(frozen=True)
class SearchOutcome:
    csv_path: Path
    completed: int
    failed: int
    best_trial: str | None
    best_value: float | None


def load_ratings(spec: DataSpec) -> Ratings:
    """Reads the data source named by `--data`."""
    if spec.kind == "synthetic":
        return data_mod.make_synthetic(spec.synthetic)
    if spec.kind == "grouplens":
        return data_mod.load_grouplens(spec.path)
    from tuner_app.tfds_source import load_tfds

    return load_tfds(spec.tfds_name)


def _search_state(spec: SearchSpec, ratings: Ratings) -> dict:
    return {
        "name": spec.name,
        "space_file": spec.path,
        "space_fingerprint": spec.fingerprint(),
        "data": ratings.description,
        "data_fingerprint": ratings.fingerprint,
        "split": dataclasses.asdict(spec.split),
    }


def check_or_start(search_dir: Path, csv_path: Path, spec: SearchSpec, ratings: Ratings, overwrite: bool) -> bool:
    """Starts a new search folder or checks that a resumed one matches; True when resuming."""
    state_path = search_dir / STATE_FILE
    state = _search_state(spec, ratings)
    if overwrite:
        shutil.rmtree(search_dir, ignore_errors=True)
        csv_path.unlink(missing_ok=True)
    elif state_path.exists():
        saved = storage.read_json(state_path, "the search state")
        how = f"pass --overwrite to start over, or --name to start a new search beside it"
        if saved.get("space_fingerprint") != state["space_fingerprint"]:
            raise SearchMismatch(
                f"{search_dir}: this search was started from a different search space "
                f"({saved.get('space_file')}, which has changed since, or another file); "
                f"resuming would mix trials of two spaces; {how}."
            )
        if saved.get("data_fingerprint") != state["data_fingerprint"] or saved.get("split") != state["split"]:
            raise SearchMismatch(
                f"{search_dir}: this search was started on other data ({saved.get('data')}, split "
                f"{saved.get('split')}); now given {state['data']}, split {state['split']}; {how}."
            )
        return True
    elif search_dir.exists() and any(search_dir.iterdir()):
        raise SearchMismatch(
            f"{search_dir}: exists but was not written by tuner_app (no {STATE_FILE}); "
            "pass --overwrite to replace it, or --name to choose another search name."
        )
    storage.write_json_atomic(state_path, state)
    return False


class ConsoleProgress:
    """Prints one line per trial start, validated epoch and trial end."""

    def __init__(self, spec: SearchSpec, out: TextIO, quiet: bool):
        self.spec = spec
        self.out = out
        self.quiet = quiet
        self.started = time.monotonic()
        self.best: tuple[float, str] | None = None
        self.done = 0

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def trial_begin(self, trial, plan) -> None:
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        origin = f", continuing trial {plan.parent}" if plan.parent else ""
        self.say(f"trial {trial.trial_id}: epochs {plan.initial_epoch + 1}-{plan.epochs}{origin}: {shown}")

    def epoch(self, record, entry) -> None:
        objective = self.spec.objective
        if objective in entry:
            self.say(
                f"  epoch {entry['epoch']}/{record.target_epochs}: loss {entry['loss']:.1f}, "
                f"{objective} {entry[objective]:.4f}"
            )

    def trial_done(self, row) -> None:
        self.done += 1
        value = row.objective
        if row.status == "COMPLETED" and value is not None:
            if self.best is None or value > self.best[0]:
                self.best = (value, row.trial_id)
            result = f"{self.spec.objective} {value:.4f} at epoch {row.best_epoch}"
        else:
            result = f"{row.status.lower()}: {row.reason}"
        best = f"; best so far {self.best[0]:.4f} (trial {self.best[1]})" if self.best else ""
        elapsed = time.monotonic() - self.started
        self.say(f"trial {row.trial_id} {result} in {row.seconds or 0:.1f} s{best}; {self.done} done, {elapsed:.0f} s elapsed")


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class _StopOnSignal:
    """First SIGINT/SIGTERM: finish cleanly after the current step. Second: leave at once."""

    def __init__(self, trainer, progress: ConsoleProgress):
        self.trainer = trainer
        self.progress = progress
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.trainer.stop_requested():
            # Every file is written atomically: leaving now loses only the unfinished epoch.
            print("\nStopped at once; the unfinished epoch is lost. Run the same command to resume.",
                  file=sys.stderr, flush=True)
            import os

            os._exit(128 + signum)
        self.trainer.request_stop()
        print(
            f"\n{signal.Signals(signum).name}: stopping after the current training step "
            "(press Ctrl-C again to quit at once)...",
            file=sys.stderr, flush=True,
        )

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def run_search(spec: SearchSpec, data_spec: DataSpec, options: SearchOptions,
               out: TextIO = sys.stdout) -> SearchOutcome:
    """Runs (or resumes) a search and writes its ranked CSV.

    Raises:
        DataError: the data cannot be read.
        SearchMismatch: the existing search was started with another space or data.
        SearchInterrupted: the user stopped it; running the same command resumes.
        SearchError: no trial completed, or too many failed in a row.
    """
    results_dir = Path(options.results_dir)
    search_dir = results_dir / spec.name
    csv_path = results_dir / f"{spec.name}.csv"
    progress = ConsoleProgress(spec, out, options.quiet)

    ratings = load_ratings(data_spec)
    resuming = check_or_start(search_dir, csv_path, spec, ratings, options.overwrite)
    progress.say(f"{'Resuming' if resuming else 'Starting'} search '{spec.name}' ({spec.tuner.algorithm}) "
                 f"on {ratings.description}: {len(ratings):,} ratings")

    # TensorFlow loads here, after every input has been validated.
    from tuner_app import features
    from tuner_app.hypermodel import MovielensHyperModel
    from tuner_app.training import Trainer
    from tuner_app.tuning import RetrievalTuner, SearchStopped, make_oracle

    import tensorflow as tf

    # Each trial traces its own tf.functions by design; TensorFlow's "retracing"
    # warnings about that (and its other chatter) would drown the progress lines.
    tf.get_logger().setLevel("ERROR")

    train_rows, test_rows = data_mod.split_indices(
        len(ratings), spec.split.train_fraction, spec.split.test_fraction, spec.split.seed
    )
    vocab = features.build_vocabulary(ratings)
    encoded = features.encode_ratings(vocab, ratings)
    train = features.make_train_dataset(encoded.take(train_rows), spec.training.batch_size,
                                        spec.training.shuffle_seed)
    validation = features.make_eval_dataset(encoded.take(test_rows), spec.training.eval_batch_size)

    hypermodel = MovielensHyperModel(spec, vocab)
    trainer = Trainer(vocab, train, validation, spec.objective, spec.training.validation_freq,
                      search_dir, max_deaths=options.max_deaths)
    trainer.epoch_listeners.append(progress.epoch)
    tuner = RetrievalTuner(
        make_oracle(spec, hypermodel.search_space()), hypermodel, trainer, spec.training.epochs,
        csv_path, directory=str(results_dir), project_name=spec.name,
        on_trial_begin=progress.trial_begin, on_trial_done=progress.trial_done,
    )
    stopped = False
    failure: str | None = None
    with _StopOnSignal(trainer, progress):
        try:
            tuner.search()
        except SearchStopped:
            stopped = True
        except RuntimeError as exc:  # keras-tuner: too many consecutive failed trials
            if "consecutive failures" not in str(exc):
                raise
            failure = str(exc).splitlines()[0]
    rows = tuner.write_results()
    completed = [r for r in rows if r.status == "COMPLETED"]
    failed = [r for r in rows if r.status != "COMPLETED"]
    from tuner_app.tuning import best_row

    best = best_row(rows)
    progress.say(f"{len(completed)} trial(s) completed, {len(failed)} failed; results in {csv_path}")
    if best is not None:
        progress.say(f"best: trial {best.trial_id}, {spec.objective} {best.objective:.4f} at epoch {best.best_epoch}")
    if stopped:
        raise SearchInterrupted(
            f"search '{spec.name}' stopped by request after {len(rows)} finished trial(s); "
            "run the same command again to resume it."
        )
    if failure is not None:
        reasons = "; ".join(f"trial {r.trial_id}: {r.reason}" for r in failed[-3:])
        raise SearchError(f"search '{spec.name}' stopped: {failure.rstrip('.')}; last reasons: {reasons}.")
    if not completed:
        reasons = "; ".join(f"trial {r.trial_id}: {r.reason}" for r in failed[-3:]) or "no trial was run"
        raise SearchError(f"search '{spec.name}' finished without a completed trial ({reasons}).")
    return SearchOutcome(csv_path, len(completed), len(failed), best.trial_id if best else None,
                         best.objective if best else None)
