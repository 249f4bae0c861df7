"""Speed of tuner_app's trial against the tutorial's own code, side by side in one run.

    python -m benchmarks.speed [--data path/to/ml-100k] [--out FILE] [--epochs 20]
        [--repeats 3] [--trials 4] [--full] [--recipe-epochs 300] [--quick]

Measures training seconds per epoch, the bare in-batch softmax floor, the
validation pass, per-trial setup and the tutorial's whole recipe (extrapolated;
measured with --full), checks the app's top-k accuracies against numpy, and
prints a table of reference/app ratios against targets (see README.md). The
table also goes to --out, except with --quick (for smoke tests).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import tuner_app  # noqa: F401  (Keras 2 for TensorFlow, before it loads)
from benchmarks.output import DEFAULT_DATA, publish
from tuner_app.errors import TunerAppError
from tuner_app.model.runtime import load_tensorflow


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
        help=f"GroupLens ml-100k folder or .zip (default: {DEFAULT_DATA}, if it exists)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the table (default: benchmarks/results/<date>-speed.txt)",
    )
    parser.add_argument(
        "--epochs", type=int, default=20, help="epochs per timed run (>= 2; default 20)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="reference runs, and validation passes after the warm-up one (default 3)",
    )
    parser.add_argument(
        "--trials", type=int, default=4, help="app trials, for per-trial setup (>= 2; default 4)"
    )
    parser.add_argument(
        "--full", action="store_true", help="also run both whole recipes end to end"
    )
    parser.add_argument(
        "--recipe-epochs", type=int, default=300, help="epochs of the tutorial's recipe"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: print only, write no file",
    )
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error(f"no data at {DEFAULT_DATA}; pass --data path/to/ml-100k")
    minimums = {"epochs": 2, "repeats": 1, "trials": 2, "recipe_epochs": 1}
    for name, least in minimums.items():
        if getattr(args, name) < least:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} must be at least {least}; got {getattr(args, name)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_tensorflow()  # its start-up noise hidden; after parsing, so --help stays fast
    from benchmarks import suite

    try:
        text = suite.run(args)
    except TunerAppError as error:
        print(f"benchmarks.speed: {error}", file=sys.stderr)
        return 2
    publish(text, args.out, "speed", args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
