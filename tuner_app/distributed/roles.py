"""Who this process is in a distributed search: keras-tuner's chief/worker roles, from flags or variables.

keras-tuner runs the oracle in a chief process behind a gRPC server; workers ask
it for trials (`distributed.chief`, `distributed.worker`). Its switches are
environment variables: `KERASTUNER_TUNER_ID` ("chief" or the worker's id),
`KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`. The command line sets them from
`--chief HOST:PORT` or `--worker HOST:PORT --worker-id ID`, and accepts them when
set (the two must agree). TensorFlow-free: roles are checked before it loads.

The gRPC channel is unauthenticated: the chief binds to loopback unless told
otherwise.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from tuner_app.errors import DistributeError

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
ENV_ID, ENV_IP, ENV_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
CHIEF_ID = "chief"
#: Separates a worker's name from its search fingerprint in its keras-tuner tuner id.
FINGERPRINT_SEPARATOR = "#"

#: `--worker-timeout`: seconds without a word from a worker (its heartbeat comes every 2 s,
#: `distributed.worker.Heartbeat`) before its trial goes to the next worker; default and range.
WORKER_TIMEOUT, WORKER_TIMEOUT_RANGE = 120.0, (10.0, 7 * 86_400.0)
#: `--chief-wait`: seconds a worker waits for a chief that does not answer; default and range.
CHIEF_WAIT, CHIEF_WAIT_RANGE = 300.0, (5.0, 7 * 86_400.0)


@dataclass(frozen=True)
class Role:
    """This process's part in a distributed search (None: a local search)."""

    kind: Literal["chief", "worker"]
    host: str
    port: int
    worker_id: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_worker(self) -> bool:
        return self.kind == "worker"

    def describe(self) -> str:
        """'chief at 127.0.0.1:8470' or 'worker at 127.0.0.1:8470 as w1'."""
        return f"{self.kind} at {self.address}{f' as {self.worker_id}' if self.worker_id else ''}"


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
        kind = "chief" if tuner_id == CHIEF_ID else "worker"
        port = environ[ENV_PORT]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise DistributeError(f"{ENV_PORT} must be a port from 1 to 65535; got {port!r}; fix or unset it.")
        from_env = Role(kind, environ[ENV_IP], int(port), None if kind == "chief" else tuner_id)
    if chief or worker:
        host, port = parse_address(chief or worker, "--chief" if chief else "--worker")
        role = Role("chief" if chief else "worker", host, port, worker_id)
        if role.kind == "worker":
            _check_worker_id(worker_id)
        if from_env and from_env != role:
            raise DistributeError(
                f"the flags say {role.describe()} but {ENV_ID}/{ENV_IP}/{ENV_PORT} say {from_env.describe()}; "
                "unset the variables or make them agree."
            )
        return role
    if from_env and from_env.kind == "worker":
        _check_worker_id(from_env.worker_id)
    return from_env


def _check_worker_id(worker_id: str | None) -> None:
    if not worker_id:
        raise DistributeError("--worker needs --worker-id ID, a name for this worker (e.g. w1).")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", worker_id) or CHIEF_ID in worker_id:
        raise DistributeError(f"--worker-id: expected 1-40 letters, digits, '_', '-' or '.', not containing "
                              f"'chief'; got {worker_id!r}.")


def usable_cpus() -> list[int]:
    """The CPU cores this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def check_parallel(parallel: int | None, role: Role | None, overwrite: bool) -> None:
    """`--parallel` runs its own chief and workers, at most one per core; `--overwrite` belongs to the chief."""
    cores = len(usable_cpus())
    if parallel and parallel > cores:
        raise DistributeError(f"--parallel {parallel}: this machine has {cores} usable CPU core(s), and each worker "
                              f"runs pinned to its own; ask for at most {cores}.")
    if parallel and role is not None:
        raise DistributeError("--parallel runs its own local chief and workers; it cannot be combined with "
                              "--chief, --worker or the KERASTUNER_* variables.")
    if overwrite and role is not None and role.is_worker:
        raise DistributeError("--overwrite: only the chief can start a search over; got it on a worker.")


def worker_name(tuner_id: str) -> str:
    return tuner_id.split(FINGERPRINT_SEPARATOR, 1)[0]


def tuner_id_of(role: Role, fingerprint: str) -> str:
    """The keras-tuner tuner id of a role: "chief", or the worker's name and its search's fingerprint."""
    return CHIEF_ID if role.kind == "chief" else f"{role.worker_id}{FINGERPRINT_SEPARATOR}{fingerprint[:16]}"


def enter_role(role: Role, fingerprint: str) -> None:
    """Sets keras-tuner's variables for this process (keras-tuner reads them when the tuner is made)."""
    from tuner_app.tuning.kt_internals import silence_condition_print

    silence_condition_print()
    os.environ.update({ENV_ID: tuner_id_of(role, fingerprint), ENV_IP: role.host, ENV_PORT: str(role.port)})


def leave_role() -> None:
    for name in (ENV_ID, ENV_IP, ENV_PORT):
        os.environ.pop(name, None)
