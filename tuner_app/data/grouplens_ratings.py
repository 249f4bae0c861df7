"""A GroupLens ratings file (u.data, ratings.dat, ratings.csv) -> the per-row arrays of `Ratings`.

Parsed by pandas' C parser a chunk at a time, straight into the arrays a `Ratings`
keeps, so that reading 25M lines takes about the memory of what they become. When
parsing fails, the error names the first malformed line. numpy, pandas (imported when
a file is read) and the standard library only.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import numpy as np

from tuner_app.data.grouplens_files import COLUMNS, FIX, READ_ERRORS, Folder, Format, bad_line
from tuner_app.data.records import GROUPLENS_URL
from tuner_app.errors import DataError

#: Rows pandas parses at a time: the parse's own memory is a few chunks, not the file.
CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class RatingRows:
    """The ratings file's rows as `Ratings` holds them (see `records.Ratings`)."""

    user_id: np.ndarray  # object: one str per user, shared by that user's rows
    movie_title: np.ndarray  # object: the titles of `titles`
    timestamp: np.ndarray  # int64
    user_rating: np.ndarray  # float32


def parse_ratings(folder: Folder, fmt: Format, lines: int, movie_ids: np.ndarray, titles: np.ndarray) -> RatingRows:
    """The ratings file, parsed by pandas' C parser a chunk at a time straight into the final arrays.

    Args:
        lines: the file's line count (`Folder.digest`), an upper bound on its ratings:
            the arrays are made that long up front and cut to the rows found.
        movie_ids, titles: the movies file's distinct ids and their titles.

    Memory: the four arrays a `Ratings` keeps, plus a chunk. Reading the whole file
    into a frame first and then mapping its columns held the frame, its int64 id
    columns and their codes at once: a 2.72 GB peak for 0.71 GB of arrays at 25M
    lines, against 0.97 GB this way (benchmarks/HISTORY.md).
    """
    import pandas as pd

    where = folder.where(fmt.ratings)
    rows = RatingRows(np.empty(lines, object), np.empty(lines, object), np.empty(lines, np.int64),
                      np.empty(lines, np.float32))
    movies = pd.Index(movie_ids)
    names: dict[int, str] = {}  # user number -> its str, made once per user
    count, unknown, first_unknown = 0, 0, None
    try:
        with _ratings_chunks(folder, fmt) as chunks:
            for chunk in chunks:
                end = count + len(chunk)
                if end > lines:
                    raise DataError(f"{where}: the file grew while it was read ({lines} lines, then more); "
                                    "read it again once nothing writes to it.")
                users, inverse = np.unique(chunk["userId"].to_numpy(), return_inverse=True)
                strings = [names.get(user) or names.setdefault(user, str(user)) for user in users.tolist()]
                rows.user_id[count:end] = np.array(strings, dtype=object)[inverse]
                rated = chunk["movieId"].to_numpy()
                position = movies.get_indexer(rated)
                missing = np.flatnonzero(position < 0)
                if missing.size:
                    unknown += missing.size
                    if first_unknown is None:
                        first_unknown = (count + missing[0], rated[missing[0]])
                rows.movie_title[count:end] = titles[position]
                rows.timestamp[count:end] = chunk["timestamp"].to_numpy()
                rows.user_rating[count:end] = chunk["rating"].to_numpy()
                count = end
    except pd.errors.EmptyDataError:
        count = 0
    except (ValueError, OverflowError, UnicodeDecodeError) as error:  # ParserError too
        _diagnose_ratings(folder, fmt, error)
    except READ_ERRORS as error:
        raise DataError(f"{where}: cannot be read ({error}); {FIX}.") from None
    if count == 0:
        raise DataError(f"{where}: expected {fmt.layout} lines, found no ratings; {FIX}.")
    if first_unknown is not None:
        row, movie_id = first_unknown
        raise DataError(
            f"{where}: rating {row + 1} is of movie id {movie_id}, which is not in {fmt.movies} "
            f"({unknown} of {count} ratings refer to missing ids); use both files of the same "
            f"release ({GROUPLENS_URL})."
        )
    return RatingRows(*(column[:count] for column in (rows.user_id, rows.movie_title, rows.timestamp,
                                                         rows.user_rating)))


@contextmanager
def _ratings_chunks(folder: Folder, fmt: Format):
    """pandas' chunked reader over the ratings file, with the columns `COLUMNS`."""
    import pandas as pd

    types = {"userId": np.int64, "movieId": np.int64, "rating": np.float32, "timestamp": np.int64}
    options = {"dtype": types, "quoting": csv.QUOTE_NONE, "keep_default_na": False, "engine": "c",
               "chunksize": CHUNK_ROWS}
    if fmt.ratings == "ratings.csv":
        with folder.open(fmt.ratings) as stream:
            header = stream.readline().decode("utf-8-sig", "replace").strip()
        if header and not set(COLUMNS) <= set(header.split(",")):
            raise DataError(
                f"{folder.where(fmt.ratings)}: expected a header with columns {','.join(COLUMNS)}, found "
                f"{header[:80]!r}; {FIX}."
            )
    with folder.open(fmt.ratings) as stream:
        if fmt.ratings == "ratings.csv":
            reader = pd.read_csv(stream, usecols=list(COLUMNS), **options)
        else:
            # ratings.dat's '::' is read as a tab, so that the C parser does the splitting.
            source = io.BufferedReader(_Retabbed(stream), 1 << 20) if fmt.ratings == "ratings.dat" else stream
            reader = pd.read_csv(source, sep="\t", header=None, names=COLUMNS, **options)
        with reader:
            yield reader


class _Retabbed(io.RawIOBase):
    """A binary stream read with every '::' turned into a tab, as `bytes.replace` would."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream, self._held, self._out = stream, b"", b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out:
            chunk = self._stream.read(len(buffer))
            data = self._held + chunk
            if chunk:  # a run of ':' at the end pairs up only once it ends: keep it for the next read
                kept = data.rstrip(b":")
                data, self._held = kept, data[len(kept):]
            else:
                self._held = b""
            self._out = data.replace(b"::", b"\t")
            if not chunk:
                break
        n = min(len(buffer), len(self._out))
        buffer[:n], self._out = self._out[:n], self._out[n:]
        return n


def _diagnose_ratings(folder: Folder, fmt: Format, error: Exception) -> None:
    """Name the first malformed line; runs only after pandas failed, so speed is no issue."""
    where = folder.where(fmt.ratings)
    sep = {"ratings.csv": ",", "ratings.dat": "::"}.get(fmt.ratings, "\t")
    line_re = re.compile(sep.join([r"\d{1,18}", r"\d{1,18}", r"\d{1,3}(\.\d*)?", r"\d{1,18}"]))
    try:
        with folder.open(fmt.ratings) as stream:
            for number, line in enumerate(stream, start=1):
                text = line.decode("latin-1").strip()
                if text and not (number == 1 and sep == ",") and not line_re.fullmatch(text):
                    bad_line(where, number, fmt.layout, text)
    except READ_ERRORS as read_error:
        raise DataError(f"{where}: cannot be read ({read_error}); {FIX}.") from None
    raise DataError(f"{where}: expected {fmt.layout} lines, parsing failed ({error}); {FIX}.")
