"""The chief of a distributed search: keras-tuner's oracle servicer, and what it does while serving.

keras-tuner's chief serves the oracle over gRPC until every worker is done and
waits forever on a dead one (issues #254, #344). Here the serving loop requeues
the trial of a worker that went silent (and forgets a silent worker that held
none, `distributed.gate`), keeps the results CSV current as trials end, and
stops when the oracle is done or the user asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tuner_app.distributed.roles import Role
from tuner_app.errors import DistributeError, SearchError, TunerAppError
from tuner_app.report import trials as trial_rows
from tuner_app.tuning import kt_internals


def run_chief(search, role: Role, worker_timeout: float,
              check: Callable[[], None] | None = None) -> tuple[bool, str | None]:
    """Serves `search`'s oracle to workers until it is done.

    Returns:
        (stopped by the user, why the search failed: too many failed trials in a row), as
        `tuning.search` takes them.

    Raises:
        TunerAppError: an oracle call raised one (a full disk).

    Args:
        search: a `tuning.setup.PreparedSearch`.
    """
    tuner, progress = search.tuner, search.progress
    progress.say(f"chief: serving the oracle at {role.address}; start workers with "
                 f"--worker {role.address} --worker-id ID")
    tuner.on_search_begin()
    shown: set[str] = {t.trial_id for t in trial_rows.ended(tuner.oracle.trials.values())}

    def on_progress(lines: list[str]) -> None:
        for line in lines:
            progress.result(line)
        tuner.write_results()
        for trial in trial_rows.ended(tuner.oracle.trials.values()):
            if trial.trial_id not in shown:
                shown.add(trial.trial_id)
                progress.trial_done(trial_rows.trial_row(trial, tuner.objective_name, tuner.oracle))

    fatal = serve_chief(tuner.oracle, role, worker_timeout, on_progress, search.stop.requested, check)
    if isinstance(fatal, TunerAppError):
        raise fatal
    if fatal is not None and not kt_internals.is_too_many_failures(fatal):
        raise SearchError(f"the chief's oracle failed ({type(fatal).__name__}: {fatal}); the finished trials are "
                          "kept: run the same command again to resume.")
    tuner.save()
    return search.stop.requested(), None if fatal is None else str(fatal).splitlines()[0]


def serve_chief(oracle, role: Role, worker_timeout: float, on_progress: Callable[[list[str]], None],
                should_stop: Callable[[], bool], check: Callable[[], None] | None = None,
                poll: float = 1.0) -> Exception | None:
    """Runs keras-tuner's oracle servicer until the search is done (or a stop is requested).

    Args:
        oracle: the search's oracle (with `distributed.gate.WorkerGateMixin`).
        worker_timeout: seconds of silence after which a worker's trial is requeued.
        on_progress: called with lines to print when trials ended or were requeued.
        should_stop: polled; True ends serving early (Ctrl-C on the chief).
        check: polled while trials are left; raises to stop serving (--parallel: no worker left).

    Returns:
        The error an oracle call raised, which ended serving, or None.
    """
    server = kt_internals.serve_oracle(oracle, role.address)
    if server is None:
        raise DistributeError(f"--chief {role.address}: cannot listen there (port in use or address not local).")
    ended, refused = len(oracle.end_order), dict(oracle.refused)
    try:
        while not oracle.finished() and not should_stop() and oracle.fatal is None:
            time.sleep(poll)
            lines = [f"worker {w} silent for {worker_timeout:.0f} s: "
                     + (f"its trial {t} goes to the next worker" if t is not None
                        else "it held no trial; the search no longer waits for it")
                     for w, t in oracle.requeue_silent(worker_timeout)]
            with kt_internals.holding(oracle):  # the gRPC threads change what is read here
                lines += [f"refused worker {w}: it runs another search (fingerprint {f or 'missing'})"
                          for w, f in oracle.refused.items() if refused.get(w) != f]
                refused = dict(oracle.refused)
                if len(oracle.end_order) != ended or lines:
                    ended = len(oracle.end_order)
                    on_progress(lines)
            if check is not None and not oracle.finished():
                check()
    finally:
        server.stop(grace=5)
    return oracle.fatal
