"""Taking a trial away: a SavedModel that maps a raw user id and timestamp to titles.

`export_trial` rebuilds a trial's model from its record, restores the weights
of its best validated epoch (no retraining), and saves a TFRS `BruteForce`
index over every unique title on top of the query tower, with the string
lookup in front of it (`serving.index`). The SavedModel needs neither tuner_app
nor the data:

    loaded = tf.saved_model.load("models/deep")
    scores, titles = loaded({"user_id": tf.constant(["42"]), "timestamp": tf.constant([893286638])})

`trial.json` beside it describes the trial; `serving.recommend` reads both.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import time
from pathlib import Path

from tuner_app.errors import Interrupted, ResultsError, StopRequested
from tuner_app.report.results_csv import choose_trial
from tuner_app.space.config import ModelConfig
from tuner_app.store import atomic, outputs
from tuner_app.store.layout import (
    EXPORT_K,
    MODEL_DESCRIPTION_FILE,
    MODEL_FORMAT,
    MODEL_ITEMS_FILE,
    MODEL_USERS_FILE,
    SearchPaths,
)
from tuner_app.store.records import TrialRecord
from tuner_app.store.vocabulary import Vocabulary, load_vocabulary


def write_item_texts(path: Path, ids, texts) -> None:
    """`items.tsv`: each item id and its text, a line each (tabs and newlines in either become spaces)."""
    def clean(value) -> str:
        return " ".join(str(value).split())

    atomic.write_text_atomic(path, "".join(f"{clean(i)}\t{clean(t)}\n" for i, t in zip(ids, texts, strict=True)))


def export_trial(csv_path: str | Path, trial: str, out: str | Path) -> dict:
    """Saves trial `trial` of the search behind `csv_path` as a SavedModel in `out`.

    `out` must be new, empty, or a previous export holding nothing else
    (`store.outputs.check_export_target`): it is replaced in one step once the new
    model is complete, so that an interrupted export leaves the previous one as it was.

    Returns:
        The description written to `out/trial.json`.

    Raises:
        ResultsError: no such trial, no checkpoint, no search state beside the CSV, or
            `out` is a file, one of the search's own files, or a folder that is not an export.
        Interrupted: Ctrl-C or SIGTERM; `out` is as it was.
    """
    csv_path = Path(csv_path)
    paths = SearchPaths.of_csv(csv_path)
    out = outputs.check_output(out, "--out", {csv_path: f"the results CSV {csv_path}", **outputs.search_files(paths)},
                               kind="folder")
    outputs.check_export_target(out)
    row = choose_trial(csv_path, trial)
    record_path = paths.record(row["trial_id"])
    if not record_path.exists():
        raise ResultsError(f"{record_path}: not found; the trial's state is needed to export it.")
    record = TrialRecord.load(record_path)
    if not record.best_checkpoint:
        raise ResultsError(f"{record_path}: trial {row['trial_id']} has no saved weights to export.")
    vocab = load_vocabulary(paths.vocabulary)
    staging = outputs.staging_beside(out, "export")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with outputs.InterruptWatch() as watch:
            description = _write_export(csv_path, row, record, vocab, paths, staging)
            watch.check()  # a Ctrl-C that TensorFlow's writer swallowed still stops here
        outputs.check_export_target(out)  # still only a previous export: nothing else is lost
        with outputs.held_signals() as caught:
            previous = outputs.swap_in(staging, out)
            if caught:  # interrupted while the new model went in: the previous one goes back
                outputs.swap_back(previous, out)
                raise StopRequested(signal.Signals(caught[0]).name)
        outputs.discard(previous)
    except StopRequested as exc:
        raise Interrupted(f"export interrupted ({exc}); {out} is as it was before.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return description


def _write_export(csv_path: Path, row: dict, record: TrialRecord, vocab: Vocabulary, paths: SearchPaths,
                  staging: Path) -> dict:
    """Writes the model and its description into the new folder `staging`."""
    from tuner_app.model.runtime import load_tensorflow

    tf = load_tensorflow()
    from tuner_app.model.build import build_model
    from tuner_app.serving.index import build_index
    from tuner_app.tuning.checkpoints import restore_checkpoint

    config = ModelConfig.from_dict(record.config)
    # logQ correction only shapes the training loss; the exported towers do not need it.
    model = build_model(vocab, dataclasses.replace(config, logq_correction=False))
    weights = paths.trial_dir(row["trial_id"]) / record.best_checkpoint
    try:
        restore_checkpoint(model, weights, with_optimizer=False)
    except Exception as exc:  # noqa: BLE001 (TensorFlow's reader raises IndexError, OpError, ValueError...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ResultsError(f"{weights}: trial {row['trial_id']}'s saved weights are missing or damaged ({first}); "
                           "it cannot be exported as trained: `repeat` retrains its configuration, or export "
                           "another trial.") from None
    # The newest rating's timestamp, the default query time; data without time has none.
    latest = int(vocab.timestamp_buckets[-1]) if vocab.has_time else None
    k = min(EXPORT_K, vocab.num_titles)
    index = build_index(vocab, model, k, latest or 0)

    description = {
        "search": paths.name,
        "results_csv": str(csv_path),
        "trial_id": row["trial_id"],
        "objective_name": row["objective_name"],
        "objective": row["objective"],
        "best_epoch": record.best_epoch,
        "metrics": record.best,
        "config": record.config,
        "training": record.training,
        "k": k,
        "default_timestamp": latest,
        "format": MODEL_FORMAT,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": {"user_id": "string [batch]",
                   "timestamp": "int64 [batch], seconds" if vocab.has_time else "int64 [batch], ignored (no time)"},
        "outputs": "(scores float32 [batch, k], item ids string [batch, k])",
    }
    # Written whole under a staging name, then put in place: an interrupted export
    # leaves the previous model (or none), never half of one.
    tf.saved_model.save(index, str(staging))
    atomic.write_text_atomic(staging / MODEL_USERS_FILE, "\n".join(vocab.user_ids.astype(str)) + "\n")
    if vocab.item_texts is not None:
        write_item_texts(staging / MODEL_ITEMS_FILE, vocab.titles, vocab.item_texts)
    atomic.write_json_atomic(staging / MODEL_DESCRIPTION_FILE, description)
    return description
