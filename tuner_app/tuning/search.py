"""One search from start to finish: data, state checks, tuner, results, stops.

`run_search` reads and splits the data once, builds the vocabularies once,
scores the baselines once, creates or reloads the keras-tuner project in
`<results>/<name>/`, runs the trials (here, or as the chief or a worker of a
distributed search, `distributed.chief` and `distributed.worker`), and keeps
`<results>/<name>.csv` current after every trial. At the end it scores the best
trial on the held-back rows, when the split holds some back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tuner_app.data.records import DataSpec, Ratings
from tuner_app.data.sources import load_ratings
from tuner_app.data.split import selection_rows, split_rows
from tuner_app.distributed.roles import CHIEF_WAIT, LOOPBACK_HOSTS, WORKER_TIMEOUT, Role, leave_role
from tuner_app.errors import SearchError, SearchInterrupted
from tuner_app.report.rows import best_classical, best_row
from tuner_app.space.durations import format_duration
from tuner_app.space.names import BASELINES, CLASSICAL_BASELINES
from tuner_app.space.spec import SearchSpec
from tuner_app.store import atomic, identity
from tuner_app.store.layout import SearchPaths
from tuner_app.store.lock import SearchLock
from tuner_app.store.summary import baseline_setting, baseline_values, baselines_of, coverage_line, write_summary
from tuner_app.tuning.progress import ConsoleProgress


@dataclass(frozen=True)
class SearchOptions:
    results_dir: Path = Path("results")
    overwrite: bool = False
    quiet: bool = False
    max_deaths: int = 2
    role: Role | None = None  # distributed: this process is the chief or a worker
    worker_timeout: float = WORKER_TIMEOUT  # chief: requeue a silent worker's trial after this many seconds
    chief_wait: float = CHIEF_WAIT  # worker: give up on a chief that has not answered for this many seconds
    tensorboard: Path | None = None  # write TensorBoard logs (HParams) of the trials here
    serving_check: Callable[[], None] | None = None  # chief: called while serving; raises to stop (--parallel)
    threads: int | None = None  # TensorFlow threads (None: TensorFlow's default, all cores)
    before_serving: Callable[[], None] | None = None  # chief: called once the oracle is ready (--parallel)


@dataclass(frozen=True)
class SearchOutcome:
    csv_path: Path
    completed: int
    failed: int
    best_trial: str | None
    best_value: float | None


@dataclass
class PreparedSearch:
    """A search ready to run its trials: what the local loop, the chief and a worker share."""

    spec: SearchSpec
    paths: SearchPaths
    tuner: object  # tuning.tuner.RetrievalTuner (imported with TensorFlow)
    trainer: object  # tuning.trainer.Trainer
    progress: ConsoleProgress
    summary: dict
    fingerprint: str

    @property
    def baselines(self) -> dict[str, float]:
        """Each baseline's objective on the validation rows."""
        return baseline_values(self.summary, self.spec.objective)


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
    # Before anything is written: features the data lacks and data too small for the split.
    spec, notes = spec.for_data(ratings.features, ratings.description)
    rows = split_rows(spec.split, len(ratings), f"--data ({ratings.description})", ratings.timestamp)
    for note in notes:
        print(note, file=out)
    role = options.role
    paths = SearchPaths(Path(options.results_dir), spec.name)
    with SearchLock(paths.lock(role.worker_id if role and role.is_worker else None)):
        try:
            search = _prepare(spec, ratings, rows, data_spec, options, paths, out)
            if role is not None and role.is_worker:
                from tuner_app.distributed.worker import run_worker

                return run_worker(search, role, options.chief_wait)
            return _run_here_or_as_chief(search, options)
        finally:
            if role is not None:
                leave_role()


