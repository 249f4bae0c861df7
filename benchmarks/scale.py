"""MovieLens 1M to 25M on one machine: setup, epochs against their floor, validation, memory.

    python -m benchmarks.scale [--sizes 1m 10m 25m] [--optimizers adam lazy_adam] [--towers 256,64,64 32]
                               [--search 25m] [--reader 25m | --reader-release FOLDER] [--readers-only]
                               [--validation-rows 50000] [--profile] [--out FILE] [--quick]

For each size, optimizer and tower stack, synthetic data of that release's shape
(users, titles, ratings; see `SIZES`) is made in a fresh process, which then runs
one trial of a fixed configuration (by default 256-64-64, batch 2048, the retrieval
knobs of best.yaml's winner) as a search runs it, timing each part:

* generating the data (counted apart: reading a release is the reader's job);
* setup, from ratings in memory to the first training step: the split, the
  vocabularies and encoded ratings, the seen titles, the baselines, the
  trainer's pipelines and the model;
* `EPOCHS` training epochs, each followed at once by an epoch of its floor: the
  bare loss step and optimizer update on that size's batches (the app's own loss,
  each batch's distinct titles scored once). The first pair is left out (it
  includes tracing); the epoch is the median of the others, epoch/floor the median
  of their pairs' ratios, rows per second from that epoch;
* with `--profile`, a `tf.profiler` trace of 200 more training steps, its op time
  by part of the model (`benchmarks.profile`): what the epoch spends beyond its floor;
* a validation pass on `--validation-rows` sampled rows (what a search selects
  on with `evaluation.validation_rows`);
* the process's peak RSS.

ml-100k itself (the real files) runs first, as the rows-per-second yardstick, in
the same run. With `--search 25m`, a real `python -m tuner_app search` of one
2-epoch trial with sampled validation runs at that size, and its peak memory is
read from its CSV. Targets (issue 20): at 10M ratings setup <= 30 s, rows/s >= 0.4x
ml-100k's, epoch <= 1.5x its floor, peak RSS <= 3 GB; at 25M the search within 12 GB.

With `--reader SIZE` (or `--reader-release FOLDER`), the readers run on the same ratings,
each in a fresh process whose peak RSS is its VmHWM (`peak_rss_bytes`): the GroupLens reader on the release's ratings.csv, then the
own-data reader (`--data interactions.parquet`) on the same rows written as Parquet, once
with the release's integer ids and once with string ids (``u123``, ``sku-456``), the three in
turn for `READER_ROUNDS` rounds (each reader's median run; its time over GroupLens's taken round
by round). Target (issue 27): each Parquet read costs at most the GroupLens read's seconds and peak RSS.
`--readers-only` runs the readers alone (no trial, no ml-100k).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.output import DEFAULT_DATA, machine_at_start, publish

#: (users, titles, ratings) of each GroupLens release.
SIZES = {"1m": (6_040, 3_706, 1_000_209), "10m": (69_878, 10_677, 10_000_054), "25m": (162_541, 59_047, 25_000_095)}
EPOCHS = 3
TARGETS = {"setup_seconds": 30.0, "rows_per_second_ratio": 0.4, "epoch_over_floor": 1.5, "peak_rss_gb": 3.0}
SEARCH_RSS_GB = 12.0
#: The readers' target applies at ml-25m's size (issue 27).
READER_TARGET_LINES = 25_000_000
#: Each reader's runs, in turn with the others.
READER_ROUNDS = 3
#: Every memory figure here is in GB of 10^9 bytes (the app's CSV has MiB: `peak_rss_mb`).
GB = 1e9
DEFAULT_TOWERS = "256,64,64"
SPACE = """\
description: scale benchmark; one trial of a fixed configuration.
tuner: {{algorithm: random, max_trials: 1, seed: 1}}
objective: val_top_100
evaluation: {{validation_rows: {validation_rows}}}
training: {{epochs: 2, batch_size: 2048, eval_batch_size: 4096}}
hyperparameters:
  layer_sizes: "{layers}"
  optimizer: {optimizer}
  learning_rate: 0.002
  logq_correction: true
  normalize_embeddings: true
  remove_accidental_hits: true
  temperature: 0.26
