"""`search --parallel N`: N trials at once on one machine, through the distributed mode.

This process becomes the chief on a free loopback port and starts N worker
processes of the same search, each with one TensorFlow thread and pinned to
its own CPU core: on a 2-core machine two single-thread trials of 10 epochs
gave 1.18-1.23x the trials an hour of one trial at a time using both cores
(benchmarks/README.md; trials of a few seconds gain 0.97-1.20x). Workers write their
output to `<results>/<name>/worker-<id>.log`. Ctrl-C on the chief stops the
workers cleanly; running the same command resumes everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tuner_app.distribute import Role


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


class WorkerPool:
    """Starts and stops the local worker processes of a `--parallel` search."""

    def __init__(self, count: int, worker_args: Sequence[str], search_dir: Path):
        self.role = Role("chief", "127.0.0.1", free_port())
        self.count = count
        self.worker_args = list(worker_args)
        self.search_dir = search_dir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        cpus = usable_cpus()
        self.search_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
        for i in range(self.count):
            worker_id = f"p{i + 1}"
            cpu = cpus[i % len(cpus)]
            command = [sys.executable, "-m", "tuner_app", "search", *self.worker_args, "--worker",
                       self.role.address, "--worker-id", worker_id, "--threads", "1"]
            log = open(self.search_dir / f"worker-{worker_id}.log", "a")
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