def _prepare(spec: SearchSpec, ratings: Ratings, rows: tuple, data_spec: DataSpec, options: SearchOptions,
             paths: SearchPaths, out: TextIO) -> PreparedSearch:
    train_rows, all_validation_rows, holdout_rows = rows
    validation_rows = selection_rows(all_validation_rows, spec.evaluation.validation_rows, spec.split.seed)
    sampled = len(validation_rows) < len(all_validation_rows)
    role = options.role
    serves = role is None or not role.is_worker  # a local search or the chief: it writes the results
    progress = ConsoleProgress(spec, out, options.quiet)
    if role is not None and role.is_worker:  # a worker runs some of the trials: no total, no time left
        progress.planned_trials = progress.planned_epochs = None
    # A worker started just before its chief writes the search state too: only an oracle
    # that has saved its state makes this a resumed search.
    resuming = identity.check_or_start(paths, spec, ratings, data_spec, options.overwrite) and paths.has_tuner_state()
    identity.check_state_files(paths)
    if serves:
        # Not a worker: workers share the folder with a live chief, whose file being written
        # would look stray to them.
        atomic.remove_stray_temp_files(paths.state_dir)
        for path in paths.outputs:
            atomic.remove_stray_temp_files(paths.results_dir, path.name, recursive=False)
    part = "" if role is None else f" as {role.kind} {role.worker_id or ''} at {role.address}".replace("  ", " ")
    progress.say(f"{'Resuming' if resuming else 'Starting'} search '{spec.name}' ({spec.tuner.algorithm}){part} "
                 f"on {ratings.description}: {len(ratings):,} ratings")
    for line in ratings.preparation:
        progress.say(f"  {line}")

    # TensorFlow loads here, after every input has been validated.
    from tuner_app.model.runtime import load_tensorflow

    load_tensorflow(threads=options.threads)

    from tuner_app.baselines import score_baselines
    from tuner_app.model import features
    from tuner_app.report import trials as trial_rows
    from tuner_app.space.names import FINGERPRINT_HP, HISTORY_FEATURE
    from tuner_app.store.vocabulary import damage as vocabulary_damage
    from tuner_app.store.vocabulary import keep_saved_word_table, save_vocabulary
    from tuner_app.tuning.budget import TimeBudget
    from tuner_app.tuning.hypermodel import MovielensHyperModel
    from tuner_app.tuning.oracles import make_oracle
    from tuner_app.tuning.trainer import Trainer
    from tuner_app.tuning.tuner import RetrievalTuner

    data = features.prepare(ratings, train_rows, validation_rows, holdout_rows,
                            all_validation_rows if sampled else None, history=spec.uses_feature(HISTORY_FEATURE))
    damaged = vocabulary_damage(paths.vocabulary)
    if damaged:
        progress.result(f"repaired: {paths.vocabulary} was damaged ({damaged}); rebuilt from the data")
        paths.vocabulary.unlink()
    data = data.with_vocab(keep_saved_word_table(paths.vocabulary, data.vocab))
    save_vocabulary(paths.vocabulary, data.vocab)
    summary = {
        **identity.describe_search(spec, ratings),
        **({"preparation": list(ratings.preparation)} if ratings.preparation else {}),
        "objective": spec.objective,
        "rows": {"train": len(train_rows), "validation": len(validation_rows), "holdout": len(holdout_rows),
                 **({"validation_all": len(all_validation_rows)} if sampled else {})},
        **({"selection": f"trials are selected on a fixed random sample of {len(validation_rows):,} of the "
                         f"{len(all_validation_rows):,} validation rows (evaluation.validation_rows); the best "
                         "trial is scored on all of them"} if sampled else {}),
        "baselines": score_baselines(data, spec.objective, spec.evaluation.exclude_seen, say=progress.say),
    }
    if serves:
        write_summary(paths, summary)
    progress.say(describe_baselines(summary, spec.objective))

    hypermodel = MovielensHyperModel(spec, data.vocab)
    trainer = Trainer(
        data, spec.objective, spec.training.validation_freq, paths.state_dir,
        eval_batch_size=spec.training.eval_batch_size, exclude_seen=spec.evaluation.exclude_seen,
        shuffle_seed=spec.training.shuffle_seed, max_deaths=options.max_deaths,
        keep_last_checkpoint=spec.tuner.algorithm == "hyperband",
    )
    trainer.epoch_listeners.append(progress.epoch)
    trainer.notice_listeners.append(progress.result)
    fingerprint = identity.search_fingerprint(spec, ratings)
    space = hypermodel.search_space()
    space.Fixed(FINGERPRINT_HP, fingerprint)
    oracle = make_oracle(spec, space)
    if role is not None:
        from tuner_app.distributed.roles import enter_role

        enter_role(role, fingerprint)
        oracle.expected_fingerprint = fingerprint[:16]
    trial_begin = [progress.trial_begin]
    if options.tensorboard is not None:
        from tuner_app.tuning.tensorboard import TensorBoardLogger

        logger = TensorBoardLogger(options.tensorboard, space, spec.objective)
        trainer.epoch_listeners.append(logger.epoch)
        trial_begin.append(logger.trial_begin)
    # The chief (or a local search) keeps the time budget; a worker's chief decides for it.
    budget = TimeBudget(spec.tuner.time_budget, paths.state_dir) if serves else None
    progress.budget = oracle.budget = budget
    tuner = RetrievalTuner(oracle, hypermodel, trainer, paths, baselines=baseline_values(summary, spec.objective),
                           on_trial_begin=lambda trial, plan: [begin(trial, plan) for begin in trial_begin],
                           on_trial_done=progress.trial_done, budget=budget)
    for repair in getattr(oracle, "repairs", []):
        progress.result(f"repaired: {repair}")
    if resuming and serves:
        progress.resumed([trial_rows.trial_row(t, spec.objective, oracle)
                          for t in trial_rows.ended(oracle.trials.values())])
    return PreparedSearch(spec, paths, tuner, trainer, progress, summary, fingerprint)


