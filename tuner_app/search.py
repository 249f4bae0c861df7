"""One search from start to finish: data, state checks, tuner, results, stops.

`run_search` loads and splits the data once, builds the vocabularies once,
computes the popularity baseline once, creates or reloads the keras-tuner
project in `<results>/<name>/`, runs the trials, and keeps
`<results>/<name>.csv` (with `.history.csv` and `.json` beside it) current
after every trial. At the end it scores the best trial on the held-back
rows, when the split holds some back.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import TextIO

import numpy as np

from tuner_app import baselines, reporter, storage
from tuner_app import data as data_mod
from tuner_app.data import DataSpec, Ratings
from tuner_app.distribute import Role
from tuner_app.errors import SearchError, TunerAppError
from tuner_app.progress import ConsoleProgress
from tuner_app.space import SearchSpec
from tuner_app.state import (  # noqa: F401  (SearchMismatch re-exported)
    SearchLock,
    SearchMismatch,
    check_or_start,
    check_state_files,
    search_fingerprint,
)


class SearchInterrupted(TunerAppError):
    """The user stopped the search; it can be resumed."""

    exit_code = 130


@dataclass(frozen=True)
class SearchOptions:
    results_dir: Path = Path("results")
    overwrite: bool = False
    quiet: bool = False
    max_deaths: int = 2
    role: Role | None = None  # distributed: this process is the chief or a worker
    worker_timeout: float = 1800.0  # chief: requeue a silent worker's trial after this many seconds
    threads: int | None = None  # TensorFlow threads (None: TensorFlow's default, all cores)
    before_serving: Callable[[], None] | None = None  # chief: called once the oracle is ready (--parallel)


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


def split_rows(spec: SearchSpec, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and held-back rows: the tutorial's split, its test part cut in two."""
    split = spec.split
    train, test = data_mod.split_indices(n, split.train_fraction, split.test_fraction, split.seed)
    keep = len(test) - round(len(test) * split.holdout_fraction)
    return train, test[:keep], test[keep:]


class _StopOnSignal:
    """First SIGINT/SIGTERM: finish cleanly after the current step. Second: leave at once."""

    def __init__(self, trainer):
        self.trainer = trainer
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
    """Runs (or resumes) a search, or this process's part of a distributed one.

    Raises:
        DataError: the data cannot be read.
        SearchLocked: another process is running this search.
        SearchMismatch: the existing search was started with another space or data.
        DistributeError: a worker's chief is unreachable or runs another search.
        ResultsError: the saved state of the search is damaged.
        SearchInterrupted: the user stopped it; running the same command resumes.
        SearchError: no trial completed, or too many failed in a row.
    """
    ratings = load_ratings(data_spec)
    role = options.role
    with SearchLock(options.results_dir, spec.name, role.worker_id if role and role.kind == "worker" else None):
        try:
            return _run_locked(spec, ratings, data_spec, options, out)
        finally:
            if role is not None:
                from tuner_app.distribute import leave_role

                leave_role()


