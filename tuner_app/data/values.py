"""A table's columns as `Ratings` holds them: ids as codes over their distinct strings, time
in seconds, ratings as numbers; every bad value named by file, column, row and value.

Ids are dictionary-encoded by pyarrow, so a Python str is made once per distinct id (as
the GroupLens reader shares one str per user), never once per row. numpy, pyarrow and
pandas (for ISO 8601 date-times), imported by the caller's reading.
"""

from __future__ import annotations

import re

import numpy as np

from tuner_app.data.own_spec import TIMESTAMP_UNITS
from tuner_app.data.table_files import TableFile, first_true
from tuner_app.errors import DataError

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+\.\d*")
_TIME_FORMS = "numbers of seconds since 1970 or ISO 8601 date-times such as 2024-03-01T12:00:00Z"


def _chunks(values) -> list:
    import pyarrow as pa

    return list(values.chunks) if isinstance(values, pa.ChunkedArray) else [values]


def _first_null(values) -> int | None:
    offset = 0
    for chunk in _chunks(values):
        if chunk.null_count:
            return offset + first_true(np.asarray(chunk.is_null()))
        offset += len(chunk)
    return None


def id_strings(distinct, file: TableFile, column: str, row_of) -> list[str]:
    """The distinct values of an id column as str: text as it is, integers in decimal, and
    floats that are whole numbers as integers (pandas writes integer ids with a gap as floats)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = distinct.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return distinct.to_pylist()
    if pa.types.is_integer(kind):
        return pc.cast(distinct, pa.string()).to_pylist()
    if pa.types.is_floating(kind):
        numbers = distinct.to_numpy(zero_copy_only=False)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        if not whole.all():
            bad = numbers[first_true(~whole)]
            raise DataError(f"{file.shown}: column {column!r} holds decimal numbers as ids ({bad!r} on "
                            f"{row_of(first_true(~whole))}); ids are text or integers: write the column as such.")
        return [str(int(v)) for v in numbers.tolist()]
    raise DataError(f"{file.shown}: column {column!r} is of type {kind}; ids must be text or integers: write the "
                    "column as such, or name another column in the data YAML.")


class IdEncoder:
    """Codes (int32) of one id column, added a chunk at a time, over one list of distinct str.

    `names` holds each distinct id once, in order of first appearance; `codes` index it.
    """

    def __init__(self, file: TableFile, column: str, role: str) -> None:
        self.file, self.column, self.role = file, column, role
        self.index: dict[str, int] = {}

    def encode(self, values, offset: int) -> np.ndarray:
        """Codes of `values` (a pyarrow Array or ChunkedArray starting at row `offset`)."""
        import pyarrow as pa

        null = _first_null(values)
        if null is not None:
            self._missing(offset + null)
        if not isinstance(values, pa.ChunkedArray):
            values = pa.chunked_array([values])
        encoded = values.unify_dictionaries() if pa.types.is_dictionary(values.type) else values.dictionary_encode()
        out = np.empty(len(values), np.int32)
        if len(values) == 0:
            return out
        dictionary = encoded.chunk(0).dictionary
        strings = id_strings(dictionary, self.file, self.column,
                             lambda i: self._row_of_value(encoded, i, offset))
        index = self.index
        lookup = np.fromiter((index.setdefault(s, len(index)) for s in strings), np.int32, len(strings))
        at = 0
        for chunk in encoded.chunks:
            out[at:at + len(chunk)] = lookup[chunk.indices.to_numpy(zero_copy_only=False)]
            at += len(chunk)
        return out

    def _row_of_value(self, encoded, value: int, offset: int) -> str:
        at = 0
        for chunk in encoded.chunks:
            hits = np.flatnonzero(chunk.indices.to_numpy(zero_copy_only=False) == value)
            if hits.size:
                return self.file.row(offset + at + int(hits[0]))
            at += len(chunk)
        return "some row"

    def _missing(self, row: int) -> None:
        raise DataError(f"{self.file.shown}: column {self.column!r} has no {self.role} id on {self.file.row(row)}; "
                        "every row needs one: fill or delete that row.")

    def names(self, codes: np.ndarray) -> np.ndarray:
        """The distinct ids (object array of str), checked: none blank, and not integers and
        decimals mixed (`codes` find the row to name)."""
        names = np.array(list(self.index), dtype=object)
        if not len(names):
            return names
        blank = np.array([not s.strip() for s in names.tolist()])
        if blank.any():
            self._missing(first_true(blank[codes]))
        integer = np.array([_INTEGER.fullmatch(s) is not None for s in names.tolist()])
        decimal = np.array([_DECIMAL.fullmatch(s) is not None for s in names.tolist()])
        if integer.any() and decimal.any():
            whole, point = first_true(integer[codes]), first_true(decimal[codes])
            raise DataError(
                f"{self.file.shown}: column {self.column!r} mixes integer ids ({names[codes[whole]]!r} on "
                f"{self.file.row(whole)}) and decimal ones ({names[codes[point]]!r} on {self.file.row(point)}), "
                "the mark of a spreadsheet that turned ids into numbers; export the ids as text.")
        return names


def seconds(values, file: TableFile, column: str, unit: str, offset: int) -> np.ndarray:
    """A timestamp column's chunk as int64 seconds since 1970 (UTC; floored).

    Numbers count `unit`s (s, ms, us, ns); Parquet timestamps and dates are converted; text
    is numbers or ISO 8601 date-times (a zone offset is honoured, none means UTC).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    null = _first_null(values)
    if null is not None:
        raise DataError(f"{file.shown}: column {column!r} has no timestamp on {file.row(offset + null)}; every row "
                        "needs one: fill or delete that row (or say 'timestamp: null' in the data YAML).")
    kind, per_second = values.type, TIMESTAMP_UNITS[unit]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            values = pc.cast(values, pa.int64())
            kind = values.type
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            try:
                values = pc.cast(values, pa.float64())
                kind = values.type
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return _iso_seconds(values, file, column, offset)
    if pa.types.is_integer(kind):
        numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)
        return numbers if per_second == 1 else numbers // per_second
    if pa.types.is_floating(kind):
        numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(numbers)
        if bad.any():
            _bad_time(file, column, offset + first_true(bad), numbers[first_true(bad)])
        return np.floor(numbers / per_second).astype(np.int64)
    if pa.types.is_timestamp(kind):
        ticks = np.asarray(pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        return ticks // TIMESTAMP_UNITS[kind.unit]
    if pa.types.is_date32(kind):
        return np.asarray(pc.cast(values, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64) * 86_400
    if pa.types.is_date64(kind):
        return np.asarray(pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64) // 1000
    raise DataError(f"{file.shown}: column {column!r} is of type {kind}; timestamps must be {_TIME_FORMS}: write "
                    "the column as such, or say 'timestamp: null' in the data YAML.")


def _iso_seconds(values, file: TableFile, column: str, offset: int) -> np.ndarray:
    import pandas as pd

    text = pd.Series(values.to_pandas() if hasattr(values, "to_pandas") else values, dtype=object)
    with_time = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = with_time.isna().to_numpy()
    if bad.any():
        _bad_time(file, column, offset + first_true(bad), text.iloc[first_true(bad)])
    return with_time.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)


def _bad_time(file: TableFile, column: str, row: int, value) -> None:
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{file.shown}: column {column!r} has no timestamp on {file.row(row)}; every row needs "
                        "one: fill or delete that row (or say 'timestamp: null' in the data YAML).")
    raise DataError(f"{file.shown}: column {column!r} has a non-numeric timestamp {value!r} on {file.row(row)}; "
                    f"timestamps must be {_TIME_FORMS}: fix that row, or name the right column in the data YAML.")


def numbers(values, file: TableFile, column: str, what: str, offset: int) -> np.ndarray:
    """A numeric column's chunk as float64 (ratings, weights, prices); text must parse as numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    null = _first_null(values)
    if null is not None:
        raise DataError(f"{file.shown}: column {column!r} has no {what} on {file.row(offset + null)}; fill or "
                        "delete that row.")
    try:
        cast = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        cast = None
    found = None if cast is None else cast.to_numpy(zero_copy_only=False)
    if found is None or not np.isfinite(found).all():
        import pandas as pd

        text = pd.Series(values.to_pandas() if hasattr(values, "to_pandas") else values, dtype=object)
        parsed = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(parsed)
        row = first_true(bad) if bad.any() else 0
        value = text.iloc[row]
        if isinstance(value, str) and not value.strip():
            raise DataError(f"{file.shown}: column {column!r} has no {what} on {file.row(offset + row)}; fill or "
                            "delete that row.")
        raise DataError(f"{file.shown}: column {column!r} should hold numbers ({what}), found {value!r} on "
                        f"{file.row(offset + row)}; fix that row, or name the right column in the data YAML.")
    return found
