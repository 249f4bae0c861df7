"""Everything tuner_app uses of keras-tuner beyond its public API, in one place.

keras-tuner has no public way to do some of what a search needs: requeue a
trial, rebuild lost state, resume a grid search, serve an oracle with a chief
that stops. Each function here names the internal it reaches; every other module
imports keras-tuner's public names only (`keras_tuner`, `keras_tuner.engine.*`,
`keras_tuner.errors`) and calls these. `check_version` refuses a keras-tuner these
were not written against, and tests/test_kt_internals.py has one test per patch
that fails when keras-tuner's own behaviour changes (the patch can then go).
"""

from __future__ import annotations

import contextlib
import threading
import warnings

import keras_tuner as kt

from tuner_app.errors import SearchError

#: The keras-tuner releases these internals were read from and tested with.
SUPPORTED_VERSIONS = ("1.4.7", "1.4.8")


def check_version() -> None:
    """Refuses a keras-tuner other than `SUPPORTED_VERSIONS`, whose internals may differ.

    Raises:
        SearchError: one sentence naming the installed version and how to get a supported one.
    """
    if kt.__version__ not in SUPPORTED_VERSIONS:
        raise SearchError(f"keras-tuner {kt.__version__} is installed; tuner_app reaches into its internals as "
                          f"{' and '.join(SUPPORTED_VERSIONS)} have them: install keras-tuner=={SUPPORTED_VERSIONS[-1]} "
                          "(pip install -e . does).")


def quiet() -> None:
    """keras-tuner's output that a search replaces with its own, turned off.

    * `config.DEBUG` (True by default) prints every failed trial's traceback; the reason
      goes to the CSV instead, and a crash's traceback to `trial_<id>/error.txt`.
    * The Bayesian oracle's Gaussian process warns about its own convergence, and a
      failed trial's NaN objective makes numpy's nanmax warn: nothing a user can act on.
    """
    from keras_tuner.src import config

    config.DEBUG = False
    warnings.filterwarnings("ignore", module=r"sklearn\.gaussian_process")
    warnings.filterwarnings("ignore", message="All-NaN", category=RuntimeWarning, module=r"keras_tuner")


# -- the oracle's state -------------------------------------------------------------------
def retry_queue(oracle) -> list[str]:
    """The oracle's queue of trials to run again, first out last (`Oracle._retry_queue`), the live list."""
    return oracle._retry_queue


def state_path(oracle) -> str:
    """Where the oracle keeps its state, `oracle.json` (`Oracle._get_oracle_fname`)."""
    return oracle._get_oracle_fname()


def trial_folder(oracle, trial_id: str) -> str:
    """The folder of one trial's keras-tuner state (`Oracle._get_trial_dir`)."""
    return oracle._get_trial_dir(trial_id)


def project_folder(oracle) -> str:
    """The search's state folder (`Oracle._project_dir`)."""
    return oracle._project_dir


def forget_metrics(trial) -> None:
    """Empties a trial's reported metrics (`engine.metrics_tracking.MetricsTracker`, not public)."""
    from keras_tuner.src.engine.metrics_tracking import MetricsTracker

    trial.metrics = MetricsTracker()


def values_hash(oracle, values: dict) -> str:
    """The hash keras-tuner keys a trial's values by, to never run them twice (`Oracle._compute_values_hash`)."""
    return oracle._compute_values_hash(values)


def display_state(oracle) -> dict:
    """The state of keras-tuner's trial display, part of `oracle.json` (`Oracle._display`)."""
    return oracle._display.get_state()


def save_trial(oracle, trial) -> None:
    """Writes one trial's `trial.json` as the oracle does (`Oracle._save_trial`)."""
    oracle._save_trial(trial)


def restore_grid_order(oracle, order: list[str]) -> None:
    """Gives a reloaded grid search the order of its tried trials, which keras-tuner keeps only in memory
    (`GridSearchOracle._ordered_ids`, `_populate_next`): without it, a resumed grid search stopped at
    once or met a KeyError."""
    from keras_tuner.src.tuners.gridsearch import LinkedList

    oracle._ordered_ids = LinkedList()
    for trial_id in order:
        oracle._ordered_ids.insert(trial_id)
    oracle._populate_next = list(order)


