"""The files of a GroupLens MovieLens release: which ones each format has, and reading each.

A release is read in place, from a folder or an open zip (`Folder`). Movies files are
small and parsed line by line exactly as TFDS does; ratings files are large and parsed
by pandas' C parser (`data.grouplens_ratings`); users files (ml-100k's u.user, ml-1m's
users.dat) give the users' side features. When a file is malformed the error names the file, the first
bad line and the fix. numpy, pandas (imported when files are read) and the standard
library only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np

from tuner_app.data.records import GROUPLENS_URL
from tuner_app.data.side import (
    ML_100K_GENRES,
    SideFeatures,
    age_bucket,
    genres_of,
    movie_features,
    year_of,
    zip_region,
)
from tuner_app.errors import DataError


@dataclass(frozen=True)
class Format:
    release: str  # for descriptions when the folder name does not say
    ratings: str
    movies: str
    layout: str  # what a ratings line looks like, for messages
    users: str | None = None  # the users file, where the format has one


FORMATS = (
    Format("ml-100k", "u.data", "u.item", "tab-separated 'user item rating timestamp'", "u.user"),
    Format("ml-1m/ml-10m", "ratings.dat", "movies.dat", "'user::movie::rating::timestamp'", "users.dat"),
    Format(
        "ml-latest/ml-20m/ml-25m/ml-32m",
        "ratings.csv",
        "movies.csv",
        "CSV 'userId,movieId,rating,timestamp'",
    ),
)
KNOWN_FILES = {name for fmt in FORMATS for name in (fmt.ratings, fmt.movies)}
COLUMNS = ("userId", "movieId", "rating", "timestamp")
FIX = f"download the release again from {GROUPLENS_URL}"
#: What reading a file in place can raise: a zip member with a damaged deflate stream
#: raises zlib.error, a truncated one EOFError or BadZipFile.
READ_ERRORS = (OSError, zipfile.BadZipFile, EOFError, zlib.error)


class Folder:
    """The files of one folder, on disk (``archive`` None) or inside an open zip.

    ``shown`` prefixes file names in messages; ``label`` is the folder's own name.
    """

    def __init__(
        self, archive: zipfile.ZipFile | None, base: str, names: set[str], shown: str, label: str
    ) -> None:
        self.archive, self.base, self.names = archive, base, names
        self.shown, self.label = shown, label

    def where(self, name: str) -> str:
        if self.archive is None:
            return os.path.join(self.base, name)
        return f"{self.shown}{name}"

    def open(self, name: str) -> IO[bytes]:
        if self.archive is None:
            return open(os.path.join(self.base, name), "rb")
        return self.archive.open(self.base + name)

    def read(self, name: str) -> bytes:
        try:
            with self.open(name) as stream:
                return stream.read()
        except READ_ERRORS as error:
            raise DataError(f"{self.where(name)}: cannot be read ({error}); {FIX}.") from None

    def digest(self, name: str) -> tuple[str, int]:
        """The file's sha256 (hex) and how many lines it has (its newlines, plus an unended last line)."""
        digest, lines, last = hashlib.sha256(), 0, b"\n"
        try:
            with self.open(name) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
                    last = chunk[-1:]
        except READ_ERRORS as error:
            raise DataError(f"{self.where(name)}: cannot be read ({error}); {FIX}.") from None
        return digest.hexdigest(), lines + (last != b"\n")


