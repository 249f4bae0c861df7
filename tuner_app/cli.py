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
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tuner_app import __version__
from tuner_app.distributed.roles import CHIEF_WAIT, CHIEF_WAIT_RANGE, WORKER_TIMEOUT, WORKER_TIMEOUT_RANGE
from tuner_app.errors import TunerAppError
from tuner_app.flags import (
    K_RANGE,
    MAX_DEATHS_RANGE,
    PARALLEL_RANGE,
    PLOT_TOP_RANGE,
    SEEDS_RANGE,
    THREADS_RANGE,
    TOP_RANGE,
    check_paths,
    column_names,
    integer,
    path_argument,
    seconds,
    timestamp,
)
from tuner_app.space.names import EPOCHS_RANGE, MAX_TRIALS_RANGE, SEARCH_NAME_MAX
from tuner_app.store.records import MAX_DEATHS


def cmd_search(args: argparse.Namespace) -> int:
    from tuner_app.data.arguments import parse_data_arg
    from tuner_app.distributed.roles import check_parallel, resolve_role
    from tuner_app.space import load_space
    from tuner_app.store import outputs
    from tuner_app.store.layout import SearchPaths, check_results_dir
    from tuner_app.tuning.tensorboard import check_available as check_tensorboard

    spec = load_space(args.space).with_overrides(name=args.name, max_trials=args.max_trials, epochs=args.epochs,
                                                 time_budget=args.time_budget)
    data_spec = parse_data_arg(args.data)
    role = resolve_role(args.chief, args.worker, args.worker_id)
    check_parallel(args.parallel, role, args.overwrite)
    check_results_dir(Path(args.results_dir))
    paths = SearchPaths(Path(args.results_dir), spec.name)
    outputs.check_search_name(paths, "--name" if args.name else f"search name (from {spec.path})")
    if args.tensorboard is not None:
        logs = outputs.check_output(args.tensorboard, "--tensorboard", outputs.search_files(paths), kind="folder")
        outputs.check_writable_folder(logs, f"--tensorboard {logs}")
    check_tensorboard(args.tensorboard)
    # Everything given has been validated; only now does TensorFlow load.
    from tuner_app.tuning.search import SearchOptions, run_search

    options = SearchOptions(results_dir=Path(args.results_dir), overwrite=args.overwrite, quiet=args.quiet,
                            max_deaths=args.max_trial_deaths, role=role, worker_timeout=args.worker_timeout,
                            chief_wait=args.chief_wait, threads=args.threads,
                            tensorboard=Path(args.tensorboard) if args.tensorboard else None)
    if (args.parallel or 1) == 1:
        run_search(spec, data_spec, options)
    else:
        from tuner_app.distributed.pool import run_parallel

        run_parallel(args.parallel, spec, data_spec, options, data_arg=args.data, epochs=args.epochs)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tuner_app.space import load_space

    for space in args.space:
        spec = load_space(space)
        print(f"{spec.path}: valid ({spec.tuner.algorithm}, {len(spec.hyperparameters)} hyperparameter(s), "
              f"objective {spec.objective})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tuner_app.report.results_csv import read_results
    from tuner_app.report.table import (
        baseline_lines,
        check_columns,
        combine_results,
        format_table,
        insight_lines,
        rows_lines,
        split_note,
    )
    from tuner_app.store.layout import SearchPaths
    from tuner_app.store.summary import baseline_values, read_summary

    _check_report_outputs(args)
    if len(args.csv) == 1:
        frame = read_results(args.csv[0])
        check_columns(frame, args.columns)
        names = sorted(set(frame["objective_name"].dropna()))
        print(f"{args.csv[0]}: {len(frame)} trial(s); objective {', '.join(names) or '?'} (maximised)")
        summary = read_summary(SearchPaths.of_csv(args.csv[0]))
        for line in [*baseline_lines(summary, names[0]), *rows_lines(summary, names[0])] if names else []:
            print(line)
    else:
        frame = combine_results(args.csv)
        check_columns(frame, args.columns)
        print(f"{len(args.csv)} searches, {len(frame)} trial(s); objective "
              f"{frame['objective_name'].dropna().iloc[0]} (maximised), ranked together")
        note = split_note(args.csv)
        if note:
            print(note)
    print(format_table(frame, top=args.top, columns=args.columns))
    for path in args.csv:
        one = read_results(path)
        objective = one["objective_name"].dropna()
        if objective.empty:
            continue
        print(f"\n{path}:" if len(args.csv) > 1 else "")
        baselines = baseline_values(read_summary(SearchPaths.of_csv(path)), str(objective.iloc[0]))
        for line in insight_lines(one, baselines):
            print(line)
    if args.html:
        from tuner_app.report.html import write_html

        charts = write_html(args.csv, args.html)
        print(f"wrote {args.html} ({charts} charts, {Path(args.html).stat().st_size / 1e6:.1f} MB; it opens "
              "offline, from the file)")
    if args.plot:
        from tuner_app.report.plots import write_plots

        for path in args.csv:
            for png in write_plots(path, top=args.plot_top):
                print(f"wrote {png}")
    return 0


def _check_report_outputs(args: argparse.Namespace) -> None:
    """`--html` and `--plot`'s figures may not land on what `report` reads, nor in a folder it cannot write."""
    from tuner_app.store import outputs
    from tuner_app.store.layout import SearchPaths

    protected = {}
    for csv_path in args.csv:
        protected.update({Path(csv_path): f"the results CSV {csv_path}",
                          **outputs.search_files(SearchPaths.of_csv(csv_path))})
    if args.html:
        html = outputs.check_output(args.html, "--html", protected, kind="file")
        outputs.check_writable_folder(html.parent, f"--html {html}")
    if args.plot:
        for csv_path in args.csv:
            outputs.check_writable_folder(Path(csv_path).parent, f"--plot (figures go beside {csv_path})")


def cmd_export(args: argparse.Namespace) -> int:
    from tuner_app.serving.export import export_trial

    info = export_trial(args.csv, args.trial, args.out)
    print(f"exported trial {info['trial_id']} of {info['search']} ({info['objective_name']} "
          f"{info['objective']:.4f} at epoch {info['best_epoch']}) to {args.out}")
    return 0


def cmd_repeat(args: argparse.Namespace) -> int:
    from tuner_app.data.arguments import parse_data_arg
    from tuner_app.report.results_csv import read_results
    from tuner_app.space.names import metric_key
    from tuner_app.tuning.repeat import repeat_trial, summarize

    data_spec = parse_data_arg(args.data) if args.data else None
    objective = str(read_results(args.csv)["objective_name"].iloc[0])
    runs = repeat_trial(args.csv, args.trial, list(range(1, args.seeds + 1)), data_spec)
    for metric in dict.fromkeys([objective, metric_key(100), metric_key(100, filtered=True)]):
        if metric in runs[0].validation:
            print(summarize(runs, metric))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from tuner_app.serving.recommend import is_known_user, recommend

    if not is_known_user(args.model, args.user):
        print(f"note: user {args.user} is not in the training data; these are the unknown user's items",
              file=sys.stderr)
    for rank, (item, text, score) in enumerate(recommend(args.model, args.user, args.k, args.timestamp), start=1):
        print(f"{rank:3d}. {item}  {text}  ({score:.3f})" if text else f"{rank:3d}. {item}  ({score:.3f})")
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
    path_argument(search, "--space", required=True,
                  help="search space YAML file, or the name of one in search_spaces/ (e.g. deep.yaml)")
    path_argument(search, "--data", default=None, help=(
        "your interactions file (.csv, .tsv, .csv.gz, .tsv.gz, .parquet; columns found by name) or a data YAML "
        "naming it, its columns, users' and items' tables and preprocessing (see README); a GroupLens MovieLens "
        "folder or .zip (ml-100k, ml-1m, ml-10m, ml-latest-small, ml-20m, ml-25m); "
        "'synthetic[:users=N,movies=N,ratings=N,seed=N]' (sizes of at least 1, within this machine's memory; "
        "seed 0 or more); or 'tfds[:movielens/100k]' (default: TFDS, which downloads)"))
    search.add_argument("--name", help=(
        f"search name (default: the space's name): 1-{SEARCH_NAME_MAX} letters, digits, '_', '-' or '.', "
        "starting with a letter or digit, whose files are no other search's in the folder; results go to "
        "RESULTS_DIR/NAME.csv"))
    path_argument(search, "--results-dir", default="results",
                  help="where results and search state go (default: results)")
    search.add_argument("--max-trials", type=integer(*MAX_TRIALS_RANGE), metavar="N",
                        help=f"override tuner.max_trials ({MAX_TRIALS_RANGE[0]} to {MAX_TRIALS_RANGE[1]})")
    search.add_argument("--epochs", type=integer(*EPOCHS_RANGE), metavar="N", help=(
        f"override training.epochs (tuner.max_epochs for Hyperband; {EPOCHS_RANGE[0]} to {EPOCHS_RANGE[1]})"))
    search.add_argument("--time-budget", metavar="DURATION", help=(
        "search for this long, e.g. 30m, 2h, 1h30m (more than 0 s, at most a year; overrides tuner.time_budget; over "
        "all the runs of the search): no trial starts once it is spent, the running one stops at its next validated "
        "epoch with its best so far, and the same command with a larger budget continues"))
    search.add_argument("--overwrite", action="store_true", help="discard an existing search of that name and start over")
    search.add_argument("--quiet", action="store_true", help="print only the final summary")
    search.add_argument("--max-trial-deaths", type=integer(*MAX_DEATHS_RANGE), default=MAX_DEATHS, metavar="N", help=(
        "a trial during which the process died N times (killed, out of memory) is recorded as failed "
        f"instead of being retried on every resume (default: %(default)s; {MAX_DEATHS_RANGE[0]} to "
        f"{MAX_DEATHS_RANGE[1]})"))
    search.add_argument("--parallel", type=integer(*PARALLEL_RANGE), metavar="N", help=(
        "run N trials at once on this machine: N worker processes, one TensorFlow thread each, "
        "each pinned to its own CPU core (1 to the number of usable cores)"))
    path_argument(search, "--tensorboard", metavar="DIR", help=(
        "also write TensorBoard logs: each trial's loss and validation top-k per epoch and its hyperparameters "
        "(HParams); view with `tensorboard --logdir DIR` (needs the tensorboard extra)"))
    search.add_argument("--threads", type=integer(*THREADS_RANGE), metavar="N", help=(
        f"TensorFlow threads (default: all cores; {THREADS_RANGE[0]} to {THREADS_RANGE[1]})"))
    dist = search.add_argument_group("distributed search (keras-tuner's chief/worker mode; see README)")
    dist.add_argument("--chief", metavar="HOST:PORT", help=(
        "serve the search's oracle at HOST:PORT for workers; use 127.0.0.1 (loopback) unless workers "
        "run on other machines: the channel is unauthenticated"))
    dist.add_argument("--worker", metavar="HOST:PORT", help="run trials from the chief at HOST:PORT")
    dist.add_argument("--worker-id", metavar="ID", help="this worker's name (with --worker), e.g. w1")
    dist.add_argument("--worker-timeout", type=seconds(*WORKER_TIMEOUT_RANGE), default=WORKER_TIMEOUT,
                      metavar="SECONDS", help=(
                          "chief: a worker not heard from this long (workers send a heartbeat every 2 s while they "
                          "train) loses its trial to the next worker; %(default)g by default, "
                          f"{WORKER_TIMEOUT_RANGE[0]:g} to {WORKER_TIMEOUT_RANGE[1]:g}"))
    dist.add_argument("--chief-wait", type=seconds(*CHIEF_WAIT_RANGE), default=CHIEF_WAIT, metavar="SECONDS", help=(
        "worker: wait this long for a chief that does not answer (not started yet, or gone), saying so, "
        "then exit with status 2; a chief back in time is picked up again; %(default)g by default, "
        f"{CHIEF_WAIT_RANGE[0]:g} to {CHIEF_WAIT_RANGE[1]:g}"))

    validate = commands.add_parser("validate", help="check search space files without running anything")
    path_argument(validate, "space", nargs="+", shown="space file", help="YAML files or names in search_spaces/")

    results_csv = {"kind": "file", "shown": "results CSV",
                   "fix": "give a results CSV written by `search` (RESULTS_DIR/NAME.csv)"}
    report = commands.add_parser("report", help="print the ranked table of one or more results CSVs")
    path_argument(report, "csv", nargs="+", **results_csv,
                  help="results CSVs written by `search` (several: ranked together)")
    report.add_argument("--top", type=integer(*TOP_RANGE), metavar="N",
                        help=f"show only the N best trials ({TOP_RANGE[0]} to {TOP_RANGE[1]})")
    report.add_argument("--columns", type=column_names, metavar="A,B,...", help=(
        "the table's columns, from the CSV's (e.g. rank,trial_id,objective,val_ndcg_10,learning_rate); default: "
        "rank, trial, objective, lifts, time and the hyperparameters that vary, within 120 characters"))
    report.add_argument("--plot", action="store_true",
                        help="also write PNG figures next to each CSV (learning curves, objective per hyperparameter)")
    report.add_argument("--plot-top", type=integer(*PLOT_TOP_RANGE), default=10, metavar="N", help=(
        f"trials in the learning-curve figure (default: %(default)s; {PLOT_TOP_RANGE[0]} to {PLOT_TOP_RANGE[1]})"))
    path_argument(report, "--html", metavar="FILE", help=(
        "also write one self-contained HTML page (sortable trials, best so far, learning curves, parallel "
        "coordinates, importances; opens offline) for the CSVs given"))

    export = commands.add_parser("export", help="save a trial as a SavedModel that recommends titles")
    path_argument(export, "csv", **results_csv, help="the search's results CSV (its state folder must be beside it)")
    export.add_argument("--trial", default="best", help="trial id, or 'best' (default)")
    path_argument(export, "--out", required=True, help="folder to write the SavedModel to")

    repeat = commands.add_parser("repeat", help="retrain a trial with several seeds to see its spread")
    path_argument(repeat, "csv", **results_csv, help="the search's results CSV (its state folder must be beside it)")
    repeat.add_argument("--trial", default="best", help="trial id, or 'best' (default)")
    repeat.add_argument("--seeds", type=integer(*SEEDS_RANGE), default=3, metavar="N", help=(
        f"how many seeds (default %(default)s: seeds 1, 2, 3; {SEEDS_RANGE[0]} to {SEEDS_RANGE[1]})"))
    path_argument(repeat, "--data", help="the search's data, if it moved (default: where the search read it)")

    recommend = commands.add_parser("recommend", help="print the items an exported model recommends to a user")
    path_argument(recommend, "model", kind="folder", shown="model folder", fix="give a folder written by `export`",
                  help="a folder written by `export`")
    recommend.add_argument("--user", required=True, help="user id, as in the data (e.g. 42 or u0042)")
    recommend.add_argument("--k", type=integer(*K_RANGE), default=10, help=(
        f"how many items (default %(default)s; {K_RANGE[0]} to {K_RANGE[1]}, and at most what the model was "
        "exported with)"))
    recommend.add_argument("--timestamp", type=timestamp, help=(
        "when the query happens, in seconds since 1970, a 64-bit integer (default: the newest rating's time)"))
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "search": cmd_search,
    "validate": cmd_validate,
    "report": cmd_report,
    "export": cmd_export,
    "recommend": cmd_recommend,
    "repeat": cmd_repeat,
}


def main(argv: Sequence[str] | None = None) -> int:
    from tuner_app.tuning.signals import sigterm_as_interrupt

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # A search stopped before its own handler is in place (TensorFlow takes seconds to load) stops
        # as on Ctrl-C too: SIGTERM is a KeyboardInterrupt from here on.
        with sigterm_as_interrupt(args.command == "search"):
            check_paths(args)
            return COMMANDS[args.command](args)
    except TunerAppError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        how = f" ({exc.args[0]})" if exc.args else ""
        more = "; what it had finished is kept: run the same command again to resume it" if (
            args.command == "search") else ""
        print(f"error: {args.command} interrupted{how}{more}.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `report ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
