"""The classical baselines' cost at the catalogue sizes users bring: EASE and ALS, fitted as a search fits them.

    python -m benchmarks.baselines [--sizes latest-small 1m 25m] [--validation-rows 50000] [--out FILE] [--quick]

For each size, synthetic data of that release's shape (users, titles, ratings) is made in a
fresh process, split as `search_spaces/deep-filtered.yaml` splits it (20% validation, half of
it held back, the objective `val_filtered_ndcg_10` with each user's training items left out),
with trials selected on a fixed sample of `--validation-rows` rows as
`evaluation.validation_rows` does, and the search's own `score_baselines` runs on it: popularity,
EASE (its L2 grid, or skipped where its matrices do not fit in memory) and ALS (its staged grid),
each timed, with its chosen setting and its validation score. EASE's time estimate, printed
before it runs in a search, is set beside its measured time.

Targets (issue 29), on this 2-core machine: EASE at 9.7k titles (ml-latest-small's catalogue)
in under 2 minutes; ALS at ml-25m's shape (59k titles, 25M ratings) within 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.output import machine_at_start, publish

#: (users, titles, ratings) of each release's shape.
SIZES = {"latest-small": (610, 9_742, 100_836), "1m": (6_040, 3_706, 1_000_209),
         "25m": (162_541, 59_047, 25_000_095)}
OBJECTIVE = "val_filtered_ndcg_10"
TARGETS = {("latest-small", "ease"): 120.0, ("25m", "als"): 300.0}


def measure(size: str, validation_rows: int) -> dict:
    """One size, in this process: the data made, split and prepared, then every baseline timed."""
    import tuner_app  # noqa: F401  (Keras 2 for TensorFlow, before it loads)
    from tuner_app.model.runtime import load_tensorflow

    load_tensorflow()
    from tuner_app.baselines import ease, score_baselines
    from tuner_app.data import SyntheticSpec, make_synthetic
    from tuner_app.data.split import selection_rows, split_rows
    from tuner_app.model import features
    from tuner_app.space.spec import SplitSpec

    users, titles, count = SIZES[size]
    began = time.perf_counter()
    ratings = make_synthetic(SyntheticSpec(users=users, movies=titles, ratings=count, seed=0))
    split = SplitSpec(holdout_fraction=0.5)
    train, validation, holdout = split_rows(split, len(ratings))
    sample = selection_rows(validation, validation_rows, split.seed)
    data = features.prepare(ratings, train, sample, holdout, all_validation_rows=validation)
    prepared = time.perf_counter() - began
    estimate, skipped = ease.plan(data.vocab.num_titles)
    began = time.perf_counter()
    scored = score_baselines(data, OBJECTIVE, exclude_seen=True)
    total = time.perf_counter() - began
    popularity = {k: scored[k] for k in ("validation", "holdout")}
    timed = {}
    for name, result in [("ease", scored["ease"]), ("als", scored["als"]), ("popularity", popularity)]:
        # EASE and ALS time themselves (to 0.01 s); popularity is the rest of score_baselines' time.
        seconds = result.get("seconds", 0.0) if name != "popularity" else max(0.0, total - sum(
            t["seconds"] for t in timed.values()))
        timed[name] = {"seconds": seconds, "skipped": result.get("skipped"),
                       "objective": result.get("validation", {}).get(OBJECTIVE),
                       "holdout": result.get("holdout", {}).get(OBJECTIVE),
                       "setting": result.get("l2", result.get("settings"))}
    return {"size": size, "users": data.vocab.num_users, "titles": data.vocab.num_titles, "ratings": len(ratings),
            "train_rows": len(train), "sample_rows": len(sample), "prepare_seconds": prepared,
            "ease_estimate": estimate, "ease_skipped": skipped, "baselines": timed}


def run_child(size: str, validation_rows: int, folder: Path) -> dict:
    out = folder / f"{size}.json"
    command = [sys.executable, "-m", "benchmarks.baselines", "--child", size, "--json", str(out),
               "--validation-rows", str(validation_rows)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.baselines: {size} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def report(machine: str, start_load: float, validation_rows: int, results: list[dict]) -> str:
    from benchmarks.report import format_columns, verdict
    from benchmarks.timing import busy_warning

    lines = [f"Machine: {machine}", *busy_warning(start_load),
             f"Synthetic data of each shape, deep-filtered.yaml's split (20% validation, half held back), {OBJECTIVE} "
             f"with training items left out, trials' sample of {validation_rows:,} validation rows; the search's own "
             "score_baselines, one fresh process a size.", ""]
    rows = []
    for got in results:
        for name, fit in got["baselines"].items():
            target = TARGETS.get((got["size"], name))
            seconds = fit["seconds"]
            rows.append((
                got["size"], f"{got['titles']:,}", f"{got['ratings']:,}", name,
                "skipped" if fit["skipped"] else f"{seconds:.1f} s",
                f"{got['ease_estimate']:.0f} s" if name == "ease" else "",
                "" if fit["objective"] is None else f"{fit['objective']:.4f}",
                "" if fit["holdout"] is None else f"{fit['holdout']:.4f}",
                "" if fit["setting"] is None else json.dumps(fit["setting"]),
                "info" if target is None else f"<= {target:.0f} s: {verdict(not fit['skipped'] and seconds <= target)}",
            ))
    header = ("shape", "titles", "ratings", "baseline", "fit + scoring", "estimate", "validation", "held back",
              "chosen", "target")
    lines.append(format_columns(rows, header))
    for got in results:
        if got["ease_skipped"]:
            lines.append(f"{got['size']}: {got['ease_skipped']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES),
                        help="shapes to measure (default: all)")
    parser.add_argument("--validation-rows", type=int, default=50_000, help="trials' validation sample (default 50000)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/<date>-baselines.txt")
    parser.add_argument("--quick", action="store_true", help="smoke test: ml-1m's shape only, no file written")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        Path(args.json).write_text(json.dumps(measure(args.child, args.validation_rows)), encoding="utf-8")
        return 0
    if args.quick:
        args.sizes = ["1m"]
    machine, start_load = machine_at_start()
    with tempfile.TemporaryDirectory(prefix="baselines-") as folder:
        results = [run_child(size, args.validation_rows, Path(folder)) for size in args.sizes]
    publish(report(machine, start_load, args.validation_rows, results), args.out, "baselines", args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
