"""One table file (CSV, TSV, either gzipped, or Parquet) read with pyarrow, its errors named.

`TableFile` opens a file, knows its columns and names its rows in messages (a CSV's line,
a Parquet file's row). Both are read a block of rows at a time (`batches`), so that the
reading's own memory is a block, not the file: a Parquet file's columns as stored (text
as dictionaries: one str per distinct value, never one per row), a CSV's as text, so that
ids keep their leading zeros. A file that pyarrow cannot parse is named with what is wrong: a ragged row
(its line), bytes that are not UTF-8, a damaged or cut-off Parquet file. numpy and
pyarrow, which is imported when a file is opened.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator

import numpy as np

from tuner_app.errors import DataError

#: Bytes of CSV parsed at a time (about 600k interactions): the parse's memory is a few blocks.
CSV_BLOCK = 16 << 20
#: Rows of a Parquet file read at a time. Text ids are looked up once a block against the ids seen, so
#: fewer blocks are faster; each block's arrays are held while it is coded. 25M rows of string ids: 1 << 18
#: 11.7-13.3 s and 0.93-0.95 GB peak, 1 << 19 9.9-10.2 s and 0.96-0.97 GB, 1 << 20 8.3-8.5 s and 0.99-1.01 GB.
PARQUET_BATCH = 1 << 19


class TableFile:
    """A table file: its `columns`, and its rows as pyarrow arrays.

    Args:
        path: the file (.csv, .tsv, .csv.gz, .tsv.gz or .parquet).
        shown: how messages name it.
        separator: the CSV field separator (default: tab for .tsv, comma otherwise).

    Raises:
        DataError: the file is empty, not a table of its kind, or has a column twice.
    """

    def __init__(self, path: str, shown: str, separator: str | None = None) -> None:
        self.path, self.shown = path, shown
        lower = path.lower()
        self.parquet = lower.endswith(".parquet")
        self.separator = separator or ("\t" if lower.endswith((".tsv", ".tsv.gz")) else ",")
        self.columns = self._parquet_columns() if self.parquet else self._csv_columns()
        twice = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if twice:
            raise DataError(f"{shown}: column {twice[0]!r} appears twice in the header; give each column its own "
                            "name.")

    def row(self, index: int) -> str:
        """How messages name the row at `index` (0 is the first row after the header)."""
        return f"row {index + 1}" if self.parquet else f"line {index + 2}"

    def require(self, names: list[str], what: str) -> None:
        """Fails naming the file's columns when one of `names` is not among them."""
        for name in names:
            if name not in self.columns:
                shown = ", ".join(repr(c) for c in self.columns[:20]) + (", ..." if len(self.columns) > 20 else "")
                raise DataError(f"{self.shown}: expected a column {name!r} ({what}), found {shown}; name one of "
                                "these in the data YAML.")

    # -- Parquet --------------------------------------------------------------------
    def _parquet_file(self, dictionary: list[str] | None = None):
        import pyarrow.parquet as pq

        try:
            # pre_buffer=False: with it, pyarrow keeps every block it read until the file is closed
            # (0.4 GB of a 25M-row file's 0.33 GB, read a block at a time).
            return pq.ParquetFile(self.path, read_dictionary=dictionary, pre_buffer=False)
        except (OSError, ValueError) as error:  # ArrowInvalid is a ValueError
            self._damaged(error)

    def _parquet_columns(self) -> list[str]:
        return list(self._parquet_file().schema_arrow.names)

    def _damaged(self, error: Exception) -> None:
        reason = " ".join(str(error).split())[:160]
        raise DataError(f"{self.shown}: cannot be read as Parquet ({reason}); the file is damaged or was cut off: "
                        "write it again.") from None

    def num_rows(self) -> int:
        """A Parquet file's rows, from its footer."""
        return self._parquet_file().metadata.num_rows

    def _parquet_batches(self, names: list[str]) -> Iterator[tuple[int, dict[str, object]]]:
        import pyarrow as pa

        schema = self._parquet_file().schema_arrow
        text = [n for n in names if pa.types.is_string(schema.field(n).type) or pa.types.is_large_string(
            schema.field(n).type)]
        offset = 0
        try:
            # Text columns as dictionaries: Parquet stores them so, and a row's str is never made.
            for batch in self._parquet_file(text).iter_batches(batch_size=PARQUET_BATCH, columns=names):
                yield offset, {name: batch.column(name) for name in names}
                offset += batch.num_rows
                del batch
                pa.default_memory_pool().release_unused()  # else mimalloc keeps freed blocks' pages
        except (OSError, ValueError) as error:
            self._damaged(error)

    # -- CSV ------------------------------------------------------------------------
    def _csv_reader(self, names: list[str] | None, block: int):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False)
        if names is not None:
            convert.include_columns = names
            convert.column_types = {name: pa.string() for name in names}
        return pcsv.open_csv(self.path, read_options=pcsv.ReadOptions(block_size=block),
                             parse_options=pcsv.ParseOptions(delimiter=self.separator, newlines_in_values=False),
                             convert_options=convert)

    def _csv_columns(self) -> list[str]:
        try:
            reader = self._csv_reader(None, 1 << 20)
        except (OSError, ValueError, EOFError) as error:
            self._csv_failed(error)
        return list(reader.schema.names)

    def batches(self, names: list[str]) -> Iterator[tuple[int, dict[str, object]]]:
        """(first row, {column: pyarrow Array}) of the columns `names`, a block of rows at a time:
        a CSV's as text, a Parquet file's as stored (text as dictionaries)."""
        if self.parquet:
            yield from self._parquet_batches(names)
            return
        offset = 0
        try:
            for batch in self._csv_reader(names, CSV_BLOCK):
                yield offset, {name: batch.column(name) for name in names}
                offset += batch.num_rows
        except (OSError, ValueError, EOFError) as error:
            self._csv_failed(error)

    def read_all(self, names: list[str]) -> dict[str, object]:
        """Every row of `names`, each column one pyarrow Array (a side table: small)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        parts: dict[str, list] = {name: [] for name in names}
        for _, batch in self.batches(names):
            for name in names:
                column = batch[name]
                parts[name].append(pc.cast(column, column.type.value_type) if pa.types.is_dictionary(column.type)
                                   else column)
        return {name: pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
                for name, chunks in parts.items()}

    def _csv_failed(self, error: Exception) -> None:
        """One sentence for what pyarrow could not parse: the ragged line, the bytes that are not
        UTF-8, an empty or cut-off file. Runs only after a failure, so speed is no issue."""
        text = " ".join(str(error).split())
        if "Empty CSV file" in text:
            raise DataError(f"{self.shown}: is empty; expected a header line naming the columns, then one row "
                            "per interaction.") from None
        if "UTF8" in text or "UTF-8" in text:
            raise DataError(f"{self.shown}: is not UTF-8 text ({text[:120]}); save it as UTF-8.") from None
        ragged = self._ragged_line()
        if ragged is not None:
            number, fields, expected, line = ragged
            raise DataError(f"{self.shown}: line {number} has {fields} field(s) where the header has {expected} "
                            f"({line[:80]!r}); fix or delete that line (or quote a value that holds "
                            f"{self.separator!r}).") from None
        raise DataError(f"{self.shown}: cannot be read as {'TSV' if self.separator == chr(9) else 'CSV'} "
                        f"({text[:160]}); check that it is a {self.separator!r}-separated table with a header "
                        "line.") from None

    def _ragged_line(self) -> tuple[int, int, int, str] | None:
        opener = gzip.open if self.path.lower().endswith(".gz") else open
        try:
            with opener(self.path, "rb") as raw:
                stream = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
                reader = csv.reader(stream, delimiter=self.separator)
                expected = None
                for fields in reader:
                    if expected is None:
                        expected = len(fields)
                    elif fields and len(fields) != expected:
                        return reader.line_num, len(fields), expected, self.separator.join(fields)
        except (OSError, EOFError, csv.Error) as error:
            raise DataError(f"{self.shown}: cannot be read ({error}); the file is damaged or was cut off: "
                            "write it again.") from None
        return None


def file_sha256(path: str, shown: str) -> str:
    """The sha256 (hex) of a file's bytes, read a MB at a time."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError as error:
        raise DataError(f"{shown}: cannot be read ({error}).") from None
    return digest.hexdigest()


def first_true(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def shown_path(path: str) -> str:
    """A path as messages show it: relative to the working folder when it is inside it."""
    import os

    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