"""


def measure(data: str, validation_rows: int, optimizer: str, layers: str, profile: bool = False) -> dict:
    """One size, in this process: what the module docstring lists, as a dict."""
    started = time.perf_counter()
    import tuner_app  # noqa: F401
    from tuner_app.model.runtime import load_tensorflow

    load_tensorflow()
    from benchmarks.timing import EpochTimer, FloorEpoch
    from tuner_app.baselines import score_baselines
    from tuner_app.data import load_ratings, parse_data_arg
    from tuner_app.data.split import selection_rows, split_rows
    from tuner_app.model import features
    from tuner_app.space import parse_space
    from tuner_app.tuning.hypermodel import MovielensHyperModel
    from tuner_app.tuning.trainer import Trainer

    spec = parse_space(SPACE.format(validation_rows=validation_rows, optimizer=optimizer, layers=layers),
                       "scale.yaml")
    imports = time.perf_counter() - started
    began = time.perf_counter()
    ratings = load_ratings(parse_data_arg(data))
    load = time.perf_counter() - began
    parts = {}

    def part(name, fn):
        began = time.perf_counter()
        value = fn()
        parts[name] = time.perf_counter() - began
        return value

    train, validation, holdout = part("split", lambda: split_rows(spec.split, len(ratings), timestamps=ratings.timestamp))
    sample = selection_rows(validation, validation_rows, spec.split.seed)
    prepared = part("vocabularies, encoding, seen titles", lambda: features.prepare(ratings, train, sample, holdout))
    part("baselines", lambda: score_baselines(prepared, spec.objective, spec.evaluation.exclude_seen))
    trainer = part("trainer and pipelines", lambda: Trainer(prepared, spec.objective, 1, Path(tempfile.mkdtemp()),
                                                           eval_batch_size=4096))
    hypermodel = MovielensHyperModel(spec, prepared.vocab)
    config = hypermodel.model_config(hypermodel.search_space())
    model = part("model", lambda: trainer.build(config))
    setup = sum(parts.values())
    floor = FloorEpoch(prepared.train.title, batch=2048, loss="distinct")
    timer = EpochTimer(between_epochs=floor.sample)
    dataset = trainer.train_dataset(2048)
    model.fit(dataset, steps_per_epoch=trainer.steps_per_epoch(2048), epochs=EPOCHS, callbacks=[timer], verbose=0)
    epoch = statistics.median(timer.seconds[1:])
    over_floor = statistics.median(e / f for e, f in zip(timer.seconds[1:], floor.seconds[1:], strict=True))
    began = time.perf_counter()
    logs = model.evaluate(trainer.validation, return_dict=True, verbose=0)
    validation_seconds = time.perf_counter() - began
    result = {
        "data": ratings.description, "optimizer": optimizer, "towers": layers, "ratings": len(ratings), "titles": prepared.vocab.num_titles,
        "users": prepared.vocab.num_users, "train_rows": len(train), "validation_rows": len(validation),
        "sample_rows": len(sample), "imports_seconds": imports, "load_seconds": load, "setup_seconds": setup,
        "setup_parts": parts, "epoch_seconds": timer.seconds, "floor_seconds": floor.seconds,
        "rows_per_second": len(train) / epoch, "epoch_over_floor": over_floor, "epoch_median": epoch,
        "validation_seconds": validation_seconds,
        "top_100": float(next(v for k, v in logs.items() if k.endswith("top_100_categorical_accuracy"))),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB,
    }
    if profile:  # after the peak is read: tracing holds its events in memory
        from benchmarks.profile import profile_steps

        result["profile"] = profile_steps(model, dataset)
    return result


def search_at(size: str, validation_rows: int, optimizer: str, folder: Path) -> dict:
    """A real search of one 2-epoch trial at `size`, as a user runs it; its time and peak memory."""
    users, titles, ratings = SIZES[size]
    space = folder / "scale.yaml"
    space.write_text(SPACE.format(validation_rows=validation_rows, optimizer=optimizer, layers=DEFAULT_TOWERS),
                     encoding="utf-8")
    data = f"synthetic:users={users},movies={titles},ratings={ratings},seed=0"
    command = [sys.executable, "-m", "tuner_app", "search", "--space", str(space), "--data", data,
               "--results-dir", str(folder / "out"), "--quiet"]
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        return {"error": (proc.stdout + proc.stderr)[-2000:], "seconds": seconds}
    import csv

    with open(folder / "out" / "scale.csv", newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    return {"seconds": seconds, "status": row["status"], "peak_rss_gb": float(row["peak_rss_mb"]) * 2**20 / GB,
            "objective": float(row["objective"]), "output": proc.stdout.strip().splitlines()[-3:]}


def write_release(size: str, folder: Path) -> Path:
    """GroupLens ml-20m/25m-format files (ratings.csv, movies.csv) of synthetic data of `size`'s shape."""
    import numpy as np
    import pandas as pd

    from tuner_app.data import SyntheticSpec, make_synthetic

    users, titles, ratings = SIZES[size]
    data = make_synthetic(SyntheticSpec(users=users, movies=titles, ratings=ratings, seed=0))
    release = folder / f"ml-{size}"
    release.mkdir(parents=True, exist_ok=True)
    movie_ids = np.arange(1, len(data.item_catalog) + 1)
    pd.DataFrame({"movieId": movie_ids, "title": data.item_catalog, "genres": data.items.columns["genres"]}
                 ).to_csv(release / "movies.csv", index=False)
    position = {title: i for i, title in enumerate(data.item_catalog.tolist())}
    rated = np.array([position[t] for t in data.item_id.tolist()]) + 1
    pd.DataFrame({"userId": data.user_id.astype(np.int64), "movieId": rated, "rating": data.user_rating,
                  "timestamp": data.timestamp}).to_csv(release / "ratings.csv", index=False)
    return release


