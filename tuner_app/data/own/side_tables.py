"""A users' or items' table of a data YAML -> `SideFeatures` (and, for items, their text).

Every feature becomes a column of category strings ("" unknown), as the MovieLens
features are:

* categorical: the value as text;
* multi_valued: the values split on the separator, each stripped ("Action | Comedy" is
  "Action|Comedy"), the separator kept in `SideFeatures.separators`;
* numeric: quantile buckets of the table's values, labelled by their bounds ("[9.99, 25)");
* text (users): the lower-cased words, a multi-valued feature split on " " (the query
  tower has no text path); text (items): the columns joined with spaces, as the item's text.

An id on two rows with the same values is one row; with different values it is refused.
A table is small next to the interactions: read whole, with pandas for the duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuner_app.data.own.spec import TableSpec
from tuner_app.data.own.table_files import TableFile, first_true
from tuner_app.data.own.values import IdEncoder
from tuner_app.data.side import SideFeatures
from tuner_app.errors import DataError

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, eq=False)
class SideTable:
    """A side table as read: its features by id, the text of each id (items with text
    columns; else None), and a line for `Ratings.preparation`."""

    features: SideFeatures
    text: np.ndarray | None
    line: str


def as_text(values) -> list[str]:
    """Any column's values as str ("" for nulls); whole floats without their ".0"."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(values.type):
        values = pc.cast(values, values.type.value_type)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    return ["" if v is None else v for v in values.to_pylist()]


def read_side_table(spec: TableSpec, side: str, id_column: str, shown: str) -> SideTable:
    """Reads the table `spec` names; `side` is "user" or "item".

    Raises:
        DataError: a column is missing, an id is blank or on two rows with different
            values, or a numeric column holds text.
    """
    file = TableFile(spec.path, shown, spec.separator)
    file.require([id_column], f"the {side}s' id")
    file.require(list(spec.text), "a text column")
    columns = [*spec.categorical, *spec.multi_valued, *spec.numeric]
    file.require(columns, "a feature")
    data = file.read_all(list(dict.fromkeys([id_column, *spec.text, *columns])))
    if not len(data[id_column]):
        raise DataError(f"{shown}: has no rows; expected one row per {side}.")
    encoder = IdEncoder(file, id_column, side)
    codes = encoder.encode(data[id_column], 0)
    names = encoder.strings
    encoder.check(names[codes])
    raw: dict[str, list] = {}
    for column in spec.categorical:
        raw[column] = as_text(data[column])
    for column, separator in spec.multi_valued.items():
        raw[column] = [separator.join(p for p in (part.strip() for part in v.split(separator)) if p)
                       for v in as_text(data[column])]
    for column in spec.numeric:
        raw[column] = _numbers_or_nan(data[column], file, column).tolist()
    texts = [as_text(data[column]) for column in spec.text]
    if side == "user":
        for column, values in zip(spec.text, texts, strict=True):
            raw[column] = [" ".join(_WORD.findall(v.lower())) for v in values]
    text = [" ".join(filter(None, parts)) for parts in zip(*texts, strict=True)] if side == "item" and texts else None
    first = _first_rows(file, names, codes, {**raw, **({"text": text} if text is not None else {})}, side)
    features: dict[str, np.ndarray] = {}
    separators: dict[str, str] = {}
    for column, values in raw.items():
        kept = [values[i] for i in first.tolist()]
        name = spec.feature_name(column)
        if column in spec.numeric:
            features[name] = _buckets(np.array(kept, dtype=np.float64), spec.numeric[column])
            continue
        features[name] = np.array(kept, dtype=object)
        if column in spec.multi_valued:
            separators[name] = spec.multi_valued[column]
        elif column in spec.text:
            separators[name] = " "
    ids = names[codes[first]]
    kept_text = None if text is None else np.array([text[i] for i in first.tolist()], dtype=object)
    return SideTable(SideFeatures(ids, features, separators), kept_text, _line(Path(shown).name, side, len(ids), spec))


def _numbers_or_nan(values, file: TableFile, column: str) -> np.ndarray:
    """A numeric feature's values as float64, NaN where unknown (null or blank); text that is
    no number is refused, naming its row."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    text = pd.Series(as_text(values), dtype=object)
    found = np.array(pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    found[~np.isfinite(found)] = np.nan
    bad = np.isnan(found) & (text.str.strip() != "").to_numpy()
    if bad.any():
        row = first_true(bad)
        raise DataError(f"{file.shown}: column {column!r} should hold numbers (a numeric feature), found "
                        f"{text.iloc[row]!r} on {file.row(row)}; fix that row, or list the column as categorical.")
    return found


def _first_rows(file: TableFile, names: np.ndarray, codes: np.ndarray, raw: dict[str, list], side: str
                ) -> np.ndarray:
    """The first row of each id (ascending); refuses an id whose rows disagree on a value."""
    import pandas as pd

    frame = pd.DataFrame({"__id": codes, **{f"c{i}": values for i, values in enumerate(raw.values())}})
    repeated = frame[frame["__id"].duplicated(keep=False)]
    if len(repeated):
        distinct = repeated.drop_duplicates()
        clash = distinct["__id"].duplicated(keep=False).to_numpy()
        if clash.any():
            rows = distinct.index.to_numpy()[clash]
            code = codes[rows[0]]
            a, b = np.flatnonzero(codes == code)[:2]
            column = next(c for c, values in zip(raw, raw.values(), strict=True)
                          if not _same(values[a], values[b]))
            shown_column = "its text" if column == "text" else f"column {column!r}"
            raise DataError(f"{file.shown}: {side} {names[code]!r} is on {file.row(int(a))} and {file.row(int(b))} "
                            f"with different values of {shown_column} ({raw[column][a]!r} and {raw[column][b]!r}); "
                            f"keep one row per {side}.")
    return np.flatnonzero(~frame["__id"].duplicated(keep="first").to_numpy())


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))


def _buckets(values: np.ndarray, count: int) -> np.ndarray:
    """Quantile buckets of `values` (NaN: unknown, ""), labelled by their bounds."""
    known = ~np.isnan(values)
    labels = np.full(len(values), "", dtype=object)
    if not known.any():
        return labels
    edges = np.unique(np.quantile(values[known], np.linspace(0.0, 1.0, count + 1)[1:-1]))
    bucket = np.searchsorted(edges, values[known], side="right")
    bounds = [f"< {edges[0]:g}"] + [f"[{lo:g}, {hi:g})" for lo, hi in zip(edges[:-1], edges[1:], strict=True)] + \
        [f">= {edges[-1]:g}"] if len(edges) else ["all"]
    labels[known] = np.array(bounds, dtype=object)[bucket]
    return labels


def _line(shown: str, side: str, count: int, spec: TableSpec) -> str:
    parts = [spec.feature_name(c) for c in spec.categorical]
    parts += [f"{spec.feature_name(c)} (split on {s!r})" for c, s in spec.multi_valued.items()]
    parts += [f"{spec.feature_name(c)} ({n} buckets)" for c, n in spec.numeric.items()]
    if side == "user":
        parts += [f"{spec.feature_name(c)} (words)" for c in spec.text]
    line = f"{side}s: {shown}, {count:,} {side}s; features: {', '.join(parts) or 'none'}"
    return line + (f"; text: {' + '.join(spec.text)}" if side == "item" and spec.text else "")

