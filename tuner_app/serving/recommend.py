"""`recommend`: the items an exported model gives a user, by their own ids (with their text where there is some)."""

from __future__ import annotations

from pathlib import Path

from tuner_app.errors import ResultsError
from tuner_app.store import atomic
from tuner_app.store.layout import MODEL_DESCRIPTION_FILE, MODEL_ITEMS_FILE, MODEL_USERS_FILE


def is_known_user(model_dir: str | Path, user: str) -> bool:
    """Whether `user` was in the training data (unknown users share one untrained embedding)."""
    path = Path(model_dir) / MODEL_USERS_FILE
    return not path.exists() or str(user) in set(path.read_text().split())


def recommend(model_dir: str | Path, user: str, k: int = 10,
              timestamp: int | None = None) -> list[tuple[str, str | None, float]]:
    """The top-k items the exported model recommends to `user`: (item id, its text or None, score)."""
    model_dir = Path(model_dir)
    info_path = model_dir / MODEL_DESCRIPTION_FILE
    if not info_path.exists():
        raise ResultsError(f"{model_dir}: is not a model exported by tuner_app (no {MODEL_DESCRIPTION_FILE}); "
                           "create one with `python -m tuner_app export`.")
    info = _read_description(info_path)
    if k > info["k"]:
        raise ResultsError(f"--k must be at most {info['k']} for {model_dir} (exported with k={info['k']}); got {k}.")
    if timestamp is not None and info.get("default_timestamp") is None:
        raise ResultsError(f"--timestamp: {model_dir} was trained on data without timestamps, so the time of a query "
                           "changes nothing; leave --timestamp out.")
    texts = read_item_texts(model_dir / MODEL_ITEMS_FILE)
    from tuner_app.model.runtime import load_tensorflow

    tf = load_tensorflow()
    when = (info.get("default_timestamp") or 0) if timestamp is None else timestamp
    try:
        loaded = tf.saved_model.load(str(model_dir))
        scores, items = loaded({"user_id": tf.constant([str(user)]), "timestamp": tf.constant([when], tf.int64)})
    except Exception as exc:  # noqa: BLE001 (TensorFlow's reader raises IndexError, OpError, ValueError...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ResultsError(f"{model_dir}: the SavedModel cannot be loaded ({first}); its files are missing or "
                           "damaged: export the trial again.") from None
    ids = [i.decode() for i in items[0, :k].numpy()]
    return [(i, texts.get(i), float(s)) for i, s in zip(ids, scores[0, :k].numpy(), strict=True)]


def _read_description(path: Path) -> dict:
    """An export's `trial.json`, with the fields `recommend` needs checked (`default_timestamp` is null for data
    without timestamps)."""
    fix = "export the trial again"
    info = atomic.read_json(path, "the exported model's description", fix, expect=dict)
    for key, required in (("k", True), ("default_timestamp", False)):
        value = info.get(key)
        if (value is not None or required) and (isinstance(value, bool) or not isinstance(value, int)):
            raise ResultsError(f"{path}: the exported model's description must give {key} as an integer; found "
                               f"{value!r}; {fix}.")
    return info


def read_item_texts(path: Path) -> dict[str, str]:
    """Item id -> text from an export's `items.tsv` (empty where items have no text of their own)."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if "\t" in line)