def peak_rss_bytes() -> int:
    """This process's peak resident memory since it started its program: /proc's VmHWM.

    Not `ru_maxrss`: Linux keeps that across execve, so a child started by a parent that has
    grown to a GB (TensorFlow loaded, a release written) reports at least the parent's peak
    (a 1M-line read showed 1.02 GB by `ru_maxrss` and 0.20 GB by VmHWM, in the same run).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def read_release(folder: str) -> dict:
    """`load_grouplens` of a release, in this process: seconds, peak RSS and the arrays' size."""
    import numpy as np
    import pandas  # noqa: F401  (loaded before the RSS at start: the reader imports it)

    from tuner_app.data import load_grouplens

    before = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()
    began = time.perf_counter()
    ratings = load_grouplens(folder)
    seconds = time.perf_counter() - began
    peak = peak_rss_bytes()  # before the np.unique below
    arrays = sum(getattr(ratings, f).nbytes for f in ("user_id", "item_id", "timestamp", "user_rating"))
    strings = sum(sys.getsizeof(s) for s in np.unique(ratings.user_id).tolist())  # the distinct id strings
    return {"lines": len(ratings), "seconds": seconds, "peak_rss_gb": peak / GB, "start_rss_gb": before / GB,
            "arrays_gb": (arrays + strings) / GB, "file_gb": (Path(folder) / "ratings.csv").stat().st_size / GB}


