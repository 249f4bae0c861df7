"""GroupLens MovieLens releases (a folder or a .zip, read in place) -> `Ratings`.

`load_grouplens` finds the release's files (in the folder itself or in one sub-folder),
tells the format from their names (ml-100k ``u.data``/``u.item``; ml-1m and ml-10m
``ratings.dat``/``movies.dat``; ml-latest, ml-20m, ml-25m, ml-32m ``ratings.csv``/
``movies.csv``) and parses them so that every field equals what TFDS gives for the same
release. When a file is malformed the error names the file, the first bad line and the fix.

numpy, pandas and the standard library only; pandas is imported when files are read, so
importing this module stays cheap.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from tuner_app.data.records import GROUPLENS_URL, Ratings
from tuner_app.errors import DataError


def load_grouplens(path: str | os.PathLike) -> Ratings:
    """Read a GroupLens MovieLens release from a folder or a .zip (read in place).

    Supported: ml-100k (``u.data``, ``u.item``), ml-1m and ml-10m (``ratings.dat``,
    ``movies.dat``), ml-latest(-small), ml-20m, ml-25m, ml-32m (``ratings.csv``,
    ``movies.csv``); the files may sit in the folder itself or in one sub-folder of it.
    Titles equal what TFDS gives for the same release.

    Raises:
        DataError: the path, a file or a line is not what a release contains.
    """
    root = Path(path)
    if root.is_dir():
        listing = _list_folder(root)
        sub = _choose_folder(listing, str(root))
        base = str(root / sub) if sub else str(root)
        return _read_release(_Folder(None, base, listing[sub], base, sub or root.resolve().name))
    if not root.is_file():
        raise DataError(
            f"{root}: no such file or folder; give a GroupLens MovieLens folder or .zip "
            f"({GROUPLENS_URL})."
        )
    try:
        archive = zipfile.ZipFile(root)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(
            f"{root}: expected a .zip archive of a MovieLens release, but it cannot be opened "
            f"as one ({error}); download it again from {GROUPLENS_URL}."
        ) from None
    with archive:
        listing = _list_zip(archive)
        sub = _choose_folder(listing, str(root))
        shown = f"{root}:{sub}" if sub else f"{root}:"
        label = sub.rstrip("/") or root.stem
        return _read_release(_Folder(archive, sub, listing[sub], shown, label))


@dataclass(frozen=True)
class _Format:
    release: str  # for descriptions when the folder name does not say
    ratings: str
    movies: str
    layout: str  # what a ratings line looks like, for messages


_FORMATS = (
    _Format("ml-100k", "u.data", "u.item", "tab-separated 'user item rating timestamp'"),
    _Format("ml-1m/ml-10m", "ratings.dat", "movies.dat", "'user::movie::rating::timestamp'"),
    _Format(
        "ml-latest/ml-20m/ml-25m/ml-32m",
        "ratings.csv",
        "movies.csv",
        "CSV 'userId,movieId,rating,timestamp'",
    ),
)
_KNOWN_FILES = {name for fmt in _FORMATS for name in (fmt.ratings, fmt.movies)}
_COLUMNS = ("userId", "movieId", "rating", "timestamp")
_FIX = f"download the release again from {GROUPLENS_URL}"
#: What reading a file in place can raise: a zip member with a damaged deflate stream
#: raises zlib.error, a truncated one EOFError or BadZipFile.
_READ_ERRORS = (OSError, zipfile.BadZipFile, EOFError, zlib.error)


class _Folder:
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
        except _READ_ERRORS as error:
            raise DataError(f"{self.where(name)}: cannot be read ({error}); {_FIX}.") from None

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        try:
            with self.open(name) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        except _READ_ERRORS as error:
            raise DataError(f"{self.where(name)}: cannot be read ({error}); {_FIX}.") from None
        return digest.hexdigest()


def _list_folder(root: Path) -> dict[str, set[str]]:
    """File names in ``root`` (key "") and in each of its visible sub-folders."""
    listing: dict[str, set[str]] = {"": set()}
    try:
        for entry in os.scandir(root):
            if entry.is_file():
                listing[""].add(entry.name)
            elif entry.is_dir() and not entry.name.startswith((".", "__MACOSX")):
                listing[entry.name] = {e.name for e in os.scandir(entry.path) if e.is_file()}
    except OSError as error:
        raise DataError(
            f"{root}: cannot list the folder ({error}); check its permissions."
        ) from None
    return listing


def _list_zip(archive: zipfile.ZipFile) -> dict[str, set[str]]:
    """File names at the top of the zip (key "") and in each top folder (key "name/")."""
    listing: dict[str, set[str]] = {"": set()}
    for member in archive.namelist():
        parts = member.split("/")
        if member.endswith("/") or parts[0].startswith((".", "__MACOSX")) or len(parts) > 2:
            continue
        key = "" if len(parts) == 1 else parts[0] + "/"
        listing.setdefault(key, set()).add(parts[-1])
    return listing


def _choose_folder(listing: dict[str, set[str]], shown: str) -> str:
    if listing[""] & _KNOWN_FILES:
        return ""
    found = sorted(key for key, names in listing.items() if key and names & _KNOWN_FILES)
    if len(found) == 1:
        return found[0]
    if found:
        raise DataError(
            f"{shown}: expected one MovieLens release, found several sub-folders with "
            f"MovieLens files ({', '.join(found)}); give one of them to --data."
        )
    pairs = ", ".join(f"{fmt.ratings} + {fmt.movies}" for fmt in _FORMATS)
    present = sorted(listing[""]) + sorted(k.rstrip("/") + "/" for k in listing if k)
    got = "nothing" if not present else ", ".join(present[:6]) + (", ..." if present[6:] else "")
    raise DataError(
        f"{shown}: expected MovieLens files ({pairs}) in it or in one sub-folder, found {got}; "
        f"download a release from {GROUPLENS_URL} and give its folder or .zip."
    )


def _read_release(folder: _Folder) -> Ratings:
    import pandas as pd  # imported here: `--help` and `validate` never need it

    fmt = next(f for f in _FORMATS if {f.ratings, f.movies} & folder.names)
    for name in (fmt.ratings, fmt.movies):
        if name not in folder.names:
            other = fmt.movies if name == fmt.ratings else fmt.ratings
            raise DataError(
                f"{folder.where(name)}: expected next to {other} (the {fmt.release} format "
                f"needs both), but it is missing; {_FIX}."
            )
    movies_raw = folder.read(fmt.movies)
    movie_ids, catalog = _parse_movies(folder, fmt, movies_raw)
    users, rated_ids, ratings, timestamps = _parse_ratings(folder, fmt)

    # Later rows win on a repeated movie id, as in TFDS's id -> movie dict.
    keep = ~pd.Index(movie_ids).duplicated(keep="last")
    position = pd.Index(movie_ids[keep]).get_indexer(rated_ids)
    unknown = np.flatnonzero(position < 0)
    if unknown.size:
        raise DataError(
            f"{folder.where(fmt.ratings)}: rating {unknown[0] + 1} is of movie id "
            f"{rated_ids[unknown[0]]}, which is not in {fmt.movies} ({unknown.size} of "
            f"{len(rated_ids)} ratings refer to missing ids); use both files of the same "
            f"release ({GROUPLENS_URL})."
        )
    codes, distinct = pd.factorize(users)
    user_names = np.array([str(u) for u in distinct.tolist()], dtype=object)

    digest = hashlib.sha256()
    digest.update(f"{fmt.ratings}:{folder.sha256(fmt.ratings)}\n".encode())
    digest.update(f"{fmt.movies}:{hashlib.sha256(movies_raw).hexdigest()}\n".encode())
    release = folder.label if folder.label.lower().startswith("ml-") else fmt.release
    if fmt.ratings == "ratings.dat" and release == fmt.release:
        release = "ml-1m" if "users.dat" in folder.names else "ml-10m"
    return Ratings(
        user_id=user_names[codes],
        movie_title=catalog[keep][position],
        timestamp=timestamps,
        user_rating=ratings,
        movie_catalog=catalog,
        description=f"MovieLens {release} (GroupLens files in {folder.shown.rstrip(':')})",
        fingerprint=digest.hexdigest(),
    )


def _parse_movies(folder: _Folder, fmt: _Format, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Movie ids (int64) and titles, parsed line by line exactly as TFDS does (small files)."""
    where = folder.where(fmt.movies)
    rows: list[tuple[int, str, str]] = []  # (line number, id, title)
    if fmt.movies == "movies.csv":
        reader = csv.DictReader(io.StringIO(_decode_utf8(raw, where), newline=None))
        if reader.fieldnames is not None and not {"movieId", "title"} <= set(reader.fieldnames):
            raise DataError(
                f"{where}: expected a header with columns movieId,title,genres, found "
                f"{','.join(reader.fieldnames)!r}; {_FIX}."
            )
        for row in reader:
            if row["title"] is None:
                _bad_line(where, reader.line_num, "movieId,title,genres", str(row["movieId"]))
            rows.append((reader.line_num, row["movieId"], row["title"]))
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
                _bad_line(where, number, layout, line)
            rows.append((number, parts[0], parts[1]))
    if not rows:
        raise DataError(f"{where}: expected one line per movie, found no movies; {_FIX}.")
    for number, movie_id, _ in rows:
        if not movie_id.isascii() or not movie_id.isdigit():
            _bad_line(where, number, "a numeric movie id first", movie_id)
    ids = np.array([int(movie_id) for _, movie_id, _ in rows], dtype=np.int64)
    return ids, np.array([title for _, _, title in rows], dtype=object)


