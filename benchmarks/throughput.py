"""Search throughput and memory: one trial at a time against `--parallel 2`, side by side.

    python -m benchmarks.throughput [--data path/to/ml-100k] [--trials 20] [--epochs 2]
        [--parallel 2] [--out FILE] [--quick]

Runs the same random search twice, as a user runs it (`python -m tuner_app
search`, a fresh process each time): once in one process using every core,
once with `--parallel N` (N single-thread worker processes pinned one per
core). The space (depth 1-3, widths, Adagrad or Adam, learning rate) and its
seed are fixed, so both runs train the same trials. Prints the wall time and
trials per hour of each and their ratio, and the one-process search's peak
memory (the CSV's `peak_rss_mb`) after its first trial and after its last:
a long search must not grow trial after trial (target: the whole search within
1.5x of a single trial's peak). The table also goes to --out, except with
--quick.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.output import DEFAULT_DATA, machine_at_start, publish

MEMORY_TARGET = 1.5

SPACE = """\
description: throughput benchmark; the same trials in every run.
tuner: {{algorithm: random, max_trials: {trials}, seed: 5}}
objective: val_top_100
training: {{epochs: {epochs}, batch_size: 2048, eval_batch_size: 4096, validation_freq: 1}}
hyperparameters:
  num_layers: {{min: 1, max: 3}}
  units: {{values: [32, 64, 128]}}
  optimizer: {{values: [adagrad, adam]}}
  learning_rate: {{min: 1.0e-3, max: 0.1, sampling: log}}
"""


@dataclass(frozen=True)
class SearchRun:
    label: str
    seconds: float
    completed: int
    peak_rss_mb: list[float]  # by trial id, in the order the trials were created

    @property
    def trials_per_hour(self) -> float:
        return self.completed / self.seconds * 3600.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                        help=f"GroupLens ml-100k folder or .zip (default: {DEFAULT_DATA}, if it exists)")
    parser.add_argument("--trials", type=int, default=20, help="trials per search (default 20)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial (default 2)")
    parser.add_argument("--parallel", type=int, default=2, help="concurrent trials of the second run (default 2)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the table (default: benchmarks/results/<date>-throughput.txt)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 trials of 1 epoch, no file written")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error(f"no data at {DEFAULT_DATA}; pass --data path/to/ml-100k")
    if args.quick:
        args.trials, args.epochs = 3, 1
    for name, least in {"trials": 2, "epochs": 1, "parallel": 2}.items():
        if getattr(args, name) < least:
            parser.error(f"--{name} must be at least {least}; got {getattr(args, name)}")
    return args


def run_search(label: str, space: Path, data: Path, results: Path, extra: Sequence[str]) -> SearchRun:
    """One `python -m tuner_app search`, timed from process start to exit."""
    command = [sys.executable, "-m", "tuner_app", "search", "--space", str(space), "--data", str(data),
               "--results-dir", str(results), "--name", "bench", "--quiet", *extra]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.throughput: the {label} search failed (exit {proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    with open(results / "bench.csv", newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["trial_id"])
    return SearchRun(label, seconds, sum(row["status"] == "COMPLETED" for row in rows),
                     [float(row["peak_rss_mb"]) for row in rows if row.get("peak_rss_mb")])


def report(args: argparse.Namespace, machine: str, start_load: float, single: SearchRun,
           parallel: SearchRun) -> str:
    from benchmarks.report import Row, format_table, ratio, verdict
    from benchmarks.timing import busy_warning

    lines = [f"Machine: {machine}", *busy_warning(start_load)]
    lines.append(f"Data: {args.data}. Search: random, {args.trials} trials x {args.epochs} epochs "
                 f"(depth 1-3, widths 32-128, Adagrad/Adam), validation every epoch; the same trials in both runs.")
    lines.append("")
    throughput = ratio(parallel.trials_per_hour, single.trials_per_hour)[1]
    rows = [
        Row("wall time of the search", f"{single.seconds:.1f} s", f"{parallel.seconds:.1f} s",
            ratio(single.seconds, parallel.seconds)[1]),
        Row("completed trials", str(single.completed), str(parallel.completed), "-", f"= {args.trials}",
            verdict(single.completed == parallel.completed == args.trials)),
        Row("trials per hour", f"{single.trials_per_hour:.0f}", f"{parallel.trials_per_hour:.0f}", throughput),
    ]
    rss = single.peak_rss_mb
    if rss:
        for i in sorted({0, min(4, len(rss) - 1), len(rss) - 1}):
            rows.append(Row(f"peak RSS after trial {i + 1} (1 process)", f"{rss[i]:.0f} MB", "-",
                            ratio(rss[i], rss[0])[1]))
        growth, cell = ratio(rss[-1], rss[0])
        rows.append(Row(f"peak RSS, trial {len(rss)} / trial 1", f"{rss[-1]:.0f} MB", "-", cell,
                        f"<= {MEMORY_TARGET}x", verdict(growth <= MEMORY_TARGET)))
    lines.append(format_table(rows, Row("measure", single.label, parallel.label, "ratio", "target", "result")))
    lines.append("")
    lines.append(f"The {parallel.label} run: {args.parallel} worker processes, one TensorFlow thread each, "
                 "pinned one per core, fed by keras-tuner's chief/worker oracle.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine, start_load = machine_at_start()
    with tempfile.TemporaryDirectory(prefix="throughput-") as folder:
        space = Path(folder) / "throughput.yaml"
        space.write_text(SPACE.format(trials=args.trials, epochs=args.epochs), encoding="utf-8")
        single = run_search("1 process", space, args.data, Path(folder) / "one", [])
        parallel = run_search(f"--parallel {args.parallel}", space, args.data, Path(folder) / "many",
                              ["--parallel", str(args.parallel)])
    text = report(args, machine, start_load, single, parallel)
    publish(text, args.out, "throughput", args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
