"""`search --parallel N`: N trials at once on one machine, through the distributed mode.

This process becomes the chief on a free loopback port and starts N worker
processes of the same search, each with one TensorFlow thread and pinned to its
own CPU core: single-thread trials side by side make better use of a few cores
than one trial using them all (benchmarks/README.md has the figures). Workers
write their output to `<results>/<name>/worker-<id>.log`. Ctrl-C on the chief
stops the workers cleanly; running the same command resumes everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tuner_app.distributed.roles import Role
from tuner_app.store.layout import SearchPaths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


class WorkerPool:
    """Starts and stops the local worker processes of a `--parallel` search."""

    def __init__(self, count: int, worker_args: Sequence[str], paths: SearchPaths):
        self.role = Role("chief", "127.0.0.1", free_port())
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
                preexec_fn=(lambda c=cpu: os.sched_setaffinity(0, {c})) if hasattr(os, "sched_setaffinity") else None,
            ))
            log.close()

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
        run_search(spec, data_spec, replace(options, role=pool.role, before_serving=pool.start))
        codes = pool.wait(timeout=60)  # the chief ends once every worker has been told to stop
    except BaseException:
        pool.stop()
        raise
    if any(code not in (0, 130) for code in codes):
        print(f"note: worker exit codes {codes}; see {paths.state_dir}/worker-*.log", file=sys.stderr)
