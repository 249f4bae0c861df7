"""A user's own interactions (one file, or a data YAML with users' and items' tables) -> `Ratings`.

`load_own_data` reads what `--data` named: the interactions file (its columns detected
when no YAML names them, `data.columns`), the preprocessing the YAML declares
(`data.preprocess`), then the side tables (`data.side_tables`). Ids stay the user's own
strings. The fingerprint hashes every file's bytes and the settings that decide what is
read (`OwnDataSpec.settings`), not the YAML's text: resuming with another setting is
refused as other data is, reformatting the YAML changes nothing.

Memory: a Parquet file is read a column at a time; the interactions cost their codes
(int32 a row for the user and the item), int64 seconds and float32 ratings, then the two
object arrays `Ratings` keeps, whose strs are made once per distinct id. numpy, pyarrow and
pandas, imported when files are read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuner_app.data.columns import detect_columns
from tuner_app.data.data_yaml import file_spec, read_data_yaml
from tuner_app.data.own_spec import YAML_SUFFIXES, OwnDataSpec
from tuner_app.data.preprocess import Kept, preprocess
from tuner_app.data.records import Ratings
from tuner_app.data.side import SideFeatures
from tuner_app.data.side_tables import SideTable, read_side_table
from tuner_app.data.table_files import TableFile, file_sha256, shown_path
from tuner_app.data.values import IdEncoder, numbers, seconds
from tuner_app.errors import DataError

_FORMAT = "own-data v1"  # part of the fingerprint: bump it when reading changes what the same files give


def load_own_data(source: str | Path) -> Ratings:
    """Reads a data YAML, or an interactions file given alone (.csv, .tsv, .csv.gz, .tsv.gz, .parquet).

    Raises:
        DataError: a file, a column or a value is not what the data needs (one sentence
            naming the file, the column and the row), or preprocessing leaves too little.
    """
    source = str(source)
    shown = shown_path(source)
    spec = read_data_yaml(source, shown) if source.lower().endswith(YAML_SUFFIXES) else file_spec(source, shown)
    return read_own_data(spec)


@dataclass(eq=False)
class Interactions:
    """The interactions file's rows: each id as a code into its distinct names. Not frozen: the
    codes are let go (set to None) once the object arrays are made, so both are never alive."""

    user: np.ndarray | None  # int32 codes into user_names
    item: np.ndarray | None  # int32 codes into item_names
    user_names: np.ndarray  # object str, first appearance order
    item_names: np.ndarray
    timestamp: np.ndarray | None  # int64 seconds
    rating: np.ndarray | None  # float32


def read_interactions(file: TableFile, columns: dict[str, str | None], unit: str) -> Interactions:
    """The columns `columns` names (role -> column), a Parquet column or a CSV block at a time."""
    import pyarrow as pa

    users = IdEncoder(file, columns["user"], "user")
    items = IdEncoder(file, columns["item"], "item")
    time_column, rating_column = columns["timestamp"], columns["rating"]
    if file.parquet:
        rows = file.num_rows()
        user = users.encode(file.parquet_column(columns["user"]), 0)
        pa.default_memory_pool().release_unused()  # the column's buffers, before the next is read
        item = items.encode(file.parquet_column(columns["item"]), 0)
        pa.default_memory_pool().release_unused()
        timestamp = None if time_column is None else np.empty(rows, np.int64)
        rating = None if rating_column is None else np.empty(rows, np.float32)
        for column, out in ((time_column, timestamp), (rating_column, rating)):
            if column is None:
                continue
            for offset, values in file.parquet_batches(column):
                out[offset:offset + len(values)] = (
                    seconds(values, file, column, unit, offset) if out is timestamp
                    else numbers(values, file, column, "rating", offset))
    else:
        wanted = list(dict.fromkeys(c for c in columns.values() if c is not None))
        parts: dict[str, list[np.ndarray]] = {"user": [], "item": [], "timestamp": [], "rating": []}
        for offset, batch in file.csv_batches(wanted):
            parts["user"].append(users.encode(batch[columns["user"]], offset))
            parts["item"].append(items.encode(batch[columns["item"]], offset))
            if time_column is not None:
                parts["timestamp"].append(seconds(batch[time_column], file, time_column, unit, offset))
            if rating_column is not None:
                parts["rating"].append(numbers(batch[rating_column], file, rating_column, "rating", offset)
                                       .astype(np.float32))
        if not sum(map(len, parts["user"])):
            _no_rows(file)
        user, item = np.concatenate(parts.pop("user")), np.concatenate(parts.pop("item"))
        timestamp = None if time_column is None else np.concatenate(parts.pop("timestamp"))
        rating = None if rating_column is None else np.concatenate(parts.pop("rating"))
    if len(user) == 0:
        _no_rows(file)
    return Interactions(user, item, users.names(user), items.names(item), timestamp, rating)


def _no_rows(file: TableFile) -> None:
    raise DataError(f"{file.shown}: has a header but no rows; expected one row per interaction.")


def read_own_data(spec: OwnDataSpec) -> Ratings:
    """Reads what `spec` names into `Ratings` (see `load_own_data`)."""
    shown = shown_path(spec.interactions.path)
    file = TableFile(spec.interactions.path, shown, spec.interactions.separator)
    columns = detect_columns(file.columns, shown, spec.interactions.columns)
    if spec.preprocessing.min_rating is not None and columns["rating"] is None:
        raise DataError(f"{spec.shown}: preprocessing.min_rating needs a rating column, and none of {shown}'s "
                        f"columns ({', '.join(file.columns)}) is one; name it as interactions.rating.")
    rows = read_interactions(file, columns, spec.interactions.timestamp_unit)
    sizes = (len(rows.user_names), len(rows.item_names))
    kept = preprocess(rows.user, rows.item, rows.timestamp, rows.rating, spec.preprocessing,
                      f"read {Path(shown).name}", sizes)
    _check_enough(spec, kept)
    users = _side(spec, "user", columns)
    items = _side(spec, "item", columns)

    def take(values: np.ndarray | None) -> np.ndarray | None:
        return values if values is None or kept.rows is None else values[kept.rows]

    rows.item = take(rows.item)
    catalog, item_side, item_text, missing = _catalog(rows.item_names, rows.item, items)
    rows.user = take(rows.user)
    lines = list(kept.lines)
    for table, label, count in ((users, "user", _missing_users(rows, users)), (items, "item", missing)):
        if table is not None:
            lines.append(table.line + (f"; {count:,} {label}s of the interactions are not in it (features "
                                       "unknown)" if count else ""))
    user_id = rows.user_names[rows.user]
    rows.user = None  # 100 MB at 25M rows: gone before the next 200 MB array is made
    item_id = rows.item_names[rows.item]
    rows.item = None
    rating = take(rows.rating)
    return Ratings(
        user_id=user_id,
        item_id=item_id,
        timestamp=take(rows.timestamp),
        user_rating=rating if rating is not None else np.ones(len(item_id), np.float32),
        item_catalog=catalog,
        description=_describe(spec, columns),
        fingerprint=_fingerprint(spec, columns),
        users=None if users is None else users.features,
        items=item_side,
        item_text=item_text,
        preparation=tuple(lines),
    )


def _check_enough(spec: OwnDataSpec, kept: Kept) -> None:
    if kept.users >= 2 and kept.items >= 2:
        return
    steps = "; ".join(kept.lines)
    fix = ("lower min_rating or the min_*_interactions, or give more data" if len(kept.lines) > 1
           else "give more interactions")
    raise DataError(f"{spec.shown}: a search needs interactions of at least 2 users and 2 items, and "
                    f"{'preprocessing leaves' if len(kept.lines) > 1 else 'there are'} fewer ({steps}); {fix}.")


def _side(spec: OwnDataSpec, side: str, columns: dict[str, str | None]) -> SideTable | None:
    table = spec.users if side == "user" else spec.items
    if table is None:
        return None
    return read_side_table(table, side, table.id or columns[side], shown_path(table.path))


def _catalog(names: np.ndarray, codes: np.ndarray, items: SideTable | None
             ) -> tuple[np.ndarray, SideFeatures | None, np.ndarray | None, int]:
    """The candidates: the items table's items, then the interactions' items it lacks (with
    unknown features and no text); without a table, the items the kept interactions name."""
    import pandas as pd

    rated = names[np.flatnonzero(np.bincount(codes, minlength=len(names)))]  # first appearance order
    if items is None:
        return rated, None, None, 0
    table = items.features
    extra = rated[pd.Index(table.ids).get_indexer(rated) < 0]
    if not len(extra):
        return table.ids, table, items.text, 0
    blank = np.full(len(extra), "", dtype=object)
    catalog = np.concatenate([table.ids, extra])
    side = SideFeatures(catalog, {name: np.concatenate([values, blank]) for name, values in table.columns.items()},
                        dict(table.separators))
    text = None if items.text is None else np.concatenate([items.text, blank])
    return catalog, side, text, len(extra)


def _missing_users(rows: Interactions, users: SideTable | None) -> int:
    if users is None:
        return 0
    import pandas as pd

    rated = rows.user_names[np.flatnonzero(np.bincount(rows.user, minlength=len(rows.user_names)))]
    return int(np.count_nonzero(pd.Index(users.features.ids).get_indexer(rated) < 0))


def _describe(spec: OwnDataSpec, columns: dict[str, str | None]) -> str:
    named = ", ".join(f"{role} {column}" for role, column in columns.items() if column is not None)
    files = [f"{Path(spec.interactions.path).name} ({named})"]
    files += [Path(t.path).name for t in (spec.items, spec.users) if t is not None]
    if spec.source == spec.interactions.path:
        return f"own data: {files[0]}"
    return f"own data: {Path(spec.source).name}: {', '.join(files)}"


def _fingerprint(spec: OwnDataSpec, columns: dict[str, str | None]) -> str:
    files = {"interactions": file_sha256(spec.interactions.path, shown_path(spec.interactions.path))}
    for role, table in (("items", spec.items), ("users", spec.users)):
        if table is not None:
            files[role] = file_sha256(table.path, shown_path(table.path))
    blob = json.dumps({"format": _FORMAT, "files": files, "settings": spec.settings(columns)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
