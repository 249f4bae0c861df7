"""Shared test helpers: the command line run as a user runs it, and what it wrote read back.

`Tool` runs `python -m tuner_app ...` in a subprocess in one folder (the `tool`
fixture gives one in the test's tmp_path, `tool_in` one anywhere) and kills what
it started when the test ends, so a failed assertion never leaves a chief or a
worker behind.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any test module loads TensorFlow)

#: Tiny synthetic data: a trial takes a second or two.
TINY_DATA = "synthetic:users=30,movies=40,ratings=1000,seed=5"


def tool_env(fault: str | None = None) -> dict[str, str]:
    """The environment of a run: no keras-tuner role variables, and a fault point when asked for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERASTUNER_", "TUNER_APP_FAULT"))}
    if fault:
        env["TUNER_APP_FAULT"] = fault  # tuner_app/faults.py: SIGKILL at that point
    return {**env, "PYTHONUNBUFFERED": "1"}


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV's rows as dicts of strings, as a user's spreadsheet would see them."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_space(folder: Path, text: str, name: str = "space") -> Path:
    path = Path(folder) / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


class Tool:
    """`python -m tuner_app` in `cwd`; searches write to `cwd/out` unless told otherwise."""

    def __init__(self, cwd: Path):
        self.cwd = Path(cwd)
        self._started: list[subprocess.Popen] = []

    @staticmethod
    def search_args(space: Path, *extra: str, data: str = TINY_DATA) -> list[str]:
        return ["search", "--space", str(space), "--data", data, "--results-dir", "out", *extra]

    def run(self, *args: str, fault: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tuner_app", *args], cwd=self.cwd, env=tool_env(fault),
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str, fault: str | None = None, cwd: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "tuner_app", *args], cwd=cwd or self.cwd,
                                env=tool_env(fault), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._started.append(proc)
        return proc

    def search(self, space: Path, *extra: str, fault: str | None = None, timeout: float = 300,
               data: str = TINY_DATA) -> subprocess.CompletedProcess:
        return self.run(*self.search_args(space, *extra, data=data), fault=fault, timeout=timeout)

    def start_search(self, space: Path, *extra: str, fault: str | None = None, data: str = TINY_DATA,
                     cwd: Path | None = None) -> subprocess.Popen:
        return self.start(*self.search_args(space, *extra, data=data), fault=fault, cwd=cwd)

    def rows(self, name: str = "space") -> list[dict[str, str]]:
        return read_rows(self.cwd / "out" / f"{name}.csv")

    @staticmethod
    def wait_for(condition, proc: subprocess.Popen, timeout: float = 180.0) -> None:
        """Polls `condition` until it holds; fails if `proc` ends first or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if proc.poll() is not None:
                raise AssertionError(f"the process ended before the condition: {proc.communicate()}")
            time.sleep(0.05)
        raise AssertionError("timed out waiting for the process")

    def close(self) -> None:
        while self._started:
            proc = self._started.pop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def tool(tmp_path):
    runner = Tool(tmp_path)
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def tool_in():
    """`Tool` in any folder (for module-scoped fixtures); what they start is killed at the end."""
    made: list[Tool] = []

    def make(cwd: Path) -> Tool:
        made.append(Tool(cwd))
        return made[-1]

    yield make
    for runner in made:
        runner.close()
