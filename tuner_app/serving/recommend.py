"""`recommend`: the titles an exported model gives a user."""

from __future__ import annotations

from pathlib import Path

from tuner_app.errors import ResultsError
from tuner_app.store import atomic
from tuner_app.store.layout import MODEL_DESCRIPTION_FILE, MODEL_USERS_FILE


def is_known_user(model_dir: str | Path, user: str) -> bool:
    """Whether `user` was in the training data (unknown users share one untrained embedding)."""
    path = Path(model_dir) / MODEL_USERS_FILE
    return not path.exists() or str(user) in set(path.read_text().split())


def recommend(model_dir: str | Path, user: str, k: int = 10, timestamp: int | None = None) -> list[tuple[str, float]]:
    """The top-k titles the exported model recommends to `user`."""
    model_dir = Path(model_dir)
    info_path = model_dir / MODEL_DESCRIPTION_FILE
    if not info_path.exists():
        raise ResultsError(f"{model_dir}: is not a model exported by tuner_app (no {MODEL_DESCRIPTION_FILE}); "
                           "create one with `python -m tuner_app export`.")
    info = _read_description(info_path)
    if k > info["k"]:
        raise ResultsError(f"--k must be at most {info['k']} for {model_dir} (exported with k={info['k']}); got {k}.")
    from tuner_app.model.runtime import load_tensorflow

    tf = load_tensorflow()
    when = info["default_timestamp"] if timestamp is None else timestamp
    try:
        loaded = tf.saved_model.load(str(model_dir))
        scores, titles = loaded({"user_id": tf.constant([str(user)]), "timestamp": tf.constant([when], tf.int64)})
    except Exception as exc:  # noqa: BLE001 (TensorFlow's reader raises IndexError, OpError, ValueError...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ResultsError(f"{model_dir}: the SavedModel cannot be loaded ({first}); its files are missing or "
                           "damaged: export the trial again.") from None
    return [(t.decode(), float(s)) for t, s in zip(titles[0, :k].numpy(), scores[0, :k].numpy(), strict=True)]


def _read_description(path: Path) -> dict:
    """An export's `trial.json`, with the two fields `recommend` needs checked."""
    fix = "export the trial again"
    info = atomic.read_json(path, "the exported model's description", fix, expect=dict)
    for key in ("k", "default_timestamp"):
        if isinstance(info.get(key), bool) or not isinstance(info.get(key), int):
            raise ResultsError(f"{path}: the exported model's description must give {key} as an integer; found "
                               f"{info.get(key)!r}; {fix}.")
    return info
