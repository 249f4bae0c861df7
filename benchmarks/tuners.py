"""Which tuner to pick: Hyperband, Bayesian optimization and random search on one space, one budget.

    python -m benchmarks.tuners [--data path/to/ml-100k] [--space deep.yaml] [--minutes 10]
        [--seeds 3] [--targets 0.40 0.45] [--out FILE] [--quick]

Each tuner searches the same space (its hyperparameters as the file gives them;
only `tuner:` changes) on ml-100k with 3 tuner seeds, as a user runs it
(`python -m tuner_app search`, a fresh process each time), and is stopped with
Ctrl-C (SIGINT) when the wall budget is spent, counted from the process's start.
Runs alternate between tuners (seed 1 of each, then seed 2 of each, ...), so
that the machine's drift falls on all of them alike. For each tuner: the
median wall minutes until the best trial so far reached each target, and the
median best objective within the budget, with the popularity and EASE baselines.
Budgets are set so the budget binds, not the tuner's own trial count: random and
Bayesian get 1,000 trials, Hyperband 20 iterations of its brackets (with
`tuner.max_epochs` the space's `epochs`).
"""

from __future__ import annotations

import argparse
import math
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.output import DEFAULT_DATA, machine_at_start, publish

ALGORITHMS = ("hyperband", "bayesian", "random")


@dataclass(frozen=True)
class TunerRun:
    algorithm: str
    seed: int
    trials: int  # ended within the budget
    reached: dict[float, float | None]  # target -> wall minutes until the best so far reached it
    best: float | None  # best objective within the budget


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tuners", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                        help=f"GroupLens ml-100k folder or .zip (default: {DEFAULT_DATA}, if it exists)")
    parser.add_argument("--space", default="deep.yaml", help="the space searched (default: deep.yaml)")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall budget of each run (default 10)")
    parser.add_argument("--seeds", type=int, default=3, help="tuner seeds per tuner (default 3)")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.40, 0.45],
                        help="objective values to time (default 0.40 0.45)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the table (default: benchmarks/results/<date>-tuners.txt)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 seed, 1.5-minute budgets, no file")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error(f"no data at {DEFAULT_DATA}; pass --data path/to/ml-100k")
    if args.quick:
        args.seeds, args.minutes = 1, 1.5
    return args


def tuner_space(base: dict, algorithm: str, seed: int) -> dict:
    """The space with only its tuner changed (and, for Hyperband, `epochs` as its max_epochs)."""
    space = {k: v for k, v in base.items() if k != "tuner"}
    params = dict(space["hyperparameters"])
    if algorithm == "hyperband":
        epochs = params.pop("epochs", 27)
        space["tuner"] = {"algorithm": "hyperband", "max_epochs": epochs, "factor": 3,
                          "hyperband_iterations": 20, "seed": seed}
    elif algorithm == "bayesian":
        space["tuner"] = {"algorithm": "bayesian", "max_trials": 1000, "num_initial_points": 8, "seed": seed}
    else:
        space["tuner"] = {"algorithm": "random", "max_trials": 1000, "seed": seed}
    space["hyperparameters"] = params
    return space


def run_one(algorithm: str, seed: int, base: dict, args: argparse.Namespace, folder: Path) -> TunerRun:
    from tuner_app.report.insights import completed_trials
    from tuner_app.report.results_csv import read_results

    space = folder / f"{algorithm}-{seed}.yaml"
    space.write_text(yaml.safe_dump(tuner_space(base, algorithm, seed), sort_keys=False), encoding="utf-8")
    results = folder / f"{algorithm}-{seed}"
    command = [sys.executable, "-m", "tuner_app", "search", "--space", str(space), "--data", str(args.data),
               "--results-dir", str(results), "--name", "run", "--quiet"]
    started = time.time()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=args.minutes * 60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # stops after the current step; finished trials stay
    out, err = proc.communicate(timeout=600)
    if proc.returncode not in (0, 130):
        raise SystemExit(f"benchmarks.tuners: {algorithm} seed {seed} failed (exit {proc.returncode}):\n{out}{err}")
    import pandas as pd

    frame = completed_trials(read_results(results / "run.csv"))
    launched = pd.Timestamp(started, unit="s", tz="UTC")
    ended = (pd.to_datetime(frame["finished"], utc=True) - launched).dt.total_seconds() / 60
    frame = frame.assign(minutes=ended.to_numpy()).sort_values("minutes")
    frame = frame[frame["minutes"] <= args.minutes]
    best = frame["objective"].cummax()
    reached = {}
    for target in args.targets:
        hit = frame["minutes"][best >= target]
        reached[target] = float(hit.iloc[0]) if len(hit) else None
    return TunerRun(algorithm, seed, len(frame), reached, float(best.iloc[-1]) if len(best) else None)


