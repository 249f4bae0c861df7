"""Taking a trial away: a SavedModel that maps a raw user id and timestamp to titles.

`export_trial` rebuilds a trial's model from its record, restores the weights
of its best validated epoch (no retraining), and saves a TFRS `BruteForce`
index over every unique title on top of the query tower, with the string
lookup in front of it. The SavedModel needs neither tuner_app nor the data:

    loaded = tf.saved_model.load("models/deep")
    scores, titles = loaded({"user_id": tf.constant(["42"]), "timestamp": tf.constant([893286638])})

`trial.json` beside it describes the trial. `recommend` reads both.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from tuner_app import reporter, storage
from tuner_app.errors import ResultsError

TRIAL_FILE = "trial.json"
USERS_FILE = "known_users.txt"
VOCABULARY_FILE = "vocabulary.npz"
#: How many titles the exported index returns; `recommend --k` takes the first k.
EXPORT_K = 100


def search_dir_of(csv_path: Path) -> Path:
    return csv_path.parent / csv_path.stem


def save_vocabulary(search_dir: Path, vocab) -> None:
    """Stores the search's vocabularies, so a trial can be exported without the data."""
    search_dir.mkdir(parents=True, exist_ok=True)
    target = search_dir / VOCABULARY_FILE
    partial = search_dir / f".{VOCABULARY_FILE}.tmp.npz"
    np.savez(partial, user_ids=vocab.user_ids.astype(str), titles=vocab.titles.astype(str),
             timestamp_buckets=vocab.timestamp_buckets, timestamp_mean=vocab.timestamp_mean,
             timestamp_variance=vocab.timestamp_variance, title_tokens=vocab.title_tokens,
             word_table_size=vocab.word_table_size)
    partial.replace(target)


def load_vocabulary(search_dir: Path):
    from tuner_app.features import Vocabulary

    path = search_dir / VOCABULARY_FILE
    if not path.exists():
        raise ResultsError(f"{path}: not found; the search state folder {search_dir} is needed to export "
                           "(only searches run by this version of tuner_app store it).")
    with np.load(path) as saved:
        return Vocabulary(
            user_ids=saved["user_ids"].astype(object), titles=saved["titles"].astype(object),
            timestamp_buckets=saved["timestamp_buckets"], timestamp_mean=float(saved["timestamp_mean"]),
            timestamp_variance=float(saved["timestamp_variance"]), title_tokens=saved["title_tokens"],
            word_table_size=_word_table_size(saved),
        )


def _word_table_size(saved) -> int:
    # Searches saved before `word_table_size` existed stored "max_tokens" (10,000), and
    # their checkpoints hold a table of that many rows.
    return int(saved["word_table_size"] if "word_table_size" in saved else saved["max_tokens"])


def keep_saved_word_table(search_dir: Path, data):
    """`data` (a `features.SplitData`) with the word-table size the search was saved with.

    A resumed search rebuilds its vocabularies from the data; its checkpoints
    need the table size it started with (10,000 rows for searches begun
    before tables were cut to the vocabulary). A new search keeps its own.
    """
    path = search_dir / VOCABULARY_FILE
    if not path.exists():
        return data
    with np.load(path) as saved:
        size = _word_table_size(saved)
    if size == data.vocab.word_table_size:
        return data
    return dataclasses.replace(data, vocab=dataclasses.replace(data.vocab, word_table_size=size))


def choose_trial(csv_path: Path, trial: str) -> dict:
    """The CSV row of `trial` ("best" for rank 1); it must be a completed trial."""
    frame = reporter.read_results(csv_path)
    if trial == "best":
        ranked = frame[frame["rank"] == 1]
        if ranked.empty:
            raise ResultsError(f"{csv_path}: has no completed trial to export.")
        row = ranked.iloc[0]
    else:
        matches = frame[frame["trial_id"] == trial]
        if matches.empty:
            known = ", ".join(frame["trial_id"].head(10))
            raise ResultsError(f"{csv_path}: has no trial {trial!r}; trials include {known}; or use --trial best.")
        row = matches.iloc[0]
        if row["status"] != "COMPLETED":
            raise ResultsError(f"{csv_path}: trial {trial} is {row['status']}, not COMPLETED; it has no model to export.")
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.to_dict().items()}


