"""MovieLens from TensorFlow Datasets: the tutorial's own data path.

`tfds.load("movielens/100k-ratings")` downloads the GroupLens zip on first
use. Offline, TFDS retries name resolution for minutes before failing, so
this module checks first whether the data set is already prepared and
whether GroupLens can be reached, and fails in seconds with a way out.
"""

from __future__ import annotations

import hashlib
import socket

import numpy as np

from tuner_app.data.records import Ratings
from tuner_app.errors import DataError

GROUPLENS_HOST = "files.grouplens.org"


def _reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_tfds(name: str = "movielens/100k") -> Ratings:
    """Loads `<name>-ratings` and `<name>-movies` with TFDS, in the tutorial's schema.

    Raises:
        DataError: the data set is not prepared locally and GroupLens cannot be reached,
            or TFDS does not know the name.
    """
    import tensorflow_datasets as tfds

    ratings_name, movies_name = f"{name}-ratings", f"{name}-movies"
    try:
        builders = [tfds.builder(ratings_name), tfds.builder(movies_name)]
    except Exception as exc:  # noqa: BLE001 (tfds raises several types for unknown names)
        raise DataError(
            f"--data tfds:{name}: TensorFlow Datasets has no data set {ratings_name!r} ({exc}); "
            "try tfds:movielens/100k, tfds:movielens/1m or tfds:movielens/latest-small."
        ) from None
    if not all(b.is_prepared() for b in builders) and not _reachable(GROUPLENS_HOST):
        raise DataError(
            f"--data tfds:{name}: the data set is not in the TFDS cache and {GROUPLENS_HOST} cannot be "
            "reached to download it; download the zip from https://grouplens.org/datasets/movielens/ "
            "and pass its folder or .zip with --data PATH."
        )
    try:
        ratings = tfds.load(ratings_name, split="train")
        movies = tfds.load(movies_name, split="train")
    except Exception as exc:  # noqa: BLE001 (whatever TFDS raises becomes one sentence)
        raise DataError(f"--data tfds:{name}: TensorFlow Datasets could not load it ({type(exc).__name__}: {exc}).") from None

    columns = {"user_id": [], "movie_title": [], "timestamp": [], "user_rating": []}
    for batch in tfds.as_numpy(ratings.batch(50_000)):
        for key in columns:
            columns[key].append(batch[key])
    arrays = {key: np.concatenate(parts) for key, parts in columns.items()}
    catalog = np.concatenate([b["movie_title"] for b in tfds.as_numpy(movies.batch(50_000))])
    digest = hashlib.sha256(f"tfds:{ratings_name}:{builders[0].info.version}".encode()).hexdigest()
    return Ratings(
        user_id=np.array([u.decode() for u in arrays["user_id"]], dtype=object),
        movie_title=np.array([t.decode() for t in arrays["movie_title"]], dtype=object),
        timestamp=arrays["timestamp"].astype(np.int64),
        user_rating=arrays["user_rating"].astype(np.float32),
        movie_catalog=np.array([t.decode() for t in catalog], dtype=object),
        description=f"TensorFlow Datasets {ratings_name} {builders[0].info.version}",
        fingerprint=digest,
    )
