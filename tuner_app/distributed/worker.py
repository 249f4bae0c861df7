"""A worker of a distributed search: it checks its chief runs the same search, then runs its trials.

keras-tuner's worker asks the chief for a trial, trains it, reports it and asks
again until the chief has no more. Added here:

* the first call compares the chief's search fingerprint with the worker's own
  (a worker never trains for another search);
* a chief that does not answer (not started yet, or gone) is waited for, and the
  worker says so, for `--chief-wait` seconds at most; then it exits with a
  sentence, its trial left to continue from its last finished epoch
  (keras-tuner's client waits in silence for an hour a call);
* a worker waits politely when the oracle is IDLE (keras-tuner asks again at
  once, in a tight loop);
* while it trains a trial, a heartbeat tells the chief it is alive (`Heartbeat`),
  so that an epoch longer than `--worker-timeout` does not lose the trial.
"""

from __future__ import annotations

import contextlib
import threading
import time

from tuner_app.distributed.roles import Role
from tuner_app.errors import DistributeError, SearchInterrupted, StopRequested
from tuner_app.space.names import FINGERPRINT_HP
from tuner_app.store.states import TrialState


def run_worker(search, role: Role, chief_wait: float) -> None:
    """Runs trials the chief hands out until it has no more.

    Args:
        search: a `tuning.setup.PreparedSearch`.
    """
    from tuner_app.tuning.signals import StopOnSignal
    from tuner_app.tuning.tuner import SearchAborted, SearchStopped

    tuner = search.tuner
    raw_stub = tuner.oracle.stub
    tuner.oracle.stub = PatientStub(raw_stub, role, chief_wait, search.progress.result,
                                    search.stop.requested)
    tuner.trial_scope = lambda trial_id: Heartbeat(raw_stub, trial_id)
    check_chief_fingerprint(tuner.oracle, search.fingerprint, role.address)
    patch_idle_wait(tuner.oracle)
    with StopOnSignal(search.stop):
        try:
            tuner.search()
        except SearchAborted as exc:
            raise exc.error from None
        except (SearchStopped, StopRequested):  # the latter: asked to stop while the chief was away
            raise SearchInterrupted(
                f"worker {role.worker_id} stopped by request after {len(tuner.begun)} trial(s); its "
                "unfinished trial goes to the next worker that asks (or to this one if "
                "restarted with the same --worker-id).") from None
    search.progress.result(f"worker {role.worker_id}: the chief at {role.address} has no more trials; "
                           f"this worker ran {len(tuner.begun)} trial(s)")


class Heartbeat:
    """While a worker trains a trial, a thread asks the chief for that trial every `EVERY` seconds.

    The chief counts any call about a trial as word from the worker holding it
    (`distributed.gate`), so a worker whose epochs outlast `--worker-timeout` keeps its
    trial; only a worker that died or froze goes silent. The calls go straight to the
    gRPC stub with a short deadline, and failures are ignored: a chief that is away is
    the trial loop's business (`PatientStub`), not the heartbeat's.
    """

    EVERY = 2.0

    def __init__(self, stub, trial_id: str, every: float = EVERY):
        self._stub, self._trial_id, self._every = stub, trial_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial_id}", daemon=True)

    def _beat(self) -> None:
        from tuner_app.tuning.kt_internals import get_trial_request

        request = get_trial_request(self._trial_id)
        while not self._stop.wait(self._every):
            with contextlib.suppress(Exception):  # any failure: see the class docstring
                self._stub.GetTrial(request, timeout=self._every)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        return False


class PatientStub:
    """keras-tuner's gRPC stub, with a bounded wait for a chief that does not answer.

    Each call is tried for `ATTEMPT` seconds at a time. While the chief does not
    answer, the worker says it is waiting (once), stops waiting if it is asked to
    stop, and gives up after `patience` seconds with a `DistributeError`. A chief
    that comes back in time is picked up again (and the worker says so). A retried
    call may reach the chief twice: creating a trial and reporting an epoch are
    idempotent there, and the chief's oracle ignores a second end of one trial.
    """

    ATTEMPT = 5.0

    def __init__(self, stub, role: Role, patience: float, say, should_stop):
        self._stub, self._role, self._patience = stub, role, patience
        self._say, self._should_stop = say, should_stop

    def __getattr__(self, name):
        method = getattr(self._stub, name)

        def call(request, **kwargs):
            import grpc

            kwargs.update(wait_for_ready=True, timeout=self.ATTEMPT)
            since = None
            while True:
                try:
                    response = method(request, **kwargs)
                except grpc.RpcError as exc:
                    if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise DistributeError(f"--worker {self._role.address}: the chief refused a request "
                                              f"({exc.code().name}: {exc.details()}).") from None
                    since = self._waiting(since)
                    continue
                if since is not None:
                    self._say(f"worker {self._role.worker_id}: the chief at {self._role.address} answers again")
                return response

        return call

    def _waiting(self, since: float | None) -> float:
        now = time.monotonic()
        if since is None:
            since = now - self.ATTEMPT
            self._say(f"worker {self._role.worker_id}: waiting for the chief at {self._role.address} (no answer "
                      f"for {self.ATTEMPT:.0f} s; giving up after {self._patience:.0f} s, see --chief-wait)")
        if self._should_stop():
            raise StopRequested()
        if now - since > self._patience:
            raise DistributeError(
                f"--worker {self._role.address}: the chief did not answer for {self._patience:.0f} s "
                f"(--chief-wait); start it (search --chief {self._role.address}) and this worker again with "
                f"--worker-id {self._role.worker_id}: its trial continues from its last finished epoch.")
        return since


def check_chief_fingerprint(oracle_client, fingerprint: str, address: str) -> None:
    """A worker's first call: does the chief run the same search? Waits for the chief to come up."""
    import keras_tuner as kt

    from tuner_app.tuning.kt_internals import get_space_request

    response = oracle_client.stub.GetSpace(get_space_request())
    space = kt.HyperParameters.from_proto(response.hyperparameters)
    theirs = space.values.get(FINGERPRINT_HP)
    if theirs != fingerprint:
        raise DistributeError(
            f"--worker {address}: the chief runs a different search (its space/data/split fingerprint "
            f"{str(theirs)[:16]} is not this worker's {fingerprint[:16]}); start the worker with the chief's "
            "search space file and the same --data."
        )


def patch_idle_wait(oracle_client, seconds: float = 2.0) -> None:
    """keras-tuner's worker asks again at once when the oracle is IDLE; make it wait."""
    create_trial = oracle_client.create_trial

    def polite_create_trial(tuner_id):
        trial = create_trial(tuner_id)
        if TrialState.of(trial.status) is TrialState.IDLE:
            time.sleep(seconds)
        return trial

    oracle_client.create_trial = polite_create_trial


