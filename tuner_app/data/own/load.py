"""A user's own interactions (one file, or a data YAML with users' and items' tables) -> `Ratings`.

`load_own_data` reads what `--data` named: the interactions file (its columns detected
when no YAML names them, `data.columns`), the preprocessing the YAML declares
(`data.preprocess`), then the side tables (`data.side_tables`). Ids stay the user's own
strings. The fingerprint hashes every file's bytes and the settings that decide what is
read (`OwnDataSpec.settings`), not the YAML's text: resuming with another setting is
refused as other data is, reformatting the YAML changes nothing.

Memory: the file is read a block of rows at a time straight into the arrays `Ratings`
keeps (`data.interactions`): two object arrays whose strs are made once per distinct id,
int64 seconds and float32 ratings; the id codes (int32) only when preprocessing drops rows. numpy, pyarrow and
pandas, imported when files are read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from tuner_app.data.own.columns import detect_columns
from tuner_app.data.own.data_yaml import file_spec, read_data_yaml
from tuner_app.data.own.interactions import read_interactions
from tuner_app.data.own.preprocess import Kept, filters, preprocess
from tuner_app.data.own.side_tables import SideTable, read_side_table
from tuner_app.data.own.spec import YAML_SUFFIXES, OwnDataSpec
from tuner_app.data.own.table_files import TableFile, file_sha256, shown_path
from tuner_app.data.records import Ratings
from tuner_app.data.side import SideFeatures
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


def read_own_data(spec: OwnDataSpec) -> Ratings:
    """Reads what `spec` names into `Ratings` (see `load_own_data`)."""
    shown = shown_path(spec.interactions.path)
    file = TableFile(spec.interactions.path, shown, spec.interactions.separator)
    columns = detect_columns(file.columns, shown, spec.interactions.columns)
    if spec.preprocessing.min_rating is not None and columns["rating"] is None:
        raise DataError(f"{spec.shown}: preprocessing.min_rating needs a rating column, and none of {shown}'s "
                        f"columns ({', '.join(file.columns)}) is one; name it as interactions.rating.")
    rows = read_interactions(file, columns, spec.interactions.timestamp_unit, filters(spec.preprocessing))
    sizes = (len(rows.user_names), len(rows.item_names))
    kept = preprocess(rows.user, rows.item, rows.timestamp, rows.rating, spec.preprocessing,
                      f"read {Path(shown).name}", sizes, len(rows))
    _check_enough(spec, kept)
    users = _side(spec, "user", columns)
    items = _side(spec, "item", columns)

    def take(values: np.ndarray | None) -> np.ndarray | None:
        return values if values is None or kept.rows is None else values[kept.rows]

    catalog, item_side, item_text, missing = _catalog(_used(rows.item_names, take(rows.item)), items)
    lines = list(kept.lines)
    for table, label, count in ((users, "user", _missing(_used(rows.user_names, take(rows.user)), users)),
                                (items, "item", missing)):
        if table is not None:
            lines.append(table.line + (f"; {count:,} {label}s of the interactions are not in it (features "
                                       "unknown)" if count else ""))
    rating = take(rows.rating)
    return Ratings(
        user_id=take(rows.user_id),
        item_id=take(rows.item_id),
        timestamp=take(rows.timestamp),
        user_rating=rating if rating is not None else np.ones(kept.count, np.float32),
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


def _used(names: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
    """The ids the kept rows name, in order of first appearance (`codes` None: every row kept,
    so every id)."""
    return names if codes is None else names[np.flatnonzero(np.bincount(codes, minlength=len(names)))]


def _catalog(rated: np.ndarray, items: SideTable | None
             ) -> tuple[np.ndarray, SideFeatures | None, np.ndarray | None, int]:
    """The candidates: the items table's items, then the interactions' items it lacks (with
    unknown features and no text); without a table, the items the kept interactions name."""
    import pandas as pd

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


def _missing(users: np.ndarray, table: SideTable | None) -> int:
    """How many of the interactions' `users` the users table lacks."""
    if table is None:
        return 0
    import pandas as pd

    return int(np.count_nonzero(pd.Index(table.features.ids).get_indexer(users) < 0))


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