def median_minutes(values: list[float | None]) -> str:
    """The median over the runs, a run that never got there counting as infinitely late."""
    middle = statistics.median(math.inf if v is None else v for v in values)
    never = sum(v is None for v in values)
    text = "not within the budget" if math.isinf(middle) else f"{middle:.1f} min"
    return text + (f" ({never} of {len(values)} never)" if never else "")


def report(args, machine: str, start_load: float, runs: list[TunerRun], baselines: dict[str, float]) -> str:
    from benchmarks.report import Row, format_table
    from benchmarks.timing import busy_warning

    lines = [f"Machine: {machine}", *busy_warning(start_load),
             f"Data: {args.data}. Space: {args.space} (its hyperparameters; only tuner: changes), objective "
             f"val_top_100, wall budget {args.minutes:g} minutes a run from the process's start, "
             f"{args.seeds} tuner seed(s) per tuner, runs alternating between tuners.",
             "Baselines on the same validation rows: " + ", ".join(f"{k} {v:.4f}" for k, v in baselines.items()), ""]
    rows = []
    for algorithm in ALGORITHMS:
        mine = [r for r in runs if r.algorithm == algorithm]
        bests = [r.best for r in mine if r.best is not None]
        rows.append(Row(
            algorithm,
            *(median_minutes([r.reached[t] for r in mine]) for t in args.targets),
            f"{statistics.median(bests):.4f}" if bests else "-",
            f"{min(bests):.4f}-{max(bests):.4f}" if bests else "-",
            f"{statistics.median([r.trials for r in mine]):.0f}",
        ))
    header = Row("tuner", *(f"median time to {t:.2f}" for t in args.targets), "median best in budget",
                 "best: min-max", "median trials")
    lines.append(format_table(rows, header))
    lines.append("")
    lines.append("Every run (minutes until the best so far reached each target; '-': not within the budget):")
    for run in runs:
        reached = ", ".join(f"{t:.2f}: {'-' if m is None else f'{m:.1f}'}" for t, m in run.reached.items())
        lines.append(f"  {run.algorithm:9s} seed {run.seed}: {run.trials} trials, best "
                     f"{'-' if run.best is None else f'{run.best:.4f}'}; {reached}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine, start_load = machine_at_start()
    from tuner_app.space import resolve_space_path
    from tuner_app.store.layout import SearchPaths
    from tuner_app.store.summary import baseline_values, read_summary

    base = yaml.safe_load(resolve_space_path(args.space).read_text(encoding="utf-8"))
    runs = []
    with tempfile.TemporaryDirectory(prefix="tuners-") as folder:
        for seed in range(1, args.seeds + 1):
            for algorithm in ALGORITHMS:
                runs.append(run_one(algorithm, seed, base, args, Path(folder)))
                print(f"{algorithm} seed {seed}: {runs[-1]}", file=sys.stderr, flush=True)
        summary = read_summary(SearchPaths(Path(folder) / f"{ALGORITHMS[0]}-1", "run"))
    text = report(args, machine, start_load, runs, baseline_values(summary, "val_top_100"))
    publish(text, args.out, "tuners", args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
