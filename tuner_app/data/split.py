"""The tutorial's split, and the held-back part cut from its test rows.

numpy only; the fractions were checked with the space file.
"""

from __future__ import annotations

import numpy as np

from tuner_app.errors import DataError
from tuner_app.space.spec import SplitSpec


def split_indices(
    n: int, train_fraction: float = SplitSpec.train_fraction, test_fraction: float = SplitSpec.test_fraction,
    seed: int = SplitSpec.seed,
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


#: Fewer training or validation rows than this make no search: too few to score a trial on.
MIN_ROWS = 10


def selection_rows(validation: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """The validation rows trials are selected on: all, or a fixed random sample of `size`.

    The sample depends only on the rows and the seed, so a resumed search draws the same.
    """
    if size is None or size >= len(validation):
        return validation
    chosen = np.random.default_rng([seed, 7]).choice(len(validation), size=size, replace=False)
    return validation[np.sort(chosen)]


def temporal_indices(timestamps: np.ndarray, train_fraction: float, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The time-based split: the earliest ratings are train, the latest are test.

    Rows are ordered by timestamp (ties keep file order); the first
    ``round(n * train_fraction)`` are train and the last ``round(n * test_fraction)`` test
    (rows between them, when the fractions add up to less than 1, are left out), each
    in time order, so the held-back part of the test rows is the latest of all.
    """
    n = len(timestamps)
    order = np.argsort(timestamps, kind="stable").astype(np.int64)
    n_train = min(n, round(n * train_fraction))
    n_test = min(n - n_train, round(n * test_fraction))
    return order[:n_train], order[n - n_test:]


def split_rows(split: SplitSpec, n: int, where: str = "--data",
               timestamps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and held-back rows: the tutorial's split (or the temporal one), its test
    part cut in two.

    Args:
        timestamps: each row's time (the temporal split needs them).

    Raises:
        DataError: the data are too small to leave `MIN_ROWS` rows for training and validation.
    """
    if split.kind == "temporal":
        if timestamps is None:
            raise DataError(f"{where}: split.kind temporal orders the rows by time, and this data has no timestamp "
                            "column; name one in the data YAML (interactions.timestamp), or use split.kind: random.")
        train, test = temporal_indices(timestamps, split.train_fraction, split.test_fraction)
    else:
        train, test = split_indices(n, split.train_fraction, split.test_fraction, split.seed)
    keep = len(test) - round(len(test) * split.holdout_fraction)
    if min(len(train), keep) < MIN_ROWS:
        raise DataError(
            f"{where}: {n:,} rating(s) leave {len(train):,} for training and {keep:,} for validation with "
            f"train_fraction {split.train_fraction:g}, test_fraction {split.test_fraction:g} and holdout_fraction "
            f"{split.holdout_fraction:g}; a search needs at least {MIN_ROWS} of each: give more data."
        )
    return train, test[:keep], test[keep:]