def _run_here_or_as_chief(search: PreparedSearch, options: SearchOptions) -> SearchOutcome:
    from tuner_app.tuning.signals import StopOnSignal

    with StopOnSignal(search.trainer):
        if options.role is None:
            stopped, failure = _run_local(search.tuner)
        else:
            from tuner_app.distributed.chief import run_chief

            if options.role.host not in LOOPBACK_HOSTS:
                search.progress.result(
                    f"warning: serving the oracle on {options.role.address}, beyond this machine; its gRPC "
                    "channel is unauthenticated: anyone who can reach the port can take or report trials.")
            if options.before_serving:
                options.before_serving()
            stopped, failure = run_chief(search, options.role, options.worker_timeout, options.serving_check)
    return _finish(search, stopped, failure)


def _run_local(tuner) -> tuple[bool, str | None]:
    """keras-tuner's own search loop; returns (stopped by the user, failure message)."""
    from tuner_app.tuning.tuner import BudgetSpent, SearchAborted, SearchStopped

    try:
        tuner.search()
    except SearchStopped:
        return True, None
    except BudgetSpent:  # the summary says so; the search ended as planned
        return False, None
    except SearchAborted as exc:
        raise exc.error from None
    except RuntimeError as exc:  # keras-tuner: too many consecutive failed trials
        if "consecutive failures" not in str(exc):
            raise
        return False, str(exc).splitlines()[0]
    return False, None


