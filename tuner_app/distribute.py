"""Distributed search on keras-tuner's own chief/worker mode.

keras-tuner runs the oracle in a chief process behind a gRPC server; workers
ask it for trials. Its switches are environment variables:
`KERASTUNER_TUNER_ID` ("chief" or the worker's id), `KERASTUNER_ORACLE_IP`,
`KERASTUNER_ORACLE_PORT`. The command line sets them from `--chief
HOST:PORT` or `--worker HOST:PORT --worker-id ID`, and accepts them when set
(the two must agree).

What is added around keras-tuner's servicer and client:

* the chief's serving loop requeues the trial of a worker that went silent
  (and forgets a silent worker that held none), and stops when the oracle is
  done (keras-tuner's waits forever on a dead worker, issues #254, #344);
* a worker checks the chief's search fingerprint first and refuses to work
  for another search (the chief also refuses such a worker's requests);
* a worker waits politely when the oracle is IDLE (keras-tuner asks again at
  once, in a tight loop).

The gRPC channel is unauthenticated: the chief binds to loopback unless told
otherwise.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuner_app.errors import TunerAppError

DEFAULT_HOST = "127.0.0.1"
ENV_ID, ENV_IP, ENV_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
#: Space and data fingerprints are compared by this hyperparameter of the oracle's space.
FINGERPRINT_HP = "tuner_app/fingerprint"


class DistributeError(TunerAppError):
    exit_code = 2


@dataclass(frozen=True)
class Role:
    """This process's part in a distributed search (None: a local search)."""

    kind: str  # "chief" | "worker"
    host: str
    port: int
    worker_id: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributeError(f"{flag}: expected HOST:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:8470); "
                              f"got {text!r}.")
    return host or DEFAULT_HOST, int(port)


def resolve_role(chief: str | None, worker: str | None, worker_id: str | None,
                 environ: dict | None = None) -> Role | None:
    """The role from the flags, or from keras-tuner's environment variables; they must agree."""
    environ = os.environ if environ is None else environ
    if chief and worker:
        raise DistributeError("--chief and --worker: a process is either the chief or a worker; got both.")
    if worker_id and not worker:
        raise DistributeError("--worker-id: only meaningful with --worker HOST:PORT.")
    from_env = None
    if environ.get(ENV_IP):
        missing = [v for v in (ENV_PORT, ENV_ID) if not environ.get(v)]
        if missing:
            raise DistributeError(f"{ENV_IP} is set but {', '.join(missing)} is not; set all three or none.")
        tuner_id = environ[ENV_ID]
        kind = "chief" if tuner_id == "chief" else "worker"
        from_env = Role(kind, environ[ENV_IP], int(environ[ENV_PORT]), None if kind == "chief" else tuner_id)
    if chief or worker:
        host, port = parse_address(chief or worker, "--chief" if chief else "--worker")
        role = Role("chief" if chief else "worker", host, port, worker_id)
        if role.kind == "worker":
            _check_worker_id(worker_id)
        if from_env and from_env != role:
            raise DistributeError(
                f"the flags say {role.kind} at {role.address}"
                f"{f' as {role.worker_id}' if role.worker_id else ''} but {ENV_ID}/{ENV_IP}/{ENV_PORT} say "
                f"{from_env.kind} at {from_env.address}{f' as {from_env.worker_id}' if from_env.worker_id else ''}; "
                "unset the variables or make them agree."
            )
        return role
    if from_env and from_env.kind == "worker":
        _check_worker_id(from_env.worker_id)
    return from_env


def _check_worker_id(worker_id: str | None) -> None:
    if not worker_id:
        raise DistributeError("--worker needs --worker-id ID, a name for this worker (e.g. w1).")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", worker_id) or "chief" in worker_id:
        raise DistributeError(f"--worker-id: expected 1-40 letters, digits, '_', '-' or '.', not containing "
                              f"'chief'; got {worker_id!r}.")


def _silence_condition_print() -> None:
    """keras-tuner 1.4.8 left a debug `print(self.values[0])` in `conditions.Parent.to_proto`.

    Every gRPC message carrying a conditional hyperparameter (our per-layer
    widths) would print a bare number on the chief's and the workers' output.
    This swaps in the same method without the print, only if the installed
    keras-tuner still has it.
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


def enter_role(role: Role, fingerprint: str) -> str:
    """Sets keras-tuner's variables for this process; returns its tuner id."""
    from tuner_app.oracles import FINGERPRINT_SEPARATOR

    _silence_condition_print()

    tuner_id = "chief" if role.kind == "chief" else f"{role.worker_id}{FINGERPRINT_SEPARATOR}{fingerprint[:16]}"
    os.environ.update({ENV_ID: tuner_id, ENV_IP: role.host, ENV_PORT: str(role.port)})
    return tuner_id


def leave_role() -> None:
    for name in (ENV_ID, ENV_IP, ENV_PORT):
        os.environ.pop(name, None)


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


def serve_chief(oracle, role: Role, worker_timeout: float, on_progress: Callable[[list[str]], None],
                should_stop: Callable[[], bool], poll: float = 1.0) -> None:
    """Runs keras-tuner's oracle servicer until the search is done (or a stop is requested).

    Args:
        oracle: the search's oracle (a `SearchOracleMixin`).
        worker_timeout: seconds of silence after which a worker's trial is requeued.
        on_progress: called with lines to print when trials ended or were requeued.
        should_stop: polled; True ends serving early (Ctrl-C on the chief).
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)
    if server.add_insecure_port(role.address) == 0:
        raise DistributeError(f"--chief {role.address}: cannot listen there (port in use or address not local).")
    server.start()
    ended, refused = len(oracle.end_order), dict(oracle.refused)
    try:
        while not oracle.finished() and not should_stop():
            time.sleep(poll)
            lines = [f"worker {w} silent for {worker_timeout:.0f} s: "
                     + (f"its trial {t} goes to the next worker" if t is not None
                        else "it held no trial; the search no longer waits for it")
                     for w, t in oracle.requeue_silent(worker_timeout)]
            lines += [f"refused worker {w}: it runs another search (fingerprint {f or 'missing'})"
                      for w, f in oracle.refused.items() if refused.get(w) != f]
            refused = dict(oracle.refused)
            if len(oracle.end_order) != ended or lines:
                ended = len(oracle.end_order)
                on_progress(lines)
    finally:
        server.stop(grace=5)
