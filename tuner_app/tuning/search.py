"""One search from start to finish: data, state checks, tuner, results, stops.

`run_search` reads and splits the data once (before anything is written), then, holding the
search's lock, takes the set-up steps of `tuning.setup` (the state, the data, the summary and
baselines, the tuner for this process's role) and runs the trials: here, or as the chief or a
worker of a distributed search (`distributed.chief`, `distributed.worker`). `tuning.outcome`
ends it: the final results, the best trial's scores, the exit decision.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tuner_app.data.records import DataSpec
from tuner_app.data.sources import load_ratings
from tuner_app.data.split import split_rows
from tuner_app.distributed.roles import CHIEF_WAIT, LOOPBACK_HOSTS, WORKER_TIMEOUT, Role, leave_role
from tuner_app.space.spec import SearchSpec
from tuner_app.store.layout import SearchPaths
from tuner_app.store.lock import SearchLock
from tuner_app.store.records import MAX_DEATHS
from tuner_app.tuning import setup
from tuner_app.tuning.progress import ConsoleProgress
from tuner_app.tuning.setup import PreparedSearch
from tuner_app.tuning.signals import StopToken


@dataclass(frozen=True)
class SearchOptions:
    results_dir: Path = Path("results")
    overwrite: bool = False
    quiet: bool = False
    max_deaths: int = MAX_DEATHS
    role: Role | None = None  # distributed: this process is the chief or a worker
    worker_timeout: float = WORKER_TIMEOUT  # chief: requeue a silent worker's trial after this many seconds
    chief_wait: float = CHIEF_WAIT  # worker: give up on a chief that has not answered for this many seconds
    tensorboard: Path | None = None  # write TensorBoard logs (HParams) of the trials here
    serving_check: Callable[[], None] | None = None  # chief: called while serving; raises to stop (--parallel)
    threads: int | None = None  # TensorFlow threads (None: TensorFlow's default, all cores)
    before_serving: Callable[[], None] | None = None  # chief: called once the oracle is ready (--parallel)


def run_search(spec: SearchSpec, data_spec: DataSpec, options: SearchOptions, out: TextIO | None = None) -> None:
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
    out = out or sys.stdout  # looked up now: whatever stdout is when the search runs
    ratings = load_ratings(data_spec)
    # Before anything is written: features the data lacks and data too small for the split.
    spec, notes = spec.for_data(ratings.features, ratings.description)
    rows = setup.Rows.of(spec, split_rows(spec.split, len(ratings), f"--data ({ratings.description})",
                                          ratings.timestamp))
    for note in notes:
        print(note, file=out)
    role = options.role
    paths = SearchPaths(Path(options.results_dir), spec.name)
    progress = ConsoleProgress(spec, out, options.quiet)
    if not setup.serves(role):  # a worker runs some of the trials: no total, no time left
        progress.planned_trials = progress.planned_epochs = None
    with SearchLock(paths.lock(role.worker_id if role and role.is_worker else None)):
        try:
            resuming = setup.open_state(spec, ratings, data_spec, paths, options.overwrite, role, progress)
            data = setup.prepare_data(spec, ratings, rows, paths, options.threads, progress)
            summary = setup.write_summary_and_baselines(spec, ratings, rows, data, paths, role, progress)
            search = setup.build_tuner(spec, ratings, data, summary, paths, role, progress, resuming,
                                       max_deaths=options.max_deaths, tensorboard=options.tensorboard,
                                       stop=StopToken())
            if role is not None and role.is_worker:
                from tuner_app.distributed.worker import run_worker

                run_worker(search, role, options.chief_wait)
            else:
                _run_here_or_as_chief(search, options)
        finally:
            if role is not None:
                leave_role()


def _run_here_or_as_chief(search: PreparedSearch, options: SearchOptions) -> None:
    from tuner_app.tuning.outcome import finish
    from tuner_app.tuning.signals import StopOnSignal

    with StopOnSignal(search.stop):
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
    finish(search, stopped, failure)


def _run_local(tuner) -> tuple[bool, str | None]:
    """keras-tuner's own search loop; returns (stopped by the user, failure message)."""
    from tuner_app.tuning import kt_internals
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
        if not kt_internals.is_too_many_failures(exc):
            raise
        return False, str(exc).splitlines()[0]
    return False, None
