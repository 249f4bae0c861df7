"""A table's columns as `Ratings` holds them: ids as codes over their distinct strings, time
in seconds, ratings as numbers; every bad value named by file, column, row and value.

Ids are dictionary-encoded by pyarrow, so a Python str is made once per distinct id (as
the GroupLens reader shares one str per user), never once per row. numpy, pyarrow and
pandas (for ISO 8601 date-times), imported by the caller's reading.
"""

from __future__ import annotations

import re

import numpy as np

from tuner_app.data.own.spec import TIMESTAMP_UNITS
from tuner_app.data.own.table_files import TableFile, first_true
from tuner_app.errors import DataError

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+\.\d*")
#: Integer ids below this are coded through a table indexed by the id (at most 64 MB of int32); larger
#: or negative ones by a binary search among the ids seen.
DENSE_IDS = 1 << 24
_TIME_FORMS = "numbers of seconds since 1970 or ISO 8601 date-times such as 2024-03-01T12:00:00Z"


def _first_null(values) -> int | None:
    return first_true(np.asarray(values.is_null())) if values.null_count else None


class IdEncoder:
    """Codes (int32) of one id column, a block of rows at a time, over one list of distinct ids.

    Each block's ids are looked up among the ids seen before with whole-array operations: text
    ids by hashing their distinct values in pyarrow against a pyarrow array of the ids seen
    (`index_in`), integer ids through a table indexed by the id (below `DENSE_IDS`) or else a
    sorted numpy array. `strings` holds each distinct id once as a Python str (made when the id
    is first seen), in order of first appearance; the codes index it, so `strings[codes]` are a
    block's ids sharing those strs.
    """

    def __init__(self, file: TableFile, column: str, role: str) -> None:
        import pyarrow as pa

        self.file, self.column, self.role = file, column, role
        self.text = pa.array([], pa.string())  # text ids seen, in code order
        self.numbers = np.empty(0, np.int64)  # integer ids seen, in code order
        # Each integer id's code by the id itself (-1: not seen) while every id is in [0, DENSE_IDS);
        # None after the first one outside, when `sorted` and `sorted_codes` find them instead.
        self.dense: np.ndarray | None = np.empty(0, np.int32)
        self.sorted = np.empty(0, np.int64)  # integer ids seen, sorted, and the code of each
        self.sorted_codes = np.empty(0, np.int32)
        self.kind: str | None = None  # "text" or "integer": one kind a column
        self.strings = np.empty(0, dtype=object)
        self.last = (np.empty(0, np.int32), pa.array([], pa.string()))  # the previous block's lookup

    def encode(self, values, offset: int) -> np.ndarray:
        """Codes of `values`, a pyarrow Array of the rows from row `offset` on."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if values.null_count:
            self._missing(offset + first_true(np.asarray(values.is_null())))
        kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
        if pa.types.is_floating(kind):
            values = self._whole(values, offset)
            kind = values.type
        if pa.types.is_integer(kind):
            return self._encode_integers(np.asarray(pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)))
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise DataError(f"{self.file.shown}: column {self.column!r} is of type {kind}; ids must be text or "
                            "integers: write the column as such, or name another column in the data YAML.")
        self._one_kind("text")
        encoded = values if pa.types.is_dictionary(values.type) else values.dictionary_encode()
        dictionary = pc.cast(encoded.dictionary, pa.string())
        # Parquet's reader gives each block of a row group the dictionary so far: map only what
        # the previous block's did not have.
        done, previous = self.last
        if len(previous) and len(dictionary) >= len(previous) and dictionary.slice(0, len(previous)).equals(previous):
            lookup = np.concatenate([done, self._lookup(dictionary.slice(len(previous)))])
        else:
            lookup = self._lookup(dictionary)
        self.last = (lookup, dictionary)
        return lookup[encoded.indices.to_numpy(zero_copy_only=False)]

    def _lookup(self, dictionary) -> np.ndarray:
        """The codes of distinct text ids, new ones given the next codes."""
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.index_in(dictionary, value_set=self.text)
        new = np.asarray(found.is_null())
        lookup = np.array(found.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int32)
        if new.any():
            lookup[new] = np.arange(len(self.text), len(self.text) + int(new.sum()), dtype=np.int32)
            fresh = dictionary.filter(pa.array(new))
            self.text = pa.concat_arrays([self.text, fresh])
            self._add_strings(fresh.to_pylist())
        return lookup

    def _encode_integers(self, numbers: np.ndarray) -> np.ndarray:
        import pandas as pd

        self._one_kind("integer")
        if self.dense is not None and len(numbers) and (numbers.min() < 0 or numbers.max() >= DENSE_IDS):
            self.dense = None  # ids too large to index a table by: found among the sorted ones from now on
            order = np.argsort(self.numbers, kind="stable")
            self.sorted, self.sorted_codes = self.numbers[order], order.astype(np.int32)
        if self.dense is not None:
            return self._encode_small_integers(numbers)
        inverse, distinct = pd.factorize(numbers)
        at = np.searchsorted(self.sorted, distinct)
        known = at < len(self.sorted)
        known[known] = self.sorted[at[known]] == distinct[known]
        lookup = np.empty(len(distinct), np.int32)
        lookup[known] = self.sorted_codes[at[known]]
        if not known.all():
            fresh = distinct[~known]
            lookup[~known] = np.arange(len(self.numbers), len(self.numbers) + len(fresh), dtype=np.int32)
            self.numbers = np.concatenate([self.numbers, fresh])
            self._add_strings([str(n) for n in fresh.tolist()])
            order = np.argsort(self.numbers, kind="stable")
            self.sorted, self.sorted_codes = self.numbers[order], order.astype(np.int32)
        return lookup[inverse]

    def _encode_small_integers(self, numbers: np.ndarray) -> np.ndarray:
        """`_encode_integers` for ids in [0, DENSE_IDS): a row's code is read from a table indexed by its
        id; new ids get the next codes in order of first appearance, as the sorted path gives them."""
        import pandas as pd

        if len(numbers) and int(numbers.max()) >= len(self.dense):
            grown = np.full(min(DENSE_IDS, max(int(numbers.max()) + 1, 2 * len(self.dense))), -1, np.int32)
            grown[:len(self.dense)] = self.dense
            self.dense = grown
        codes = self.dense[numbers]
        new = codes < 0
        if new.any():
            fresh = pd.unique(numbers[new])
            self.dense[fresh] = np.arange(len(self.numbers), len(self.numbers) + len(fresh), dtype=np.int32)
            self.numbers = np.concatenate([self.numbers, fresh])
            self._add_strings([str(n) for n in fresh.tolist()])
            codes[new] = self.dense[numbers[new]]
        return codes

    def _add_strings(self, fresh: list[str]) -> None:
        added = np.empty(len(fresh), dtype=object)
        added[:] = fresh
        self.strings = np.concatenate([self.strings, added])

    def _whole(self, values, offset: int):
        """Float ids that are whole numbers, as integers (pandas writes integer ids with a gap so)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        numbers = values.to_numpy(zero_copy_only=False)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        if not whole.all():
            row = first_true(~whole)
            raise DataError(f"{self.file.shown}: column {self.column!r} holds decimal numbers as ids "
                            f"({float(numbers[row])!r} on {self.file.row(offset + row)}); ids are text or integers: "
                            "write the column as such.")
        return pc.cast(values, pa.int64())

    def _one_kind(self, kind: str) -> None:
        if self.kind not in (None, kind):
            raise DataError(f"{self.file.shown}: column {self.column!r} holds both text and integer ids; write it "
                            "with one type.")
        self.kind = kind

    def _missing(self, row: int) -> None:
        raise DataError(f"{self.file.shown}: column {self.column!r} has no {self.role} id on {self.file.row(row)}; "
                        "every row needs one: fill or delete that row.")

    def check(self, ids: np.ndarray) -> None:
        """Refuses blank ids, and text ids that mix integers and decimals (`ids`: each row's id,
        to name the row)."""
        if self.kind != "text":
            return
        names = self.strings.tolist()
        blank = [s for s in names if not s.strip()]
        if blank:
            self._missing(first_true(np.isin(ids, blank)))
        integer = [s for s in names if _INTEGER.fullmatch(s)]
        decimal = [s for s in names if _DECIMAL.fullmatch(s)]
        if integer and decimal:
            whole, point = first_true(np.isin(ids, integer)), first_true(np.isin(ids, decimal))
            raise DataError(
                f"{self.file.shown}: column {self.column!r} mixes integer ids ({ids[whole]!r} on "
                f"{self.file.row(whole)}) and decimal ones ({ids[point]!r} on {self.file.row(point)}), "
                "the mark of a spreadsheet that turned ids into numbers; export the ids as text.")


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
                return _iso_seconds(values, file, column, unit, offset)
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


def _iso_seconds(values, file: TableFile, column: str, unit: str, offset: int) -> np.ndarray:
    """Text timestamps, each a number (of `unit`s) or an ISO 8601 date-time."""
    import pandas as pd

    text = pd.Series(values.to_pandas(), dtype=object)
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    dated = pd.to_datetime(text.where(np.isnan(number)), format="ISO8601", utc=True, errors="coerce")
    bad = np.isnan(number) & dated.isna().to_numpy()
    if bad.any():
        _bad_time(file, column, offset + first_true(bad), text.iloc[first_true(bad)])
    found = dated.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)
    numeric = ~np.isnan(number)
    found[numeric] = np.floor(number[numeric] / TIMESTAMP_UNITS[unit]).astype(np.int64)
    return found


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
