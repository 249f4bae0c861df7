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
from tuner_app.data.side import SideFeatures, movie_features, year_of, zip_region
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

    features = builders[0].info.features
    present = {name: key for name, key in _USER_FEATURES.items() if key in features}
    keys = ("user_id", "movie_title", "timestamp", "user_rating", *present.values())
    columns: dict[str, list] = {key: [] for key in keys}
    # Only scalar fields: the ratings' genre lists are ragged and would not batch.
    for batch in tfds.as_numpy(ratings.map(lambda row: {k: row[k] for k in keys}).batch(50_000)):
        for key in keys:
            columns[key].append(batch[key])
    arrays = {key: np.concatenate(parts) for key, parts in columns.items()}
    user_ids = np.array([u.decode() for u in arrays["user_id"]], dtype=object)
    catalog, movies_side = _movies(tfds, movies, builders[1].info.features)
    digest = hashlib.sha256(f"tfds:{ratings_name}:{builders[0].info.version}".encode()).hexdigest()
    return Ratings(
        user_id=user_ids,
        item_id=np.array([t.decode() for t in arrays["movie_title"]], dtype=object),
        timestamp=arrays["timestamp"].astype(np.int64),
        user_rating=arrays["user_rating"].astype(np.float32),
        item_catalog=catalog,
        item_text=catalog,  # a movie is its title
        description=f"TensorFlow Datasets {ratings_name} {builders[0].info.version}",
        fingerprint=digest,
        users=_users(user_ids, {name: arrays[key] for name, key in present.items()}) if present else None,
        items=movies_side,
    )


#: The users' side features in TFDS's movielens ratings (100k and 1m have them), by their TFDS names.
_USER_FEATURES = {"age": "bucketized_user_age", "gender": "user_gender", "occupation": "user_occupation_text",
                  "zip": "user_zip_code"}


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (bool, np.bool_)):
        return "M" if value else "F"  # TFDS: user_gender is True for male users
    if isinstance(value, (float, np.floating)):
        return str(int(value))  # bucketized_user_age: 1.0, 18.0, ...
    return str(value)


def _users(user_ids: np.ndarray, columns: dict[str, np.ndarray]) -> SideFeatures:
    """One row per user: each user's first rating carries their features."""
    ids, first = np.unique(user_ids, return_index=True)
    values = {name: np.array([_text(v) for v in column[first]], dtype=object) for name, column in columns.items()}
    if "zip" in values:
        values["zip"] = np.array([zip_region(z) for z in values["zip"]], dtype=object)
    return SideFeatures(ids.astype(object), values)


def _movies(tfds, movies, features) -> tuple[np.ndarray, SideFeatures]:
    """The catalogue's titles and their genres (TFDS's class names) and years."""
    names = features["movie_genres"].feature.names if "movie_genres" in features else None
    titles, genres = [], []
    for row in tfds.as_numpy(movies):
        titles.append(row["movie_title"].decode())
        genres.append("|".join(names[g] for g in row["movie_genres"]) if names is not None else "")
    catalog = np.array(titles, dtype=object)
    return catalog, movie_features(catalog, genres, [year_of(t) for t in titles])