def _run_locked(spec: SearchSpec, ratings: Ratings, data_spec: DataSpec, options: SearchOptions,
                out: TextIO) -> SearchOutcome:
    results_dir = Path(options.results_dir)
    search_dir = results_dir / spec.name
    csv_path = results_dir / f"{spec.name}.csv"
    role = options.role
    progress = ConsoleProgress(spec, out, options.quiet)

    outputs = [csv_path, reporter.history_path(csv_path), reporter.meta_path(csv_path)]
    # A worker started just before its chief writes the search state too: only an oracle
    # that has saved its state makes this a resumed search.
    resuming = check_or_start(search_dir, outputs, spec, ratings, data_spec, options.overwrite) and (
        search_dir / "oracle.json").exists()
    check_state_files(search_dir)
    if role is None or role.kind == "chief":
        # Not a worker: workers share the folder with a live chief, whose file being written
        # would look stray to them.
        storage.remove_stray_temp_files(search_dir)
        for path in outputs:
            storage.remove_stray_temp_files(results_dir, path.name, recursive=False)
    part = "" if role is None else f" as {role.kind} {role.worker_id or ''} at {role.address}".replace("  ", " ")
    progress.say(f"{'Resuming' if resuming else 'Starting'} search '{spec.name}' ({spec.tuner.algorithm}){part} "
                 f"on {ratings.description}: {len(ratings):,} ratings")

    # TensorFlow loads here, after every input has been validated.
    from tuner_app.tfenv import load_tensorflow

    load_tensorflow(threads=options.threads)

    from tuner_app import features
    from tuner_app.distribute import FINGERPRINT_HP, enter_role
    from tuner_app.export import keep_saved_word_table, save_vocabulary
    from tuner_app.hypermodel import MovielensHyperModel
    from tuner_app.training import Trainer
    from tuner_app.tuning import RetrievalTuner, make_oracle

    train_rows, validation_rows, holdout_rows = split_rows(spec, len(ratings))
    data = features.prepare(ratings, train_rows, validation_rows, holdout_rows)
    data = keep_saved_word_table(search_dir, data)
    save_vocabulary(search_dir, data.vocab)
    meta = _describe_search(spec, ratings, data, len(train_rows), len(validation_rows), len(holdout_rows))
    if role is None or role.kind == "chief":
        reporter.write_meta(csv_path, meta)
    baseline = meta["baselines"]["validation"].get(spec.objective)
    progress.say(f"popularity baseline: {spec.objective} {baseline:.4f} on the validation rows")

    hypermodel = MovielensHyperModel(spec, data.vocab)
    trainer = Trainer(
        data, spec.objective, spec.training.validation_freq, search_dir,
        eval_batch_size=spec.training.eval_batch_size, exclude_seen=spec.evaluation.exclude_seen,
        shuffle_seed=spec.training.shuffle_seed, max_deaths=options.max_deaths,
        keep_last_checkpoint=spec.tuner.algorithm == "hyperband",
    )
    trainer.epoch_listeners.append(progress.epoch)
    fingerprint = search_fingerprint(spec, ratings)
    space = hypermodel.search_space()
    space.Fixed(FINGERPRINT_HP, fingerprint)
    oracle = make_oracle(spec, space)
    if role is not None:
        enter_role(role, fingerprint)
        oracle.expected_fingerprint = fingerprint[:16]
    tuner = RetrievalTuner(
        oracle, hypermodel, trainer, csv_path, directory=str(results_dir), project_name=spec.name,
        baseline=baseline, on_trial_begin=progress.trial_begin, on_trial_done=progress.trial_done,
    )
    if resuming and (role is None or role.kind == "chief"):
        from tuner_app import results

        workers = oracle.trial_workers
        progress.resumed([results.trial_row(t, spec.objective, workers.get(t.trial_id))
                          for t in results.ended(oracle.trials.values())])
    if role is not None and role.kind == "worker":
        return _run_worker(tuner, trainer, role, fingerprint, progress)
    with _StopOnSignal(trainer):
        if role is None:
            stopped, failure = _run_local(tuner)
        else:
            if options.before_serving:
                options.before_serving()
            stopped, failure = _run_chief(tuner, trainer, role, options.worker_timeout, progress), None
    return _finish(spec, tuner, trainer, meta, csv_path, len(holdout_rows), progress, stopped, failure, baseline)


def _run_local(tuner) -> tuple[bool, str | None]:
    """keras-tuner's own search loop; returns (stopped by the user, failure message)."""
    from tuner_app.tuning import SearchStopped

    try:
        tuner.search()
    except SearchStopped:
        return True, None
    except RuntimeError as exc:  # keras-tuner: too many consecutive failed trials
        if "consecutive failures" not in str(exc):
            raise
        return False, str(exc).splitlines()[0]
    return False, None


def _run_chief(tuner, trainer, role, worker_timeout: float, progress: ConsoleProgress) -> bool:
    """Serves the oracle to workers until the search is done; returns True if stopped by the user."""
    from tuner_app import results
    from tuner_app.distribute import serve_chief

    if role.host not in ("127.0.0.1", "localhost", "::1"):
        progress.result(f"warning: serving the oracle on {role.address}, beyond this machine; its gRPC channel is "
                        "unauthenticated: anyone who can reach the port can take or report trials.")
    progress.say(f"chief: serving the oracle at {role.address}; start workers with "
                 f"--worker {role.address} --worker-id ID")
    tuner.on_search_begin()
    shown: set[str] = {t.trial_id for t in results.ended(tuner.oracle.trials.values())}

    def on_progress(lines: list[str]) -> None:
        for line in lines:
            progress.result(line)
        tuner.write_results()
        for trial in results.ended(tuner.oracle.trials.values()):
            if trial.trial_id not in shown:
                shown.add(trial.trial_id)
                progress.trial_done(results.trial_row(trial, tuner.objective_name,
                                                      tuner.oracle.trial_workers.get(trial.trial_id)))

    serve_chief(tuner.oracle, role, worker_timeout, on_progress, trainer.stop_requested)
    tuner.save()
    return trainer.stop_requested()