def write_parquet(release: Path, folder: Path, string_ids: bool) -> Path:
    """The release's ratings.csv as a Parquet interactions file: the same rows, with the release's
    integer ids or with string ids ("u123", "sku-456")."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    types = {"userId": pa.int64(), "movieId": pa.int64(), "rating": pa.float32(), "timestamp": pa.int64()}
    table = pcsv.read_csv(release / "ratings.csv", convert_options=pcsv.ConvertOptions(column_types=types))
    if string_ids:
        table = table.set_column(0, "userId", pc.binary_join_element_wise(
            "u", pc.cast(table["userId"], pa.string()), ""))
        table = table.set_column(1, "movieId", pc.binary_join_element_wise(
            "sku-", pc.cast(table["movieId"], pa.string()), ""))
    path = folder / f"interactions-{'string' if string_ids else 'integer'}-ids.parquet"
    pq.write_table(table, path)
    return path


def read_parquet(path: str) -> dict:
    """`--data interactions.parquet` read as a search reads it, in this process: as `read_release`."""
    import numpy as np
    import pandas  # noqa: F401  (loaded before the RSS at start: the reader imports them)
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    from tuner_app.data import load_ratings, parse_data_arg

    before = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()
    began = time.perf_counter()
    ratings = load_ratings(parse_data_arg(path))
    seconds = time.perf_counter() - began
    peak = peak_rss_bytes()
    arrays = sum(getattr(ratings, f).nbytes for f in ("user_id", "item_id", "timestamp", "user_rating"))
    strings = sum(sys.getsizeof(s) for s in np.unique(ratings.user_id).tolist())
    return {"lines": len(ratings), "seconds": seconds, "peak_rss_gb": peak / GB, "start_rss_gb": before / GB,
            "arrays_gb": (arrays + strings) / GB, "file_gb": Path(path).stat().st_size / GB}


def run_readers(release: Path, folder: Path, rounds: int = READER_ROUNDS) -> dict[str, dict]:
    """The GroupLens reader on `release` and the Parquet reader on the same rows, each in a fresh process,
    `rounds` times in turn (G, P, P', G, P, P', ...): each reader's median run, and its seconds over
    GroupLens's taken round by round (`time_ratio`, the median), since this VM's speed drifts."""
    runs = {"GroupLens ratings.csv": ("--read", str(release))}
    for string_ids in (False, True):
        path = write_parquet(release, folder, string_ids)
        runs[f"Parquet, {'string' if string_ids else 'integer'} ids"] = ("--read-parquet", str(path))
    measured: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (flag, path) in runs.items():
            out = folder / "reader.json"
            subprocess.run([sys.executable, "-m", "benchmarks.scale", flag, path, "--json", str(out)], check=True)
            got = json.loads(out.read_text())
            measured[name].append(got)
            print(f"{name}: {got['seconds']:.1f} s, peak {got['peak_rss_gb']:.2f} GB", file=sys.stderr, flush=True)
    base = measured["GroupLens ratings.csv"]
    results = {}
    for name, runs_of in measured.items():
        by_time = sorted(runs_of, key=lambda run: run["seconds"])
        ratios = [run["seconds"] / ref["seconds"] for run, ref in zip(runs_of, base, strict=True)]
        results[name] = {**by_time[len(by_time) // 2], "rounds": len(runs_of),
                         "seconds_range": (by_time[0]["seconds"], by_time[-1]["seconds"]),
                         "peak_rss_gb": statistics.median(run["peak_rss_gb"] for run in runs_of),
                         "time_ratio": statistics.median(ratios)}
    return results


def report_readers(readers: dict[str, dict], files: str) -> str:
    from benchmarks.report import format_columns, verdict

    base = readers["GroupLens ratings.csv"]
    rows = []
    for name, got in readers.items():
        above = got["peak_rss_gb"] - got["start_rss_gb"]
        ok = got["time_ratio"] <= 1.0 and got["peak_rss_gb"] <= base["peak_rss_gb"]
        judged = verdict(ok) if base["lines"] >= READER_TARGET_LINES else "info"
        low, high = got["seconds_range"]
        rows.append((name, f"{got['file_gb']:.2f} GB", f"{got['seconds']:.1f} s ({low:.1f}-{high:.1f})",
                     f"{got['time_ratio']:.2f}x", f"{got['peak_rss_gb']:.2f} GB",
                     f"{above:.2f} GB", f"{got['start_rss_gb']:.2f} GB", f"{got['arrays_gb']:.2f} GB",
                     f"{above / got['arrays_gb']:.2f}x", "yardstick" if got is base else judged))
    header = ("reader", "file", "seconds (min-max)", "time / GroupLens", "peak RSS", "above start",
              "start (Python, numpy, pandas, pyarrow)", "arrays returned", "above/arrays", "<= GroupLens")
    return (f"Readers on {files} ({base['lines']:,} ratings), each in a fresh process, {base['rounds']} rounds in "
            "turn: the median run's figures (peak RSS: the median), time / GroupLens the median of the rounds' "
            "ratios; GB = 10^9 bytes:\n"
            + format_columns(rows, header)
            + "\nTarget (issue 27), at ml-25m's 25M ratings: a Parquet read costs at most the GroupLens read's seconds "
              "and peak RSS (smaller sizes are information: fixed costs weigh more there).")


def child(args: argparse.Namespace) -> int:
    if args.read:
        Path(args.json).write_text(json.dumps(read_release(args.read)), encoding="utf-8")
        return 0
    if args.read_parquet:
        Path(args.json).write_text(json.dumps(read_parquet(args.read_parquet)), encoding="utf-8")
        return 0
    data = args.data_arg
    result = measure(data, args.validation_rows, args.optimizer, args.layers, args.profile)
    Path(args.json).write_text(json.dumps(result), encoding="utf-8")
    return 0


def run_child(data: str, validation_rows: int, optimizer: str, layers: str, folder: Path,
              profile: bool = False) -> dict:
    out = folder / f"child-{abs(hash((data, optimizer, layers)))}.json"
    command = [sys.executable, "-m", "benchmarks.scale", "--child", data, "--json", str(out),
               "--validation-rows", str(validation_rows), "--optimizer", optimizer, "--layers", layers,
               *(["--profile"] if profile else [])]
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.scale: {data} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["process_seconds"] = time.perf_counter() - began
    return result


def report(args, machine: str, start_load: float, references: dict[str, dict], sizes: dict[str, dict],
           search: dict | None) -> str:
    from benchmarks.profile import describe
    from benchmarks.report import format_columns, verdict
    from benchmarks.timing import busy_warning

    lines = [f"Machine: {machine}", *busy_warning(start_load),
             "One trial each: batch 2048, learning rate 0.002, logQ, cosine, temperature 0.26; synthetic data of "
             f"each release's shape; validation on a fixed sample of {args.validation_rows:,} rows; ml-100k: the "
             "real files (the yardstick for rows per second). Memory in GB of 10^9 bytes.", ""]
    rows = []
    for name, got in [*references.items(), *sizes.items()]:
        ratio = got["rows_per_second"] / references[f"ml-100k {got['towers']}"]["rows_per_second"]
        ten = name.startswith("10m")
        rows.append((
            name.split()[0], got["optimizer"], got["towers"], f"{got['ratings']:,}", f"{got['load_seconds']:.1f} s", f"{got['setup_seconds']:.1f} s",
            f"{got['epoch_median']:.1f} s", f"{got['rows_per_second'] / 1000:.0f}k ({ratio:.2f}x)",
            f"{got['epoch_over_floor']:.2f}x", f"{got['validation_seconds']:.1f} s", f"{got['peak_rss_gb']:.2f} GB",
            verdict(got["setup_seconds"] <= TARGETS["setup_seconds"] and ratio >= TARGETS["rows_per_second_ratio"]
                    and got["epoch_over_floor"] <= TARGETS["epoch_over_floor"]
                    and got["peak_rss_gb"] <= TARGETS["peak_rss_gb"]) if ten else "info",
        ))
    header = ("size", "optimizer", "towers", "ratings", "make/read data", "setup", "epoch", "rows/s (vs ml-100k)", "epoch/floor",
              "validation pass", "peak RSS", "10m targets")
    lines.append(format_columns(rows, header))
    lines.append("")
    lines.append(f"10m targets: setup <= {TARGETS['setup_seconds']:.0f} s, rows/s >= "
                 f"{TARGETS['rows_per_second_ratio']}x ml-100k's, epoch <= {TARGETS['epoch_over_floor']}x its floor, "
                 f"peak RSS <= {TARGETS['peak_rss_gb']:.0f} GB.")
    for name, got in [*references.items(), *sizes.items()]:
        shown = ", ".join(f"{k} {v:.1f} s" for k, v in got["setup_parts"].items())
        epochs = " / ".join(f"{e:.1f}/{f:.1f}" for e, f in zip(got["epoch_seconds"], got["floor_seconds"], strict=True))
        lines.append(f"{name} setup: {shown}; epoch/floor seconds {epochs}; "
                     f"top-100 after {EPOCHS} epochs {got['top_100']:.4f} ({got['titles']:,} titles, {got['users']:,} users)")
        if got.get("profile"):
            lines.append(f"{name} profile: {describe(got['profile'])}")
    if search is not None:
        ok = "error" not in search and search["peak_rss_gb"] <= SEARCH_RSS_GB and search["status"] == "COMPLETED"
        lines.append("")
        lines.append(f"search at {args.search}: " + (
            f"{search['status']} in {search['seconds']:.0f} s, peak RSS {search['peak_rss_gb']:.2f} GB "
            f"(target <= {SEARCH_RSS_GB:.0f} GB: {verdict(ok)}), val_top_100 {search['objective']:.4f} on the sample"
            if "error" not in search else f"failed after {search['seconds']:.0f} s: {search['error']}"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                        help=f"the ml-100k folder, the rows-per-second yardstick (default: {DEFAULT_DATA})")
    parser.add_argument("--sizes", nargs="+", default=["1m", "10m"], choices=list(SIZES),
                        help="sizes to measure one trial at (default: 1m 10m)")
    parser.add_argument("--optimizers", nargs="+", default=["adam", "lazy_adam"], choices=["adam", "lazy_adam"],
                        help="one trial per size with each (default: adam lazy_adam); ml-100k and --search "
                             "use the first and the last")
    parser.add_argument("--towers", nargs="+", default=[DEFAULT_TOWERS],
                        help=f"dense layers of both towers, one trial each (default: {DEFAULT_TOWERS})")
    parser.add_argument("--optimizer", default="adam", help=argparse.SUPPRESS)
    parser.add_argument("--layers", default=DEFAULT_TOWERS, help=argparse.SUPPRESS)
    parser.add_argument("--search", choices=list(SIZES), default=None,
                        help="also run a real 2-epoch search at this size (e.g. 25m) and read its peak memory")
    parser.add_argument("--validation-rows", type=int, default=50_000, help="validation sample (default 50000)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/<date>-scale.txt")
    parser.add_argument("--quick", action="store_true", help="smoke test: ml-1m only, no file written")
    parser.add_argument("--reader", choices=list(SIZES), default=None,
                        help="also write ml-25m-format files of this size and time the GroupLens reader on them")
    parser.add_argument("--reader-release", type=Path, default=None, metavar="FOLDER",
                        help="time the reader on this ml-20m/25m-format folder (a real release, or one an "
                             "earlier --reader wrote) instead of writing one")
    parser.add_argument("--readers-only", action="store_true",
                        help="run the readers alone (with --reader or --reader-release): no trial, no ml-100k")
    parser.add_argument("--profile", action="store_true",
                        help="also trace 200 training steps of each size and say where their op time goes "
                             "(needs xprof: pip install -e \".[bench]\")")
    parser.add_argument("--child", dest="data_arg", help=argparse.SUPPRESS)
    parser.add_argument("--read", help=argparse.SUPPRESS)
    parser.add_argument("--read-parquet", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.data_arg or args.read or args.read_parquet:
        return child(args)
    if args.readers_only:
        if not (args.reader or args.reader_release):
            parser.error("--readers-only needs --reader SIZE or --reader-release FOLDER")
        args.sizes, args.towers, args.search = [], [], None
    elif args.data is None:
        parser.error(f"no data at {DEFAULT_DATA}; pass --data path/to/ml-100k")
    if args.quick:
        args.sizes, args.search, args.optimizers = ["1m"], None, args.optimizers[:1]
    machine, start_load = machine_at_start()
    with tempfile.TemporaryDirectory(prefix="scale-") as folder:
        references = {f"ml-100k {layers}": run_child(str(args.data), args.validation_rows, args.optimizers[0],
                                                      layers, Path(folder)) for layers in args.towers}
        sizes = {}
        for size in args.sizes:
            users, titles, ratings = SIZES[size]
            for optimizer, layers in itertools.product(args.optimizers, args.towers):
                key = f"{size} {optimizer} {layers}"
                sizes[key] = got = run_child(f"synthetic:users={users},movies={titles},ratings={ratings},seed=0",
                                             args.validation_rows, optimizer, layers, Path(folder), args.profile)
                parts = ", ".join(f"{k} {v:.1f} s" for k, v in got["setup_parts"].items())
                print(f"{key}: setup {got['setup_seconds']:.1f} s ({parts}), epoch {got['epoch_median']:.1f} s, "
                      f"{got['epoch_over_floor']:.2f}x its floor, peak {got['peak_rss_gb']:.2f} GB",
                      file=sys.stderr, flush=True)
        search = (search_at(args.search, args.validation_rows, args.optimizers[-1], Path(folder))
                  if args.search else None)
        readers = None
        if args.reader or args.reader_release:
            release = args.reader_release or write_release(args.reader, Path(folder))
            readers = run_readers(Path(release), Path(folder))
    if args.readers_only:
        from benchmarks.timing import busy_warning

        text = "\n".join([f"Machine: {machine}", *busy_warning(start_load)])
    else:
        text = report(args, machine, start_load, references, sizes, search)
    if readers is not None:
        files = f"the files in {args.reader_release}" if args.reader_release else f"ml-{args.reader}-format files"
        text += "\n\n" + report_readers(readers, files)
    publish(text, args.out, "scale", args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