def _finish(search: PreparedSearch, stopped: bool, failure: str | None) -> SearchOutcome:
    """Final results, summary lines and the exit decision."""
    spec, progress, baselines = search.spec, search.progress, search.baselines
    rows = search.tuner.write_results()
    budget = search.tuner.budget
    if budget is not None:
        budget.save()
    completed = [r for r in rows if r.completed]
    failed = [r for r in rows if not r.completed]
    best = best_row(rows)
    progress.result(f"{len(completed)} trial(s) completed, {len(failed)} failed; results in {search.paths.csv}")
    if budget is not None and budget.exhausted():
        cut = [r.trial_id for r in rows if r.cut_by_budget]
        progress.result(f"the {format_duration(budget.seconds)} time budget is spent ({format_duration(budget.spent())} "
                        f"over this search's runs){_cut_note(cut)}"
                        "; a larger --time-budget continues it")
    if best is not None:
        lift = f" ({lifts(best.objective, baselines)})" if baselines else ""
        progress.result(f"best: trial {best.trial_id}, {spec.objective} {best.objective:.4f} "
                        f"at epoch {best.best_epoch}{lift}")
        if not stopped:
            _score_best(search, best)
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
    return SearchOutcome(search.paths.csv, len(completed), len(failed), best.trial_id if best else None,
                         best.objective if best else None)


def _cut_note(cut: list[str]) -> str:
    if not cut:
        return ""
    return f"; trial {cut[0]} was cut at its best epoch so far" if len(cut) == 1 else \
        f"; trials {', '.join(cut)} were cut at their best epoch so far"


def _score_best(search: PreparedSearch, best) -> None:
    """The best trial's catalogue coverage, its figures on all validation rows (when trials saw a sample)
    and on the held-back rows no trial was selected on (when its checkpoint is on this machine)."""
    trainer, summary, progress = search.trainer, search.summary, search.progress
    if trainer.load_record(best.trial_id) is None:
        progress.result(f"trial {best.trial_id} ran on another machine: score it on all rows there "
                        f"with `python -m tuner_app repeat` or copy its trial folder here")
        return
    summary["best_trial_coverage"] = {"trial_id": best.trial_id, **trainer.coverage_of_best(best.trial_id)}
    write_summary(search.paths, summary)
    progress.result(coverage_line(summary) or "")
    objective = search.spec.objective
    if trainer.validation_all is not None:
        every = trainer.evaluate_best(best.trial_id, trainer.validation_all)
        summary["best_trial_all_validation"] = {"trial_id": best.trial_id, "sample": best.metrics, "all": every}
        write_summary(search.paths, summary)
        progress.result(f"best trial on all {summary['rows']['validation_all']:,} validation rows (trials were "
                        f"selected on {summary['rows']['validation']:,} of them): {objective} {every[objective]:.4f}")
    if trainer.holdout is None:
        return
    held_back = trainer.evaluate_best(best.trial_id, trainer.holdout)
    summary["best_trial_holdout"] = {"trial_id": best.trial_id, "validation": best.metrics, "holdout": held_back}
    write_summary(search.paths, summary)
    others = ", ".join(f"{BASELINES[name]} {value:.4f}"
                       for name, value in baseline_values(summary, objective, "holdout").items())
    progress.result(f"best trial on the {summary['rows']['holdout']:,} held-back rows: {objective} "
                    f"{held_back[objective]:.4f} ({others})")


def describe_baselines(summary: dict, objective: str) -> str:
    """'popularity baseline: val_top_100 0.2962; EASE (L2 3000): 0.3857 on the validation rows'."""
    parts = []
    for name, entry in baselines_of(summary).items():
        if "skipped" in entry:
            parts.append(entry["skipped"])
        elif objective in entry.get("validation", {}):
            setting = baseline_setting(entry)
            parts.append(f"{BASELINES[name]}{setting} {entry['validation'][objective]:.4f}")
    return f"baselines on the validation rows, {objective}: " + "; ".join(parts)


def lifts(objective: float, baselines: dict[str, float]) -> str:
    """'1.22x the better classical baseline (EASE); 1.59x popularity, 1.22x EASE, 1.31x ALS'."""
    shown = [f"{objective / value:.2f}x {BASELINES[name]}" for name, value in baselines.items() if value]
    best = best_classical(baselines)
    if best is None:
        return ", ".join(shown)
    name = next(n for n in CLASSICAL_BASELINES if baselines.get(n) == best)
    return f"{objective / best:.2f}x the better classical baseline ({BASELINES[name]}); " + ", ".join(shown)