def _decode_utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{where}: expected UTF-8 text, found byte 0x{raw[error.start]:02x} on line {line} "
            f"that is not UTF-8 (the file was re-encoded?); {_FIX}."
        ) from None


def _bad_line(where: str, number: int, expected: str, got: str) -> None:
    raise DataError(
        f"{where}: line {number} should be {expected}, found {got.strip()[:80]!r}; "
        f"fix or delete that line, or {_FIX}."
    )


def _parse_ratings(
    folder: _Folder, fmt: _Format
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """User ids, movie ids, ratings (float32) and timestamps (int64), by pandas' C parser."""
    import pandas as pd

    where = folder.where(fmt.ratings)
    types = {"userId": np.int64, "movieId": np.int64, "rating": np.float32, "timestamp": np.int64}
    options = {"dtype": types, "quoting": csv.QUOTE_NONE, "keep_default_na": False, "engine": "c"}
    try:
        if fmt.ratings == "ratings.csv":
            with folder.open(fmt.ratings) as stream:
                header = stream.readline().decode("utf-8-sig", "replace").strip()
            if header and not set(_COLUMNS) <= set(header.split(",")):
                raise DataError(
                    f"{where}: expected a header with columns {','.join(_COLUMNS)}, found "
                    f"{header[:80]!r}; {_FIX}."
                )
            with folder.open(fmt.ratings) as stream:
                frame = pd.read_csv(stream, usecols=list(_COLUMNS), **options)
        elif fmt.ratings == "ratings.dat":
            # 10M lines: turn '::' into tabs so that the C parser does the splitting.
            text = folder.read(fmt.ratings).replace(b"::", b"\t")
            frame = pd.read_csv(io.BytesIO(text), sep="\t", header=None, names=_COLUMNS, **options)
        else:
            with folder.open(fmt.ratings) as stream:
                frame = pd.read_csv(stream, sep="\t", header=None, names=_COLUMNS, **options)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=_COLUMNS)
    except (ValueError, OverflowError, UnicodeDecodeError) as error:  # ParserError too
        _diagnose_ratings(folder, fmt, error)
    except _READ_ERRORS as error:
        raise DataError(f"{where}: cannot be read ({error}); {_FIX}.") from None
    if frame.empty:
        raise DataError(f"{where}: expected {fmt.layout} lines, found no ratings; {_FIX}.")
    return tuple(frame[c].to_numpy() for c in _COLUMNS)  # type: ignore[return-value]


def _diagnose_ratings(folder: _Folder, fmt: _Format, error: Exception) -> None:
    """Name the first malformed line; runs only after pandas failed, so speed is no issue."""
    where = folder.where(fmt.ratings)
    sep = {"ratings.csv": ",", "ratings.dat": "::"}.get(fmt.ratings, "\t")
    line_re = re.compile(sep.join([r"\d{1,18}", r"\d{1,18}", r"\d{1,3}(\.\d*)?", r"\d{1,18}"]))
    try:
        with folder.open(fmt.ratings) as stream:
            for number, line in enumerate(stream, start=1):
                text = line.decode("latin-1").strip()
                if text and not (number == 1 and sep == ",") and not line_re.fullmatch(text):
                    _bad_line(where, number, fmt.layout, text)
    except _READ_ERRORS as read_error:
        raise DataError(f"{where}: cannot be read ({read_error}); {_FIX}.") from None
    raise DataError(f"{where}: expected {fmt.layout} lines, parsing failed ({error}); {_FIX}.")
