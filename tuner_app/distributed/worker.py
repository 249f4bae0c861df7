"""A worker of a distributed search: it checks its chief runs the same search, then runs its trials.

keras-tuner's worker asks the chief for a trial, trains it, reports it and asks
again until the chief has no more. Added here: the first call compares the
chief's search fingerprint with the worker's own (a worker never trains for
another search), and a worker waits politely when the oracle is IDLE (keras-tuner
asks again at once, in a tight loop).
"""

from __future__ import annotations

import time

from tuner_app.distributed.roles import Role
from tuner_app.errors import DistributeError, SearchInterrupted
from tuner_app.space.names import FINGERPRINT_HP


def run_worker(search, role: Role):
    """Runs trials the chief hands out until it has no more; returns a `tuning.search.SearchOutcome`.

    Args:
        search: a `tuning.search.PreparedSearch`.
    """
    from tuner_app.tuning.search import SearchOutcome
    from tuner_app.tuning.signals import StopOnSignal
    from tuner_app.tuning.tuner import SearchStopped

    tuner = search.tuner
    check_chief_fingerprint(tuner.oracle, search.fingerprint, role.address)
    patch_idle_wait(tuner.oracle)
    with StopOnSignal(search.trainer):
        try:
            tuner.search()
        except SearchStopped:
            raise SearchInterrupted(
                f"worker {role.worker_id} stopped by request after {len(tuner.begun)} trial(s); its "
                "unfinished trial goes to the next worker that asks (or to this one if "
                "restarted with the same --worker-id).") from None
    search.progress.result(f"worker {role.worker_id}: the chief at {role.address} has no more trials; "
                           f"this worker ran {len(tuner.begun)} trial(s)")
    return SearchOutcome(search.paths.csv, len(tuner.begun), 0, None, None)


def check_chief_fingerprint(oracle_client, fingerprint: str, address: str, timeout: float = 600.0) -> None:
    """A worker's first call: does the chief run the same search? Waits for the chief to come up."""
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.engine import hyperparameters as hp_module

    try:
        response = oracle_client.stub.GetSpace(protos.get_service().GetSpaceRequest(), wait_for_ready=True,
                                               timeout=timeout)
    except grpc.RpcError as exc:
        raise DistributeError(f"--worker {address}: no chief answered within {timeout:.0f} s ({exc.code().name}); "
                              "start the chief first (search --chief HOST:PORT) or check the address.") from None
    space = hp_module.HyperParameters.from_proto(response.hyperparameters)
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
        if trial.status == "IDLE":
            time.sleep(seconds)
        return trial

    oracle_client.create_trial = polite_create_trial


