"""Shared test helpers: the command line run as a user runs it, and what it wrote read back.

`Tool` runs `python -m tuner_app ...` in one folder (the `tool` fixture gives one in
the test's tmp_path, `tool_in` one anywhere) and kills what it started when the test
ends, so a failed assertion never leaves a chief or a worker behind. A command that
runs to its end in the foreground (`Tool.run`) runs in this process, through the
command line's own `main`, as `python -m tuner_app` would run it: only the
TensorFlow import, seconds a process, is shared. Whatever is a process's behaviour
runs in a real process: what is started in the background (`Tool.start`), a fault
that kills or stalls the process (kill -9 or a sleep at a point; a full disk's ENOSPC
and a spent budget, which the process lives through, run here), distributed roles,
and every run when `TUNER_APP_TEST_PROCESSES=1`.

Every `python -m tuner_app search` pays several seconds of TensorFlow import
before it trains, so a finished search several tests read is run once for the
whole session (`shared_search`), by whichever xdist worker needs it first;
tests that damage it work on a copy (`copy_of`).
"""

from __future__ import annotations

import csv
import fcntl
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
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


#: Flags that make a process a part of a distributed search: such runs stay real processes.
_PROCESS_FLAGS = ("--chief", "--worker", "--parallel")


#: `tuner_app.faults` kinds a process lives through (`TUNER_APP_FAULT=<kind>@<point>:<n>`): such runs may stay here.
_SURVIVED_FAULTS = ("enospc", "spend")


def in_process(args, fault: str | None = None) -> bool:
    """Whether `python -m tuner_app ARGS`, with `fault` injected, may run in this process (see the module
    docstring)."""
    survived = fault is None or ("@" in fault and fault.partition("@")[0] in _SURVIVED_FAULTS)
    return survived and os.environ.get("TUNER_APP_TEST_PROCESSES") != "1" and not any(
        arg == flag or arg.startswith(flag + "=") for arg in args for flag in _PROCESS_FLAGS)


def run_in_process(args: list[str], cwd: Path, fault: str | None = None) -> subprocess.CompletedProcess:
    """`python -m tuner_app ARGS` in `cwd`, run by the command line's `main` in this process: its output,
    exit status and, for an error that escapes `main` (a bug), the traceback the interpreter would print.
    `fault`: `TUNER_APP_FAULT` for this run, counted from zero as in a new process."""
    import contextlib
    import io
    import traceback

    from tuner_app import faults
    from tuner_app.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("KERASTUNER_", "TUNER_APP_FAULT"))}
    if fault is not None:
        os.environ["TUNER_APP_FAULT"] = fault
    faults._counts.clear()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse's usage errors, --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 (a bug: reported as the interpreter would, exit 1)
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(before)
        os.environ.pop("TUNER_APP_FAULT", None)
        os.environ.update(saved_env)
        faults._counts.clear()
    return subprocess.CompletedProcess([sys.executable, "-m", "tuner_app", *args], code, out.getvalue(),
                                       err.getvalue())


class Tool:
    """`python -m tuner_app` in `cwd`; searches write to `cwd/out` unless told otherwise."""

    def __init__(self, cwd: Path):
        self.cwd = Path(cwd)
        self._started: list[subprocess.Popen] = []

    @staticmethod
    def search_args(space: Path, *extra: str, data: str = TINY_DATA) -> list[str]:
        return ["search", "--space", str(space), "--data", data, "--results-dir", "out", *extra]

    def run(self, *args: str, fault: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        if in_process(args, fault):
            return run_in_process(list(args), self.cwd, fault)
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


@pytest.fixture(scope="session")
def shared_search(tmp_path_factory) -> Callable[[str, Callable[[Path], None]], Path]:
    """`shared_search(key, build)`: the folder `build(folder)` filled, built once for the whole run.

    The folder is shared by every xdist worker of this run (the run's own temporary root;
    the session's with -n0): the first worker to ask builds it under a file lock while
    the others wait for it, then all read it. It must not be changed: a test that damages
    or adds to it works on a copy (`copy_of`). A build that fails fails the test that
    asked, and the next one to ask tries again.
    """
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-searches"
    root.mkdir(exist_ok=True)

    def get(key: str, build: Callable[[Path], None]) -> Path:
        folder, done = root / key, root / f"{key}.done"
        with open(root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)  # a failed build's leftovers
                folder.mkdir()
                build(folder)
                done.touch()
        return folder

    return get


def copy_of(folder: Path, to: Path) -> Tool:
    """A `Tool` in `to`, holding a copy of the shared search in `folder`."""
    shutil.copytree(folder, to, dirs_exist_ok=True)
    return Tool(to)


#: Modules whose tests run whole searches in subprocesses, the longest first (see
#: `pytest_collection_modifyitems`); a module not named here comes after these.
LONGEST_FIRST = ["test_resume.py", "test_faults.py", "test_distribute.py", "test_side_features.py", "test_cli.py",
                 "test_html_report.py"]


def pytest_collection_modifyitems(config, items):
    """Tests marked slow (a subprocess search each, up to a minute or two) run first, the rest after.

    xdist hands tests out in this order to whichever worker is free (`--dist load
    --maxschedchunk 1`, see pyproject.toml): started first, a long test runs beside the
    others; started last, it would leave the other core idle until it ends.
    """
    def order(item) -> tuple[int, int]:
        if item.get_closest_marker("slow") is None:
            return (1, 0)
        name = item.path.name
        return (0, LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST))

    items.sort(key=order)  # stable: collection order within each
