"""The command line's arguments: each numeric flag's range, checked as it is parsed, and each path
argument, checked before its command runs.

A number out of its range is argparse's usage error (exit 2), naming the range; a path
argument added with `path_argument` is checked by `check_paths` (`store.outputs.check_path_text`):
not empty, no component longer than a file name can be, no symbolic-link loop and, where
the argument says which, not of the wrong kind (a folder, a FIFO). TensorFlow-free.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tuner_app.store.layout import EXPORT_K


def integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}; got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}; got {text}")
        return value

    return parse


#: Each numeric flag's range, both ends included (the timeouts' are beside their defaults, in
#: `distributed.roles`; --max-trials' and --epochs' are the space file's, in `space.names`).
MAX_DEATHS_RANGE = (1, 100)
PARALLEL_RANGE = (1, 1024)  # and at most the machine's cores: `distributed.roles.check_parallel`
THREADS_RANGE = (1, 1024)
TOP_RANGE = (1, 1_000_000)
PLOT_TOP_RANGE = (1, 100)
SEEDS_RANGE = (1, 100)
K_RANGE = (1, EXPORT_K)  # and at most what the model was exported with
TIMESTAMP_RANGE = (-(2**63), 2**63 - 1)


def seconds(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds from `low` to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds as a number; got {text!r}") from None
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g} seconds; got {text}")
        return value

    return parse


def column_names(text: str) -> list[str]:
    """An argparse type: names separated by commas."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected column names separated by commas; got {text!r}")
    return names


def timestamp(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds since 1970 as an integer; got {text!r}") from None
    if not TIMESTAMP_RANGE[0] <= value <= TIMESTAMP_RANGE[1]:
        raise argparse.ArgumentTypeError(f"expected seconds since 1970 that fit in 64 bits; got {text}")
    return value


def path_argument(parser: argparse.ArgumentParser, *names: str, kind: str | None = None, shown: str | None = None,
                  fix: str = "give another path", **kwargs) -> None:
    """Adds a path argument, which `check_paths` checks before the command runs.

    Args:
        kind: what the path must be if it exists: "file", "folder" or "file or folder".
        shown: how messages name a positional argument (e.g. "results CSV").
        fix: what to do about a path of the wrong kind, for the message.
    """
    action = parser.add_argument(*names, **kwargs)
    checks = parser.get_default("path_checks") or ()
    parser.set_defaults(path_checks=(*checks, (action.dest, shown or names[0], kind, fix)))


def check_paths(args: argparse.Namespace) -> None:
    """Checks every path argument the command's parser added with `path_argument`.

    Raises:
        ResultsError: one sentence naming the argument and what is wrong.
    """
    from tuner_app.store.outputs import check_path_text

    for dest, flag, kind, fix in getattr(args, "path_checks", ()):
        value = getattr(args, dest)
        for one in value if isinstance(value, list) else [value]:
            if one is not None:
                check_path_text(one, flag, kind, fix)
