"""The records every data source produces and every consumer reads.

`Ratings` is one feature schema whatever the source; `DataSpec` says where ratings
come from (built from `--data` by `data.arguments.parse_data_arg`); `SyntheticSpec`
sizes generated data. numpy and the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tuner_app.data.side import SideFeatures
from tuner_app.errors import DataError

GROUPLENS_URL = "https://grouplens.org/datasets/movielens/"
TFDS_VARIANTS = ("100k", "1m", "20m", "25m", "latest-small")


@dataclass(frozen=True, eq=False)
class Ratings:
    """One feature schema whatever the source; every array has one row per rating.

    Attributes:
        user_id: dtype object, Python ``str`` of the user number, e.g. ``"196"``.
        movie_title: dtype object, Python ``str``, e.g. ``"Kolya (1996)"``.
        timestamp: int64 seconds since the epoch.
        user_rating: float32, 0.5 to 5.
        movie_catalog: dtype object ``str``: the title of every row of the movies file, in
            file order, duplicates kept (as TFDS's ``movielens/*-movies`` gives them).
        description: human readable origin, for logs and reports.
        fingerprint: sha256 hex of the content (raw file bytes, or synthetic parameters).
        users: the users' side features, one row per user id, where the source has them.
        movies: the movies' side features, one row per `movie_catalog` row.
    """

    user_id: np.ndarray
    movie_title: np.ndarray
    timestamp: np.ndarray
    user_rating: np.ndarray
    movie_catalog: np.ndarray
    description: str
    fingerprint: str
    users: SideFeatures | None = None
    movies: SideFeatures | None = None

    @property
    def side_features(self) -> tuple[str, ...]:
        """The side features this data has (`space.names.SIDE_FEATURES`)."""
        return tuple(name for side in (self.users, self.movies) if side is not None for name in side.names)

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and seed of a synthetic data set (`make_synthetic`)."""

    users: int = 300
    movies: int = 400
    ratings: int = 20_000
    seed: int = 0


@dataclass(frozen=True)
class DataSpec:
    """Where the ratings come from; built by `parse_data_arg` before TensorFlow loads.

    Attributes:
        kind: ``"tfds"``, ``"grouplens"`` or ``"synthetic"``.
        path: the GroupLens folder or .zip (kind ``"grouplens"``).
        tfds_name: the TFDS variant prefix: ratings are ``f"{tfds_name}-ratings"``,
            movies ``f"{tfds_name}-movies"``.
        synthetic: sizes and seed (kind ``"synthetic"``).
    """

    kind: Literal["tfds", "grouplens", "synthetic"]
    path: str | None = None
    tfds_name: str = "movielens/100k"
    synthetic: SyntheticSpec | None = None


def check_synthetic(spec: SyntheticSpec, where: str) -> None:
    for key in ("users", "movies", "ratings", "seed"):
        value = getattr(spec, key)
        least = 0 if key == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            kind = "an integer >= 0" if key == "seed" else "a positive integer"
            raise DataError(f"{where}: synthetic option {key!r} must be {kind}; got {value!r}.")
    if spec.ratings > spec.users * spec.movies:
        raise DataError(
            f"{where}: synthetic ratings={spec.ratings} is more than users*movies="
            f"{spec.users * spec.movies} (each user rates a movie at most once); "
            "lower ratings or raise users or movies."
        )