def _run_worker(tuner, trainer, role, fingerprint: str, progress: ConsoleProgress) -> SearchOutcome:
    """Runs trials the chief hands out until it has no more."""
    from tuner_app.distribute import check_chief_fingerprint, patch_idle_wait
    from tuner_app.tuning import SearchStopped

    check_chief_fingerprint(tuner.oracle, fingerprint, role.address)
    patch_idle_wait(tuner.oracle)
    ran: list[str] = []
    begin = tuner._on_trial_begin

    def note(trial, plan):
        ran.append(trial.trial_id)
        if begin:
            begin(trial, plan)

    tuner._on_trial_begin = note
    with _StopOnSignal(trainer):
        try:
            tuner.search()
        except SearchStopped:
            raise SearchInterrupted(f"worker {role.worker_id} stopped by request after {len(ran)} trial(s); its "
                                    "unfinished trial goes to the next worker that asks (or to this one if "
                                    "restarted with the same --worker-id).") from None
    progress.result(f"worker {role.worker_id}: the chief at {role.address} has no more trials; "
                    f"this worker ran {len(ran)} trial(s)")
    return SearchOutcome(Path(tuner.results_csv), len(ran), 0, None, None)


def _finish(spec, tuner, trainer, meta, csv_path, n_holdout, progress, stopped, failure, baseline) -> SearchOutcome:
    """Final results, summary lines and the exit decision."""
    from tuner_app.tuning import best_row

    rows = tuner.write_results()
    completed = [r for r in rows if r.status == "COMPLETED"]
    failed = [r for r in rows if r.status != "COMPLETED"]
    best = best_row(rows)
    progress.result(f"{len(completed)} trial(s) completed, {len(failed)} failed; results in {csv_path}")
    if best is not None:
        lift = f" ({best.objective / baseline:.2f}x the popularity baseline)" if baseline else ""
        progress.result(f"best: trial {best.trial_id}, {spec.objective} {best.objective:.4f} "
                        f"at epoch {best.best_epoch}{lift}")
        if trainer.holdout is not None and not stopped:
            _score_holdout(spec, trainer, best, meta, csv_path, n_holdout, progress)
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


def _score_holdout(spec, trainer, best, meta, csv_path, n_holdout, progress) -> None:
    """The best trial on rows no trial was selected on (when its checkpoint is on this machine)."""
    if trainer.load_record(best.trial_id) is None:
        progress.result(f"trial {best.trial_id} ran on another machine: score it on the held-back rows there "
                        f"with `python -m tuner_app repeat` or copy its trial folder here")
        return
    held_back = trainer.evaluate_best(best.trial_id, trainer.holdout)
    meta["best_trial_holdout"] = {"trial_id": best.trial_id, "validation": best.metrics, "holdout": held_back}
    reporter.write_meta(csv_path, meta)
    progress.result(f"best trial on the {n_holdout:,} held-back rows: {spec.objective} "
                    f"{held_back[spec.objective]:.4f} (popularity {meta['baselines']['holdout'][spec.objective]:.4f})")


def _describe_search(spec: SearchSpec, ratings: Ratings, data, n_train: int, n_validation: int,
                     n_holdout: int) -> dict:
    """The sidecar JSON: settings, sizes and the popularity baselines on this split."""

    def popularity(part) -> dict[str, float]:
        seen = data.seen if spec.evaluation.exclude_seen else None
        return baselines.popularity_baseline(
            data.train.title, part.user, part.title, data.vocab.num_titles,
            None if seen is None else seen.row_splits, None if seen is None else seen.columns,
        )

    return {
        "name": spec.name,
        "space_file": spec.path,
        "objective": spec.objective,
        "data": ratings.description,
        "split": dataclasses.asdict(spec.split),
        "rows": {"train": n_train, "validation": n_validation, "holdout": n_holdout},
        "baselines": {
            "method": "popularity: the most-rated training titles, the same list for everyone",
            "validation": popularity(data.validation),
            "holdout": popularity(data.holdout) if data.holdout is not None else {},
        },
    }
