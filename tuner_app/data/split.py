"""The tutorial's split, and the held-back part cut from its test rows.

numpy only; the fractions were checked with the space file.
"""

from __future__ import annotations

import numpy as np

from tuner_app.space.spec import SplitSpec


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


def split_rows(split: SplitSpec, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and held-back rows: the tutorial's split, its test part cut in two."""
    train, test = split_indices(n, split.train_fraction, split.test_fraction, split.seed)
    keep = len(test) - round(len(test) * split.holdout_fraction)
    return train, test[:keep], test[keep:]