def export_trial(csv_path: str | Path, trial: str, out: str | Path) -> dict:
    """Saves trial `trial` of the search behind `csv_path` as a SavedModel in `out`.

    Returns:
        The description written to `out/trial.json`.

    Raises:
        ResultsError: no such trial, no checkpoint, or no search state beside the CSV.
    """
    csv_path, out = Path(csv_path), Path(out)
    row = choose_trial(csv_path, trial)
    search_dir = search_dir_of(csv_path)
    record_path = search_dir / f"trial_{row['trial_id']}" / "record.json"
    if not record_path.exists():
        raise ResultsError(f"{record_path}: not found; the trial's state is needed to export it.")
    record = storage.read_json(record_path, "the trial record")
    if not record.get("best_checkpoint"):
        raise ResultsError(f"{record_path}: trial {row['trial_id']} has no saved weights to export.")

    from tuner_app.tfenv import load_tensorflow

    tf = load_tensorflow()
    vocab = load_vocabulary(search_dir)
    from tuner_app.hypermodel import ModelConfig, build_model
    from tuner_app.serving import build_index
    from tuner_app.training import restore_checkpoint

    config = ModelConfig.from_dict(record["config"])
    # logQ correction only shapes the training loss; the exported towers do not need it.
    model = build_model(vocab, ModelConfig(**{**config.__dict__, "logq_correction": False}))
    restore_checkpoint(model, record_path.parent / record["best_checkpoint"], with_optimizer=False)
    latest = int(vocab.timestamp_buckets[-1])  # the newest rating's timestamp
    index = build_index(vocab, model, min(EXPORT_K, vocab.num_titles), latest)

    description = {
        "search": csv_path.stem,
        "results_csv": str(csv_path),
        "trial_id": row["trial_id"],
        "objective_name": row["objective_name"],
        "objective": row["objective"],
        "best_epoch": record["best_epoch"],
        "metrics": record["best"],
        "config": record["config"],
        "training": record.get("training", {}),
        "k": min(EXPORT_K, vocab.num_titles),
        "default_timestamp": latest,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": {"user_id": "string [batch]", "timestamp": "int64 [batch], seconds"},
        "outputs": "(scores float32 [batch, k], titles string [batch, k])",
    }
    out.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(index, str(out))
    storage.write_text_atomic(out / USERS_FILE, "\n".join(vocab.user_ids.astype(str)) + "\n")
    storage.write_json_atomic(out / TRIAL_FILE, description)
    return description


def is_known_user(model_dir: str | Path, user: str) -> bool:
    """Whether `user` was in the training data (unknown users share one untrained embedding)."""
    path = Path(model_dir) / USERS_FILE
    return not path.exists() or str(user) in set(path.read_text().split())


def recommend(model_dir: str | Path, user: str, k: int = 10, timestamp: int | None = None) -> list[tuple[str, float]]:
    """The top-k titles the exported model recommends to `user`."""
    model_dir = Path(model_dir)
    info_path = model_dir / TRIAL_FILE
    if not info_path.exists():
        raise ResultsError(f"{model_dir}: is not a model exported by tuner_app (no {TRIAL_FILE}); "
                           "create one with `python -m tuner_app export`.")
    info = storage.read_json(info_path, "the exported model's description")
    if k > info["k"]:
        raise ResultsError(f"--k must be at most {info['k']} for {model_dir} (exported with k={info['k']}); got {k}.")
    from tuner_app.tfenv import load_tensorflow

    tf = load_tensorflow()
    loaded = tf.saved_model.load(str(model_dir))
    when = info["default_timestamp"] if timestamp is None else timestamp
    scores, titles = loaded({"user_id": tf.constant([str(user)]), "timestamp": tf.constant([when], tf.int64)})
    return [(t.decode(), float(s)) for t, s in zip(titles[0, :k].numpy(), scores[0, :k].numpy())]