class StateFileHooks:
    """Mixed into an oracle: keras-tuner's private hook for writing a trial's state goes to `write_trial`."""

    def _save_trial(self, trial):
        self.write_trial(trial)


@contextlib.contextmanager
def holding(oracle):
    """The oracle's lock, as keras-tuner's `synchronized` takes it (again in the same thread is free).

    Unlike `synchronized`, it is released when the body raises: keras-tuner's keeps the lock then,
    and every later call on the oracle (a chief's gRPC threads, its own loop) blocks.
    """
    from keras_tuner.src.engine import oracle as oracle_module

    thread = threading.current_thread().name
    acquire = oracle_module.THREADS[oracle] != thread
    if acquire:
        oracle_module.LOCKS[oracle].acquire()
        oracle_module.THREADS[oracle] = thread
    try:
        yield
    finally:
        if acquire:
            oracle_module.THREADS[oracle] = None
            oracle_module.LOCKS[oracle].release()


def is_too_many_failures(error: BaseException) -> bool:
    """Whether keras-tuner ended the search for too many failed trials in a row (a bare RuntimeError)."""
    return isinstance(error, RuntimeError) and "consecutive failures" in str(error)


# -- the tuner ------------------------------------------------------------------------------
def is_worker(tuner) -> bool:
    """Whether this tuner is a distributed worker, its oracle the chief's (`BaseTuner._is_worker`)."""
    return tuner._is_worker()


def tuner_state_path(tuner) -> str:
    """Where the tuner keeps its state, `<tuner id>.json` (`BaseTuner._get_tuner_fname`)."""
    return tuner._get_tuner_fname()


class TunerHooks:
    """Mixed into a `BaseTuner`: keras-tuner's two private steps the search replaces.

    * `_populate_initial_space` would build a model for every conditional branch to discover the
      space: the oracle is given the whole space instead.
    * `_run_and_update_trial` asks the oracle (over gRPC, on a worker) whether the trial reported,
      to warn that it should have returned results instead: trials report every epoch, by design.
      `run_trial_in_scope` runs the trial instead.
    """

    def _populate_initial_space(self):
        pass

    def _run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        self.run_trial_in_scope(trial, *fit_args, **fit_kwargs)


# -- distribution ---------------------------------------------------------------------------
def serve_oracle(oracle, address: str, threads: int = 4):
    """A started gRPC server with keras-tuner's oracle servicer for `oracle` at `address`, or None if it
    cannot listen there (`distribute.oracle_chief.OracleServicer`, whose own loop never stops)."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)
    if server.add_insecure_port(address) == 0:
        return None
    server.start()
    return server


def get_space_request():
    from keras_tuner.src import protos

    return protos.get_service().GetSpaceRequest()


def get_trial_request(trial_id: str):
    from keras_tuner.src import protos

    return protos.get_service().GetTrialRequest(trial_id=trial_id)


def silence_condition_print() -> None:
    """keras-tuner 1.4.8 left a debug `print(self.values[0])` in `conditions.Parent.to_proto`.

    Every gRPC message carrying a conditional hyperparameter (the per-layer widths) would
    print a bare number on the chief's and the workers' output. This swaps in the same
    method without the print, only if the installed keras-tuner still has it.
    """
    import inspect

    from keras_tuner.src import protos
    from keras_tuner.src.engine import conditions

    if "print(self.values[0])" not in inspect.getsource(conditions.Parent.to_proto):
        return

    def to_proto(self):
        proto = protos.get_proto()
        first = self.values[0]
        if isinstance(first, str):
            values = [proto.Value(string_value=v) for v in self.values]
        elif isinstance(first, bool):
            values = [proto.Value(boolean_value=v) for v in self.values]
        elif isinstance(first, int):
            values = [proto.Value(int_value=v) for v in self.values]
        else:
            values = [proto.Value(float_value=v) for v in self.values]
        return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))

    conditions.Parent.to_proto = to_proto
