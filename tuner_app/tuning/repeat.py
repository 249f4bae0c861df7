"""`repeat`: train one trial's configuration again with other seeds, to see its spread.

A search picks its winner on one validation set, among many noisy trials; the
winner's score is optimistic. Retraining the winning configuration from
scratch with several seeds (initial weights and shuffling) shows how much of
its lead is the configuration and how much was luck. Each run keeps its best
validated epoch, like a trial, and is scored on the validation rows and, when
the split holds some back, on the held-back rows no trial was selected on.

The search's identity (`results/<name>/search.json`, `store.identity`) says
which space file text, data and split to use, so the runs match the search
exactly.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from tuner_app.data.records import DataSpec, SyntheticSpec
from tuner_app.errors import SearchMismatch
from tuner_app.report.results_csv import choose_trial
from tuner_app.space.config import ModelConfig, TrainingConfig
from tuner_app.space.validation import parse_space
from tuner_app.store import atomic
from tuner_app.store.identity import read_identity
from tuner_app.store.layout import SearchPaths
from tuner_app.store.records import TrialRecord


@dataclass(frozen=True)
class SeedRun:
    seed: int
    best_epoch: int
    validation: dict[str, float]
    holdout: dict[str, float]


def _data_spec(saved: dict) -> DataSpec:
    synthetic = saved.get("synthetic")
    return DataSpec(saved["kind"], saved.get("path"), saved.get("tfds_name", "movielens/100k"),
                    SyntheticSpec(**synthetic) if synthetic else None)


def repeat_trial(csv_path: str | Path, trial: str, seeds: list[int], data_spec: DataSpec | None = None,
                 say=print) -> list[SeedRun]:
    """Retrains `trial` of the search behind `csv_path` once per seed; writes `<name>.repeats.csv`."""
    csv_path = Path(csv_path)
    row = choose_trial(csv_path, trial)
    paths = SearchPaths.of_csv(csv_path)
    state = read_identity(paths)
    spec = parse_space(state["space_text"], state["space_file"])
    data_spec = data_spec or _data_spec(state["data_spec"])
    record = TrialRecord.load(paths.record(row["trial_id"]))

    from tuner_app.data.sources import load_ratings
    from tuner_app.data.split import split_rows
    from tuner_app.model.runtime import load_tensorflow

    ratings = load_ratings(data_spec)
    if ratings.fingerprint != state["data_fingerprint"]:
        raise SearchMismatch(f"--data: {ratings.description} is not the data search {spec.name} ran on "
                             f"({state['data']}); give that data with --data.")
    tf = load_tensorflow()
    from tuner_app.model import features
    from tuner_app.store.vocabulary import keep_saved_word_table
    from tuner_app.tuning.trainer import EpochPlan, Trainer

    spec, _ = spec.for_data(ratings.features, ratings.description)
    data = features.prepare(ratings, *split_rows(spec.split, len(ratings), timestamps=ratings.timestamp),
                            derived=spec.derived_features)
    data = data.with_vocab(keep_saved_word_table(paths.vocabulary, data.vocab))
    config = ModelConfig.from_dict(record.config)
    training = TrainingConfig(**record.training)
    runs = []
    for seed in seeds:
        tf.keras.utils.set_random_seed(seed)
        trainer = Trainer(data, spec.objective, spec.training.validation_freq,
                          paths.repeats_dir(row["trial_id"]),
                          eval_batch_size=spec.training.eval_batch_size,
                          exclude_seen=spec.evaluation.exclude_seen, shuffle_seed=seed,
                          keep_last_checkpoint=False)
        done = trainer.run(f"seed_{seed}", config, EpochPlan(epochs=record.target_epochs), training)
        holdout = trainer.evaluate_best(f"seed_{seed}", trainer.holdout) if trainer.holdout is not None else {}
        runs.append(SeedRun(seed, done.best_epoch, dict(done.best), holdout))
        shown = f"seed {seed}: {spec.objective} {done.best[spec.objective]:.4f} at epoch {done.best_epoch}"
        if holdout:
            shown += f", held back {holdout[spec.objective]:.4f}"
        say(shown)
        tf.keras.backend.clear_session()
    _write_runs(csv_path, row["trial_id"], runs)
    return runs


def _write_runs(csv_path: Path, trial_id: str, runs: list[SeedRun]) -> None:
    import csv
    import io

    names = sorted({k for r in runs for k in r.validation})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial_id", "seed", "best_epoch", *names, *(f"holdout_{n[4:]}" for n in names)])
    for r in runs:
        writer.writerow([trial_id, r.seed, r.best_epoch, *(f"{r.validation.get(n, '')}" for n in names),
                         *(f"{r.holdout.get(n, '')}" for n in names)])
    atomic.write_text_atomic(SearchPaths.of_csv(csv_path).repeats, out.getvalue())


def summarize(runs: list[SeedRun], metric: str) -> str:
    """'0.4712 ± 0.0031 (validation), 0.4650 ± 0.0040 (held back)' over the runs."""
    def spread(values: list[float]) -> str:
        if not values:
            return "n/a"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} ± {sd:.4f} (min {min(values):.4f}, max {max(values):.4f})"

    text = f"{metric} over {len(runs)} seeds: validation {spread([r.validation[metric] for r in runs])}"
    held = [r.holdout[metric] for r in runs if metric in r.holdout]
    return text + (f"; held back {spread(held)}" if held else "")

