"""`search --parallel N`: N trials at once on one machine, through the distributed mode.

This process becomes the chief on a free loopback port and starts N worker
processes of the same search, each with one TensorFlow thread and pinned to its
own CPU core: single-thread trials side by side make better use of a few cores
than one trial using them all (benchmarks/README.md has the figures). Workers
write their output to `<results>/<name>/worker-<id>.log`. Ctrl-C on the chief
stops the workers cleanly; running the same command resumes everything.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tuner_app.distributed.roles import DEFAULT_HOST, Role, usable_cpus
from tuner_app.errors import SearchError
from tuner_app.store.layout import SearchPaths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((DEFAULT_HOST, 0))
        return sock.getsockname()[1]


def _worker_setup(cpu: int, parent: int):
    """What a worker process does before it starts: its own core, and to die with its parent.

    The kernel sends the worker SIGTERM when the chief that started it dies, however
    it dies (kill -9 included): the worker then stops after its current step, as on
    Ctrl-C, and its trial continues from its last finished epoch when the search is
    resumed. (Linux's PR_SET_PDEATHSIG; elsewhere the worker is left to --chief-wait.)
    """

    def setup() -> None:  # runs in the forked child, before exec: nothing that loads or locks
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})
        if _PRCTL is None:
            return
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the chief died before the line above: nothing would tell us
            os._exit(1)

    return setup


_PR_SET_PDEATHSIG = 1


def _load_prctl():
    """libc's prctl, looked up once in the parent (after fork, loading a library can deadlock)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _load_prctl()


class WorkerPool:
    """Starts, watches and stops the local worker processes of a `--parallel` search."""

    def __init__(self, count: int, worker_args: Sequence[str], paths: SearchPaths):
        self.role = Role("chief", DEFAULT_HOST, free_port())
        self.count = count
        self.worker_args = list(worker_args)
        self.paths = paths
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        cpus = usable_cpus()
        self.paths.state_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
        for i in range(self.count):
            worker_id = f"p{i + 1}"
            cpu = cpus[i % len(cpus)]
            command = [sys.executable, "-m", "tuner_app", "search", *self.worker_args, "--worker",
                       self.role.address, "--worker-id", worker_id, "--threads", "1"]
            log = open(self.paths.worker_log(worker_id), "a")  # the worker's stdout and stderr
            self.processes.append(subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env,
                preexec_fn=_worker_setup(cpu, os.getpid()),
            ))
            log.close()

    def check(self) -> None:
        """Raises `SearchError` when every worker has exited: nobody is left to run trials.

        A worker that cannot start (another process holds its lock, its data cannot be
        read) says why in its log; the last line of each log is quoted.
        """
        if not self.processes or any(proc.poll() is None for proc in self.processes):
            return
        ends = "; ".join(f"p{i + 1} exited with status {proc.returncode}: {self._last_line(f'p{i + 1}')}"
                         for i, proc in enumerate(self.processes))
        raise SearchError(f"every --parallel worker exited while trials were left ({ends}); their logs are "
                          f"{self.paths.state_dir}/worker-*.log; the finished trials are kept: fix that and run "
                          "the same command again.")

    def _last_line(self, worker_id: str) -> str:
        try:
            lines = [line.strip() for line in self.paths.worker_log(worker_id).read_text().splitlines()]
        except OSError:
            return "no log"
        lines = [line for line in lines if line]
        return repr(lines[-1][:300]) if lines else "nothing logged"

    def stop(self, timeout: float = 120.0) -> list[int]:
        """Asks running workers to stop (SIGINT: they finish their step), waits; returns exit codes."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> list[int]:
        codes = []
        for proc in self.processes:
            try:
                codes.append(proc.wait(timeout))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes


def worker_arguments(spec, options, data_arg: str | None, epochs: int | None) -> list[str]:
    """The `search` arguments of a --parallel worker: the same search, as a worker."""
    worker = ["--space", str(Path(spec.path).resolve()), "--name", spec.name,
              "--results-dir", str(Path(options.results_dir).resolve()), "--max-trial-deaths", str(options.max_deaths)]
    if data_arg:
        worker += ["--data", data_arg]
    if epochs:
        worker += ["--epochs", str(epochs)]
    if options.tensorboard is not None:
        worker += ["--tensorboard", str(Path(options.tensorboard).resolve())]
    return worker


def run_parallel(count: int, spec, data_spec, options, data_arg: str | None, epochs: int | None) -> None:
    """Runs `spec` as the chief of `count` local workers.

    Args:
        spec, data_spec, options: as `tuning.search.run_search` takes them.
        data_arg, epochs: `--data` and `--epochs` as given, for the workers' command lines.
    """
    from dataclasses import replace

    from tuner_app.tuning.search import run_search

    paths = SearchPaths(Path(options.results_dir), spec.name)
    pool = WorkerPool(count, worker_arguments(spec, options, data_arg, epochs), paths)
    try:
        run_search(spec, data_spec, replace(options, role=pool.role, before_serving=pool.start,
                                            serving_check=pool.check))
        codes = pool.wait(timeout=60)  # the chief ends once every worker has been told to stop
    except BaseException:
        pool.stop()
        raise
    if any(code not in (0, 130) for code in codes):
        print(f"note: worker exit codes {codes}; see {paths.state_dir}/worker-*.log", file=sys.stderr)