def parse_movies(folder: Folder, fmt: Format, raw: bytes) -> tuple[np.ndarray, np.ndarray, SideFeatures]:
    """Movie ids (int64), titles and their side features, parsed line by line exactly as TFDS
    does (small files)."""
    where = folder.where(fmt.movies)
    rows: list[tuple[int, str, str]] = []  # (line number, id, title)
    genres: list[str] = []
    years: list[str] = []
    if fmt.movies == "movies.csv":
        reader = csv.DictReader(io.StringIO(_decode_utf8(raw, where), newline=None))
        if reader.fieldnames is not None and not {"movieId", "title"} <= set(reader.fieldnames):
            raise DataError(
                f"{where}: expected a header with columns movieId,title,genres, found "
                f"{','.join(reader.fieldnames)!r}; {FIX}."
            )
        for row in reader:
            if row["title"] is None:
                bad_line(where, reader.line_num, "movieId,title,genres", str(row["movieId"]))
            rows.append((reader.line_num, row["movieId"], row["title"]))
            genres.append(genres_of(row.get("genres") or ""))
            years.append(year_of(row["title"]))
    else:
        # u.item is ISO-8859-1 and so is ml-1m (TFDS decodes both that way); ml-10m has no
        # users.dat and is UTF-8, with ISO-8859-1 as a fall-back.
        text = None
        if fmt.movies == "movies.dat" and "users.dat" not in folder.names:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
        text = raw.decode("latin-1") if text is None else text
        sep, fields = ("|", 0) if fmt.movies == "u.item" else ("::", 3)
        layout = "id|title|release date|..." if fields == 0 else "id::title::genres"
        for number, line in enumerate(text.split("\n"), start=1):
            parts = line.strip().split(sep)
            if parts == [""]:
                continue
            if len(parts) < 2 or (fields and len(parts) != fields):
                bad_line(where, number, layout, line)
            rows.append((number, parts[0], parts[1]))
            if fields:  # movies.dat: id::title::genres
                genres.append(genres_of(parts[2]))
                years.append(year_of(parts[1]))
            else:  # u.item: id|title|release date|video date|url|19 genre flags
                flags = parts[5:5 + len(ML_100K_GENRES)]
                genres.append("|".join(g for g, flag in zip(ML_100K_GENRES, flags, strict=False) if flag == "1"))
                years.append(year_of(parts[1], parts[2] if len(parts) > 2 else ""))
    if not rows:
        raise DataError(f"{where}: expected one line per movie, found no movies; {FIX}.")
    for number, movie_id, _ in rows:
        if not movie_id.isascii() or not movie_id.isdigit():
            bad_line(where, number, "a numeric movie id first", movie_id)
    ids = np.array([int(movie_id) for _, movie_id, _ in rows], dtype=np.int64)
    titles = np.array([title for _, _, title in rows], dtype=object)
    return ids, titles, movie_features(titles, genres, years)


def _decode_utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{where}: expected UTF-8 text, found byte 0x{raw[error.start]:02x} on line {line} "
            f"that is not UTF-8 (the file was re-encoded?); {FIX}."
        ) from None


def bad_line(where: str, number: int, expected: str, got: str) -> None:
    raise DataError(
        f"{where}: line {number} should be {expected}, found {got.strip()[:80]!r}; "
        f"fix or delete that line, or {FIX}."
    )


def parse_users(folder: Folder, fmt: Format) -> SideFeatures | None:
    """The users' side features, from u.user (ml-100k) or users.dat (ml-1m); None without one.

    u.user is `id|age|gender|occupation|zip`, with ages in years (put in ml-1m's buckets);
    users.dat is `id::gender::age bucket::occupation code::zip`.
    """
    if fmt.users is None or fmt.users not in folder.names:
        return None
    where = folder.where(fmt.users)
    text = folder.read(fmt.users).decode("latin-1")
    ids, columns = [], {"age": [], "gender": [], "occupation": [], "zip": []}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if fmt.users == "u.user":
            parts = line.split("|")
            if len(parts) != 5:
                bad_line(where, number, "id|age|gender|occupation|zip", line)
            user, age, gender, occupation, zip_code = parts
            age = age_bucket(age)
        else:
            parts = line.split("::")
            if len(parts) != 5:
                bad_line(where, number, "id::gender::age::occupation::zip", line)
            user, gender, age, occupation, zip_code = parts
        ids.append(user)
        for name, value in (("age", age), ("gender", gender), ("occupation", occupation), ("zip", zip_region(zip_code))):
            columns[name].append(value.strip())
    return SideFeatures(np.array(ids, dtype=object), {k: np.array(v, dtype=object) for k, v in columns.items()})
