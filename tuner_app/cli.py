"""Command line: `python -m tuner_app <command> ...`.

Each command is one small function registered in `COMMANDS`. TensorFlow is
imported only by commands that train (`search`), after their inputs are
validated; `validate` and `report` stay fast.

Errors of the project's own kind (`TunerAppError`) print one line to stderr
and exit with their status (2 for bad input, 1 for a failed run, 130 for a
stopped search); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tuner_app import __version__
from tuner_app.errors import TunerAppError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def cmd_search(args: argparse.Namespace) -> int:
    from tuner_app.data import parse_data_arg
    from tuner_app.space import load_space

    spec = load_space(args.space).with_overrides(name=args.name, max_trials=args.max_trials, epochs=args.epochs)
    data_spec = parse_data_arg(args.data)
    # Everything given has been validated; only now does TensorFlow load.
    from tuner_app.search import SearchOptions, run_search

    options = SearchOptions(results_dir=Path(args.results_dir), overwrite=args.overwrite, quiet=args.quiet,
                            max_deaths=args.max_trial_deaths)
    run_search(spec, data_spec, options)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tuner_app.space import load_space

    for space in args.space:
        spec = load_space(space)
        print(f"{spec.path}: valid ({spec.tuner.algorithm}, {len(spec.hyperparameters)} hyperparameter(s), "
              f"objective {spec.objective})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tuner_app.reporter import format_table, read_results

    frame = read_results(args.csv)
    names = sorted(set(frame["objective_name"].dropna()))
    print(f"{args.csv}: {len(frame)} trial(s); objective {', '.join(names) or '?'} (maximised)")
    print(format_table(frame, top=args.top))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner_app",
        description="Hyperparameter search for TensorFlow Recommenders deep retrieval models.",
    )
    parser.add_argument("--version", action="version", version=f"tuner_app {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser("search", help="run or resume a search", description=(
        "Run a search, or resume it: running the same command again continues where it stopped."))
    search.add_argument("--space", required=True,
                        help="search space YAML file, or the name of one in search_spaces/ (e.g. deep.yaml)")
    search.add_argument("--data", default=None, help=(
        "GroupLens MovieLens folder or .zip (ml-100k, ml-1m, ml-10m, ml-latest-small, ml-20m, ml-25m); "
        "'synthetic[:users=N,movies=N,ratings=N,seed=N]'; or 'tfds[:movielens/100k]' (default: TFDS, "
        "which downloads)"))
    search.add_argument("--name", help="search name (default: the space's name); results go to RESULTS_DIR/NAME.csv")
    search.add_argument("--results-dir", default="results", help="where results and search state go (default: results)")
    search.add_argument("--max-trials", type=_positive_int, help="override tuner.max_trials")
    search.add_argument("--epochs", type=_positive_int,
                        help="override training.epochs (tuner.max_epochs for Hyperband)")
    search.add_argument("--overwrite", action="store_true", help="discard an existing search of that name and start over")
    search.add_argument("--quiet", action="store_true", help="print only the final summary")
    search.add_argument("--max-trial-deaths", type=_positive_int, default=2, metavar="N", help=(
        "a trial during which the process died N times (killed, out of memory) is recorded as failed "
        "instead of being retried on every resume (default: 2)"))

    validate = commands.add_parser("validate", help="check search space files without running anything")
    validate.add_argument("space", nargs="+", help="YAML files or names in search_spaces/")

    report = commands.add_parser("report", help="print the ranked table of a results CSV")
    report.add_argument("csv", help="a results CSV written by `search`")
    report.add_argument("--top", type=_positive_int, help="show only the N best trials")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "search": cmd_search,
    "validate": cmd_validate,
    "report": cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TunerAppError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
