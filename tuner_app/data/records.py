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
from tuner_app.space.names import HISTORY_FEATURE, RATED_HISTORY_FEATURE

GROUPLENS_URL = "https://grouplens.org/datasets/movielens/"
TFDS_VARIANTS = ("100k", "1m", "20m", "25m", "latest-small")


@dataclass(frozen=True, eq=False)
class Ratings:
    """One schema whatever the source; every per-row array has one row per interaction.

    MovieLens sources identify a movie by its title, as the tutorial does: their item id
    is the title, and so is its text. A user's own data has ids of its own and text
    where its items table has some.

    Attributes:
        user_id: dtype object, Python ``str``, e.g. ``"196"``.
        item_id: dtype object, Python ``str``, e.g. ``"Kolya (1996)"`` or ``"sku-1031"``.
        timestamp: int64 seconds since the epoch; None when the data has no time.
        user_rating: float32, the rating or weight of each interaction (1.0 where the data has none).
        item_catalog: dtype object ``str``: every item of the items table or movies file, in
            file order, duplicates kept (as TFDS's ``movielens/*-movies`` gives them).
        description: human readable origin, for logs and reports.
        fingerprint: sha256 hex of the content (raw file bytes and settings, or synthetic parameters).
        users: the users' side features, one row per user id, where the source has them.
        items: the items' side features, one row per `item_catalog` row.
        item_text: the text of each `item_catalog` row whose words the candidate tower
            averages (MovieLens: the title); None when the items have no text.
        preparation: what each preprocessing step left, as lines for the console and the summary.
    """

    user_id: np.ndarray
    item_id: np.ndarray
    timestamp: np.ndarray | None
    user_rating: np.ndarray
    item_catalog: np.ndarray
    description: str
    fingerprint: str
    users: SideFeatures | None = None
    items: SideFeatures | None = None
    item_text: np.ndarray | None = None
    preparation: tuple[str, ...] = ()

    @property
    def side_features(self) -> dict[str, str]:
        """The side features this data has, each with the side it describes ("user" or "item")."""
        return {name: side for side, table in (("user", self.users), ("item", self.items)) if table is not None
                for name in table.names}

    @property
    def features(self) -> dict[str, str]:
        """Every feature a space can switch on for this data: its side features, each user's history and,
        where the ratings vary (not a column of ones), that history weighted by them."""
        rated = {RATED_HISTORY_FEATURE: "user"} if self.ratings_vary else {}
        return {**self.side_features, HISTORY_FEATURE: "user", **rated}

    @property
    def ratings_vary(self) -> bool:
        """Whether the interactions' ratings (or weights) tell more than that they happened."""
        return bool(len(self.user_rating)) and bool(self.user_rating.min() < self.user_rating.max())

    @property
    def has_time(self) -> bool:
        return self.timestamp is not None

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
        kind: ``"tfds"``, ``"grouplens"``, ``"synthetic"`` or ``"table"`` (a user's own
            interactions: a file, or a data YAML naming it and its users' and items' tables).
        path: the GroupLens folder or .zip (kind ``"grouplens"``); the interactions file or
            the data YAML, resolved (kind ``"table"``: loading reads the YAML again).
        tfds_name: the TFDS variant prefix: ratings are ``f"{tfds_name}-ratings"``,
            movies ``f"{tfds_name}-movies"``.
        synthetic: sizes and seed (kind ``"synthetic"``).
    """

    kind: Literal["tfds", "grouplens", "synthetic", "table"]
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
    needed, available = synthetic_bytes(spec), _available_memory()
    if available is not None and needed > available:
        raise DataError(
            f"{where}: synthetic users={spec.users}, movies={spec.movies}, ratings={spec.ratings} needs about "
            f"{needed / 1e9:,.1f} GB of memory to generate; this machine has {available / 1e9:,.1f} GB available; "
            "lower movies, ratings or users."
        )


def synthetic_bytes(spec: SyntheticSpec) -> int:
    """About how much memory `make_synthetic` takes for `spec` (measured: ~400 bytes a movie, ~120 a
    rating, ~1 KB a user who rates, ~60 MB to start)."""
    raters = min(spec.users, -(-spec.ratings // min(5, spec.movies)))
    return 60_000_000 + 400 * spec.movies + 120 * spec.ratings + 1_000 * raters


def _available_memory() -> int | None:
    """Bytes this process can still allocate (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
