"""The preprocessing a data YAML declares, on id codes with numpy: which interactions are kept.

In RecBole's order (its `rm_dup_inter`, `val_interval` threshold, then
`user_inter_num_interval`/`item_inter_num_interval`):

1. duplicates of a (user, item) pair: all kept, or the first or the last, by timestamp
   where there is one and by file order otherwise (stable: of two rows at the same
   time, the earlier in the file is first);
2. the rating threshold: rows rated at least `min_rating` (implicit feedback);
3. iterative k-core filtering: rows of users with fewer than `min_user_interactions` and
   of items with fewer than `min_item_interactions` are dropped, again and again until
   none is (dropping a user's rows can take an item below its minimum, and back).

Each step says what it left (rows, users, items) as a line for `Ratings.preparation`.
Whole-array operations only (sorts, bincounts): no loop over rows. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuner_app.data.own.spec import Preprocessing


@dataclass(frozen=True)
class Kept:
    """The rows preprocessing kept (sorted row numbers into the file) and what each step left."""

    rows: np.ndarray | None  # int64, ascending; None: every row
    lines: tuple[str, ...]
    users: int
    items: int
    count: int  # rows kept


def count_distinct(codes: np.ndarray, size: int) -> int:
    return int(np.count_nonzero(np.bincount(codes, minlength=size))) if len(codes) else 0


def describe(label: str, user: np.ndarray, item: np.ndarray, sizes: tuple[int, int]) -> tuple[str, int, int]:
    users, items = count_distinct(user, sizes[0]), count_distinct(item, sizes[1])
    return f"{label}: {len(user):,} rows, {users:,} users, {items:,} items", users, items


def keep_one(user: np.ndarray, item: np.ndarray, order_by: np.ndarray | None, which: str) -> np.ndarray:
    """Rows (ascending) keeping one row of each (user, item) pair: the first or the last in the
    order of `order_by` (timestamps; None: file order), ties in file order."""
    key = user.astype(np.int64) * (int(item.max()) + 1 if len(item) else 1) + item
    order = np.argsort(order_by, kind="stable") if order_by is not None else np.arange(len(key))
    if which == "last":
        order = order[::-1]
    _, first = np.unique(key[order], return_index=True)
    return np.sort(order[first])


def k_core(user: np.ndarray, item: np.ndarray, min_user: int, min_item: int,
           sizes: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Rows (ascending) of the largest subset where every user has at least `min_user` rows and
    every item `min_item`, and the rounds it took to reach it."""
    alive = np.ones(len(user), dtype=bool)
    rounds = 0
    while True:
        per_user = np.bincount(user[alive], minlength=sizes[0])
        per_item = np.bincount(item[alive], minlength=sizes[1])
        drop = alive & ((per_user[user] < min_user) | (per_item[item] < min_item))
        if not drop.any():
            return np.flatnonzero(alive), rounds
        alive &= ~drop
        rounds += 1


def filters(settings: Preprocessing) -> bool:
    """Whether `settings` may drop rows (and so `preprocess` needs the id codes)."""
    return (settings.duplicates != "all" or settings.min_rating is not None
            or settings.min_user_interactions > 1 or settings.min_item_interactions > 1)


def preprocess(user: np.ndarray | None, item: np.ndarray | None, timestamp: np.ndarray | None,
               rating: np.ndarray | None, settings: Preprocessing, read_label: str, sizes: tuple[int, int],
               rows_read: int) -> Kept:
    """The rows `settings` keep, in file order, with a line per step (the first: what was read).

    Args:
        user, item: int codes of each row's user and item (`sizes`: how many of each there are,
            every one used by some row); None when `settings` drop nothing (`filters`).
        timestamp: seconds of each row, or None; rating: each row's rating, or None
            (`settings.min_rating` needs one: the caller checks).
        rows_read: how many rows were read.
    """
    users, items = sizes
    lines = [f"{read_label}: {rows_read:,} rows, {users:,} users, {items:,} items"]
    rows: np.ndarray | None = None  # None: every row (an index of 25M rows would cost 200 MB)

    def take(values: np.ndarray) -> np.ndarray:
        return values if rows is None else values[rows]

    def step(label: str, kept: np.ndarray) -> None:
        nonlocal rows, users, items
        rows = kept if rows is None else rows[kept]
        line, users, items = describe(label, user[rows], item[rows], sizes)
        lines.append(line)

    if settings.duplicates != "all":
        by = "by timestamp" if timestamp is not None else "in file order"
        step(f"duplicates {settings.duplicates} ({by})",
             keep_one(take(user), take(item), None if timestamp is None else take(timestamp), settings.duplicates))
    if settings.min_rating is not None:
        step(f"min_rating {settings.min_rating:g}", np.flatnonzero(take(rating) >= settings.min_rating))
    if settings.min_user_interactions > 1 or settings.min_item_interactions > 1:
        kept, rounds = k_core(take(user), take(item), settings.min_user_interactions,
                              settings.min_item_interactions, sizes)
        step(f"k-core (users >= {settings.min_user_interactions}, items >= {settings.min_item_interactions} "
             f"interactions; {rounds} round(s))", kept)
    return Kept(rows, tuple(lines), users, items, rows_read if rows is None else len(rows))
