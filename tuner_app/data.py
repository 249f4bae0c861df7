"""Data sources -> one feature schema (`Ratings`) and the tutorial's train/test split.

Three sources, chosen with `--data` (see `parse_data_arg`):

- ``tfds``: TensorFlow Datasets' ``movielens/*``, read by `tuner_app.tfds_source` (so this
  module never imports TensorFlow); here only described by a `DataSpec`.
- ``grouplens``: the files GroupLens publishes (a folder or a .zip, read in place), parsed
  by `tuner_app.grouplens` so that every field equals what TFDS gives for the same release.
- ``synthetic``: MovieLens-shaped data with a learnable structure, for tests and offline
  demos, made by `tuner_app.synthetic`.

This module holds the records (`Ratings`, `SyntheticSpec`, `DataSpec`), the ``--data``
parser and the split, and re-exports `load_grouplens` and `make_synthetic` (imported on
first use, so that those modules can import the records from here without a cycle).
numpy and the standard library only, so importing it (for `parse_data_arg`) stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tuner_app.errors import DataError

if TYPE_CHECKING:
    from tuner_app.grouplens import load_grouplens
    from tuner_app.synthetic import make_synthetic

__all__ = [
    "GROUPLENS_URL",
    "TFDS_VARIANTS",
    "DataSpec",
    "Ratings",
    "SyntheticSpec",
    "load_grouplens",
    "make_synthetic",
    "parse_data_arg",
    "split_indices",
]

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
    """

    user_id: np.ndarray
    movie_title: np.ndarray
    timestamp: np.ndarray
    user_rating: np.ndarray
    movie_catalog: np.ndarray
    description: str
    fingerprint: str

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


def parse_data_arg(arg: str | None) -> DataSpec:
    """Parse the ``--data`` value; cheap checks only (syntax, existence).

    Accepted: ``None``/``"tfds"``, ``"tfds:movielens/1m"``, ``"synthetic"``,
    ``"synthetic:users=50,movies=80,ratings=2000,seed=3"`` (any subset of the keys), or a
    path to a GroupLens folder or .zip (write ``./tfds`` for a folder named like a keyword).

    Raises:
        DataError: the value is none of these.
    """
    if arg is None or arg.strip() == "tfds":
        return DataSpec("tfds")
    text = arg.strip()
    if text.startswith("tfds:"):
        return DataSpec("tfds", tfds_name=_check_tfds_name(text[len("tfds:") :]))
    if text == "synthetic" or text.startswith("synthetic:"):
        return DataSpec("synthetic", synthetic=_parse_synthetic(text[len("synthetic:") :]))
    path = Path(text).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
        return DataSpec("grouplens", path=str(path.resolve()))
    if path.is_file():
        raise DataError(
            f"--data: expected a GroupLens MovieLens folder or .zip; got the file {text!r}; "
            "give the folder that contains it (or the .zip as downloaded)."
        )
    raise DataError(
        f"--data: no such file or folder: {text!r}; give a GroupLens MovieLens folder or .zip "
        f"({GROUPLENS_URL}), 'synthetic' or 'tfds'."
    )


def _check_tfds_name(name: str) -> str:
    variant = name.removeprefix("movielens/")
    for suffix in ("-ratings", "-movies"):
        if name.startswith("movielens/") and variant.endswith(suffix):
            raise DataError(
                f"--data: tfds name {name!r} must be the variant prefix without {suffix!r}; "
                f"write 'tfds:{name.removesuffix(suffix)}'."
            )
    if not name.startswith("movielens/") or variant not in TFDS_VARIANTS:
        choices = ", ".join(f"movielens/{v}" for v in TFDS_VARIANTS)
        raise DataError(f"--data: tfds name must be one of {choices}; got {name!r}.")
    return name


def _parse_synthetic(options: str) -> SyntheticSpec:
    values: dict[str, int] = {}
    keys = ("users", "movies", "ratings", "seed")
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or key not in keys:
            raise DataError(
                f"--data: synthetic options are key=value pairs with keys {', '.join(keys)} "
                f"(e.g. 'synthetic:users=50,ratings=2000'); got {item!r}."
            )
        if key in values:
            raise DataError(f"--data: synthetic option {key!r} is given twice; keep one.")
        least = 0 if key == "seed" else 1
        if not re.fullmatch(r"\d+", value) or int(value) < least:
            kind = "an integer >= 0" if key == "seed" else "a positive integer"
            raise DataError(f"--data: synthetic option {key!r} must be {kind}; got {value!r}.")
        values[key] = int(value)
    spec = SyntheticSpec(**values)
    _check_synthetic(spec, "--data")
    return spec


def _check_synthetic(spec: SyntheticSpec, where: str) -> None:
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


def split_indices(
    n: int, train_fraction: float = 0.8, test_fraction: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's split: shuffle all rows once, take train, then the next rows as test.

    Rows are permuted with ``np.random.default_rng(seed).permutation(n)``; the first
    ``round(n * train_fraction)`` are train, the next ``round(n * test_fraction)`` test
    (fewer if rounding would run past ``n``). The caller checks the fractions.

    Returns:
        ``(train, test)`` int64 row indices, disjoint.
    """
    if not (0 <= train_fraction <= 1 and 0 <= test_fraction <= 1):
        raise ValueError(f"fractions must be in [0, 1]; got {train_fraction}, {test_fraction}")
    if train_fraction + test_fraction > 1 + 1e-9:
        raise ValueError(f"train+test fractions must be <= 1; got {train_fraction + test_fraction}")
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_train = min(n, round(n * train_fraction))
    n_test = min(n - n_train, round(n * test_fraction))
    return order[:n_train], order[n_train : n_train + n_test]


# Re-exports, resolved on first access (PEP 562): `tuner_app.grouplens` and
# `tuner_app.synthetic` import the records from here, so importing them at the top of this
# module would be a cycle, and at the bottom it would fail whenever one of them is imported
# before this module.
_REEXPORTS = {"load_grouplens": "tuner_app.grouplens", "make_synthetic": "tuner_app.synthetic"}


def __getattr__(name: str) -> Any:
    if name in _REEXPORTS:
        import importlib

        value = getattr(importlib.import_module(_REEXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_REEXPORTS))
