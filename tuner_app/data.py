"""Data sources -> one feature schema (`Ratings`) and the tutorial's train/test split.

Three sources, chosen with `--data` (see `parse_data_arg`):

- ``tfds``: TensorFlow Datasets' ``movielens/*`` (read elsewhere, so this module never
  imports TensorFlow); here only described by a `DataSpec`.
- ``grouplens``: the files GroupLens publishes (a folder or a .zip, read in place), parsed
  so that every field equals what TFDS gives for the same release.
- ``synthetic``: MovieLens-shaped data with a learnable structure, for tests and offline demos.

numpy, pandas and the standard library only; pandas is imported when files are read, so
importing this module (for `parse_data_arg`) stays cheap.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np

from tuner_app.errors import DataError

GROUPLENS_URL = "https://grouplens.org/datasets/movielens/"
TFDS_VARIANTS = ("100k", "1m", "20m", "25m", "latest-small")


@dataclass(frozen=True, eq=False)
class Ratings:
    """One feature schema whatever the source; every array has one row per rating.

    Attributes:
        user_id: dtype object, Python ``str`` of the user number, e.g. ``"196"``.
        movie_title: dtype object, Python ``str``, e.g. ``"Kolya (1996)"``.
        timestamp: int64 seconds since the epoch.
        user_rating: float32, 0.5 to 5.
        movie_catalog: dtype object ``str``: the title of every row of the movies file, in
            file order, duplicates kept (as TFDS's ``movielens/*-movies`` gives them).
        description: human readable origin, for logs and reports.
        fingerprint: sha256 hex of the content (raw file bytes, or synthetic parameters).
    """

    user_id: np.ndarray
    movie_title: np.ndarray
    timestamp: np.ndarray
    user_rating: np.ndarray
    movie_catalog: np.ndarray
    description: str
    fingerprint: str

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and seed of a synthetic data set (`make_synthetic`)."""

    users: int = 300
    movies: int = 400
    ratings: int = 20_000
    seed: int = 0


@dataclass(frozen=True)
class DataSpec:
    """Where the ratings come from; built by `parse_data_arg` before TensorFlow loads.

    Attributes:
        kind: ``"tfds"``, ``"grouplens"`` or ``"synthetic"``.
        path: the GroupLens folder or .zip (kind ``"grouplens"``).
        tfds_name: the TFDS variant prefix: ratings are ``f"{tfds_name}-ratings"``,
            movies ``f"{tfds_name}-movies"``.
        synthetic: sizes and seed (kind ``"synthetic"``).
    """

    kind: Literal["tfds", "grouplens", "synthetic"]
    path: str | None = None
    tfds_name: str = "movielens/100k"
    synthetic: SyntheticSpec | None = None


def parse_data_arg(arg: str | None) -> DataSpec:
    """Parse the ``--data`` value; cheap checks only (syntax, existence).

    Accepted: ``None``/``"tfds"``, ``"tfds:movielens/1m"``, ``"synthetic"``,
    ``"synthetic:users=50,movies=80,ratings=2000,seed=3"`` (any subset of the keys), or a
    path to a GroupLens folder or .zip (write ``./tfds`` for a folder named like a keyword).

    Raises:
        DataError: the value is none of these.
    """
    if arg is None or arg.strip() == "tfds":
        return DataSpec("tfds")
    text = arg.strip()
    if text.startswith("tfds:"):
        return DataSpec("tfds", tfds_name=_check_tfds_name(text[len("tfds:") :]))
    if text == "synthetic" or text.startswith("synthetic:"):
        return DataSpec("synthetic", synthetic=_parse_synthetic(text[len("synthetic:") :]))
    path = Path(text).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
        return DataSpec("grouplens", path=str(path.resolve()))
    if path.is_file():
        raise DataError(
            f"--data: expected a GroupLens MovieLens folder or .zip; got the file {text!r}; "
            "give the folder that contains it (or the .zip as downloaded)."
        )
    raise DataError(
        f"--data: no such file or folder: {text!r}; give a GroupLens MovieLens folder or .zip "
        f"({GROUPLENS_URL}), 'synthetic' or 'tfds'."
    )


def _check_tfds_name(name: str) -> str:
    variant = name.removeprefix("movielens/")
    for suffix in ("-ratings", "-movies"):
        if name.startswith("movielens/") and variant.endswith(suffix):
            raise DataError(
                f"--data: tfds name {name!r} must be the variant prefix without {suffix!r}; "
                f"write 'tfds:{name.removesuffix(suffix)}'."
            )
    if not name.startswith("movielens/") or variant not in TFDS_VARIANTS:
        choices = ", ".join(f"movielens/{v}" for v in TFDS_VARIANTS)
        raise DataError(f"--data: tfds name must be one of {choices}; got {name!r}.")
    return name


def _parse_synthetic(options: str) -> SyntheticSpec:
    values: dict[str, int] = {}
    keys = ("users", "movies", "ratings", "seed")
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or key not in keys:
            raise DataError(
                f"--data: synthetic options are key=value pairs with keys {', '.join(keys)} "
                f"(e.g. 'synthetic:users=50,ratings=2000'); got {item!r}."
            )
        if key in values:
            raise DataError(f"--data: synthetic option {key!r} is given twice; keep one.")
        least = 0 if key == "seed" else 1
        if not re.fullmatch(r"\d+", value) or int(value) < least:
            kind = "an integer >= 0" if key == "seed" else "a positive integer"
            raise DataError(f"--data: synthetic option {key!r} must be {kind}; got {value!r}.")
        values[key] = int(value)
    spec = SyntheticSpec(**values)
    _check_synthetic(spec, "--data")
    return spec


def _check_synthetic(spec: SyntheticSpec, where: str) -> None:
    for key in ("users", "movies", "ratings", "seed"):
        value = getattr(spec, key)
        least = 0 if key == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            kind = "an integer >= 0" if key == "seed" else "a positive integer"
            raise DataError(f"{where}: synthetic option {key!r} must be {kind}; got {value!r}.")
    if spec.ratings > spec.users * spec.movies:
        raise DataError(
            f"{where}: synthetic ratings={spec.ratings} is more than users*movies="
            f"{spec.users * spec.movies} (each user rates a movie at most once); "
            "lower ratings or raise users or movies."
        )


def split_indices(
    n: int, train_fraction: float = 0.8, test_fraction: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's split: shuffle all rows once, take train, then the next rows as test.

    Rows are permuted with ``np.random.default_rng(seed).permutation(n)``; the first
    ``round(n * train_fraction)`` are train, the next ``round(n * test_fraction)`` test
    (fewer if rounding would run past ``n``). The caller checks the fractions.

    Returns:
        ``(train, test)`` int64 row indices, disjoint.
    """
    if not (0 <= train_fraction <= 1 and 0 <= test_fraction <= 1):
        raise ValueError(f"fractions must be in [0, 1]; got {train_fraction}, {test_fraction}")
    if train_fraction + test_fraction > 1 + 1e-9:
        raise ValueError(f"train+test fractions must be <= 1; got {train_fraction + test_fraction}")
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_train = min(n, round(n * train_fraction))
    n_test = min(n - n_train, round(n * test_fraction))
    return order[:n_train], order[n_train : n_train + n_test]


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


def make_synthetic(spec: SyntheticSpec) -> Ratings:
    """MovieLens-shaped ratings with a learnable structure; the same for the same spec.

    Users have tastes over 8 latent genres, movie popularity is Zipf-like, each user rates
    a long-tailed number of distinct movies (at least 5 when there are enough ratings),
    ratings 1..5 follow taste and quality, timestamps fall in 1997-2003, and titles are
    words from genre pools plus a year, with about 1% repeated titles as in MovieLens.
    Exactly ``spec.ratings`` rows; user ids "1".."N" (only users with ratings).

    Raises:
        DataError: a size is not positive, or ``ratings > users * movies``.
    """
    _check_synthetic(spec, "synthetic data")
    return _make_synthetic(spec)


# --------------------------------------------------------------------- GroupLens files


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
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            raise DataError(f"{self.where(name)}: cannot be read ({error}); {_FIX}.") from None

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        try:
            with self.open(name) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        except (OSError, zipfile.BadZipFile, EOFError) as error:
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
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{where}: cannot be read ({error}); {_FIX}.") from None
    if frame.empty:
        raise DataError(f"{where}: expected {fmt.layout} lines, found no ratings; {_FIX}.")
    return tuple(frame[c].to_numpy() for c in _COLUMNS)  # type: ignore[return-value]


def _diagnose_ratings(folder: _Folder, fmt: _Format, error: Exception) -> None:
    """Name the first malformed line; runs only after pandas failed, so speed is no issue."""
    where = folder.where(fmt.ratings)
    sep = {"ratings.csv": ",", "ratings.dat": "::"}.get(fmt.ratings, "\t")
    line_re = re.compile(sep.join([r"\d{1,18}", r"\d{1,18}", r"\d{1,3}(\.\d*)?", r"\d{1,18}"]))
    with folder.open(fmt.ratings) as stream:
        for number, line in enumerate(stream, start=1):
            text = line.decode("latin-1").strip()
            if text and not (number == 1 and sep == ",") and not line_re.fullmatch(text):
                _bad_line(where, number, fmt.layout, text)
    raise DataError(f"{where}: expected {fmt.layout} lines, parsing failed ({error}); {_FIX}.")


# ---------------------------------------------------------------------- synthetic data

_SYNTHETIC_VERSION = 1  # part of the fingerprint: bump it when the generator changes
# One word pool per latent genre, so that titles share words with their genre-mates and a
# text vectorizer on titles has something to learn.
# fmt: off
_GENRE_WORDS = (
    ("Gun", "Fury", "Strike", "Bullet", "Mission", "Target", "Thunder", "Blade", "Force", "Raid"),
    ("Love", "Heart", "Kiss", "Wedding", "Summer",
     "Promise", "Letters", "Bride", "Tango", "Desire"),
    ("Ghost", "Blood", "Night", "Curse", "Shadow", "Scream", "Grave", "Haunting", "Witch", "Fear"),
    ("Star", "Planet", "Robot", "Galaxy", "Signal", "Machine", "Orbit", "Future", "Alien", "Code"),
    ("Family", "Holiday", "Dog", "Adventure", "Christmas",
     "Treasure", "Dragon", "Magic", "Kid", "Pirate"),
    ("Murder", "Detective", "Heist", "Crime", "Money",
     "Street", "Witness", "Killer", "Case", "Alibi"),
    ("Party", "Crazy", "Dumb", "Trouble", "Vacation",
     "Roommates", "Boss", "Funny", "Neighbors", "Date"),
    ("War", "Soldier", "Battle", "Empire", "King",
     "Glory", "Sword", "Frontier", "Outlaw", "Saddle"),
)
_ADJECTIVES = (
    "Silver", "Dark", "Last", "Lost", "Golden", "Broken", "Secret", "Silent", "Little",
    "Great", "Red", "Hidden", "Endless", "Final", "Lonely", "Burning", "Frozen", "Wild",
    "Bright", "Distant",
)
_NOUNS = (
    "Dreams", "City", "Road", "Island", "Game", "House", "Man", "Woman", "Story", "Day", "Sky",
    "Children", "Moon", "Journey", "Legacy", "Truth", "Horizon", "River", "Winter", "Town",
)
# fmt: on
_PATTERNS = ("{a} {g} {n}", "The {a} {g}", "{g} of the {n}", "{a} {n}", "The {g} {n}", "{g} {n}")
_FIRST_DAY, _LAST_SECOND = 852_076_800, 1_072_915_199  # 1997-01-01 .. 2003-12-31 (UTC)


def _make_synthetic(spec: SyntheticSpec) -> Ratings:
    rng = np.random.default_rng(spec.seed)
    n_movies, n_genres = spec.movies, len(_GENRE_WORDS)
    # Movies: one main genre and maybe two more; Zipf-like popularity; a quality that
    # leans towards popular movies.
    main = rng.integers(0, n_genres, n_movies)
    genres = np.zeros((n_movies, n_genres))
    genres[np.arange(n_movies), main] = 1.0
    for _ in range(2):
        extra, has = rng.integers(0, n_genres, n_movies), rng.random(n_movies) < 0.3
        genres[np.flatnonzero(has), extra[has]] = 1.0
    genres /= genres.sum(axis=1, keepdims=True)
    log_popularity = -np.log1p(rng.permutation(n_movies).astype(float))
    quality = rng.normal(0.0, 1.0, n_movies) + 0.3 * (log_popularity - log_popularity.mean())
    titles = _make_titles(rng, main)
    # A few repeated titles, as MovieLens has (ml-100k: 18): a user rates at most one of the
    # two rows, so only as many as the requested ratings leave room for.
    n_dup = max(0, min(n_movies // 100, n_movies - -(-spec.ratings // spec.users)))
    shuffled = rng.permutation(n_movies)
    dups, originals = shuffled[:n_dup], shuffled[n_dup : 2 * n_dup]
    titles[dups] = titles[originals]

    counts = _ratings_per_user(rng, spec.users, spec.ratings, cap=n_movies - n_dup)
    taste = rng.dirichlet(np.full(n_genres, 0.3), size=len(counts))
    user, movie, affinity = _pick_movies(
        rng, taste, genres, log_popularity, counts, dups, originals
    )

    # Ratings follow taste, movie quality and each user's generosity.
    n = len(user)
    z = (affinity - affinity.mean()) / (affinity.std() + 1e-9)
    generosity = rng.normal(0.0, 0.4, len(counts))
    raw = 3.5 + 0.8 * z + 0.35 * quality[movie] + generosity[user] + rng.normal(0.0, 0.6, n)
    rating = np.clip(np.rint(raw), 1, 5).astype(np.float32)
    # Each user is active for a while (days to years) inside 1997-2003.
    span = _LAST_SECOND - _FIRST_DAY
    length = np.minimum(span, (rng.exponential(120.0, len(counts)) + 1.0) * 86_400).astype(np.int64)
    begin = _FIRST_DAY + (rng.random(len(counts)) * (span - length)).astype(np.int64)
    timestamp = begin[user] + (rng.random(n) * length[user]).astype(np.int64)

    order = rng.permutation(n)  # MovieLens files are not grouped by user either
    user_names = np.array([str(i) for i in range(1, len(counts) + 1)], dtype=object)
    params = f"users={spec.users}, movies={spec.movies}, ratings={spec.ratings}, seed={spec.seed}"
    return Ratings(
        user_id=user_names[user[order]],
        movie_title=titles[movie[order]],
        timestamp=timestamp[order],
        user_rating=rating[order],
        movie_catalog=titles,
        description=f"synthetic MovieLens-shaped ratings ({params})",
        fingerprint=hashlib.sha256(
            f"synthetic v{_SYNTHETIC_VERSION}: {params}".encode()
        ).hexdigest(),
    )


def _make_titles(rng: np.random.Generator, main: np.ndarray) -> np.ndarray:
    """Distinct titles like "Silver Ghost Dreams (1994)"; a repeat becomes a sequel ("... 2")."""
    n = len(main)
    pattern, adjective = rng.integers(0, len(_PATTERNS), n), rng.integers(0, len(_ADJECTIVES), n)
    noun, word = rng.integers(0, len(_NOUNS), n), rng.integers(0, len(_GENRE_WORDS[0]), n)
    year = 1998 - np.minimum(68, rng.exponential(8.0, n).astype(int))
    titles: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        core = _PATTERNS[pattern[i]].format(
            a=_ADJECTIVES[adjective[i]], n=_NOUNS[noun[i]], g=_GENRE_WORDS[main[i]][word[i]]
        )
        title, sequel = f"{core} ({year[i]})", 1
        while title in seen:
            sequel += 1
            title = f"{core} {sequel} ({year[i]})"
        seen.add(title)
        titles.append(title)
    return np.array(titles, dtype=object)


def _ratings_per_user(rng: np.random.Generator, users: int, total: int, cap: int) -> np.ndarray:
    """Long-tailed counts in [1, cap] summing to ``total``; at least 5 when there are enough."""
    least = min(5, cap)
    active = min(users, -(-total // least))  # too few ratings: fewer users, not thinner ones
    counts = np.full(active, min(least, total // active), dtype=np.int64)
    weight = rng.lognormal(0.0, 1.0, active)
    rest = total - int(counts.sum())
    while rest > 0:  # active * cap >= total, so this ends
        room = cap - counts
        share = weight * (room > 0)
        added = np.minimum(rng.multinomial(rest, share / share.sum()), room)
        counts += added
        rest -= int(added.sum())
    return counts


def _pick_movies(
    rng: np.random.Generator,
    taste: np.ndarray,
    genres: np.ndarray,
    log_popularity: np.ndarray,
    counts: np.ndarray,
    dups: np.ndarray,
    originals: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's movies, without replacement, by Gumbel-top-k on popularity + taste.

    Returns the user index, movie index and taste affinity of every rating.
    """
    n_movies = len(log_popularity)
    dup_of = np.full(n_movies, -1)
    dup_of[originals] = dups
    chunk = max(1, 2_000_000 // n_movies)  # bounds memory to a few (chunk x movies) arrays
    users, movies, affinities = [], [], []
    for start in range(0, len(counts), chunk):
        count = counts[start : start + chunk]
        rows = np.arange(len(count))
        affinity = taste[start : start + len(count)] @ genres.T
        score = log_popularity + 4.0 * affinity + rng.gumbel(size=affinity.shape)
        # A title's two rows compete as one: the better score stands for both.
        use_dup = score[:, dups] > score[:, originals]
        score[:, originals] = np.maximum(score[:, originals], score[:, dups])
        score[:, dups] = -np.inf
        top = int(count.max())
        best = np.argpartition(-score, top - 1, axis=1)[:, :top] if top < n_movies else None
        if best is None:
            best = np.argsort(-score, axis=1)
        else:
            best = np.take_along_axis(
                best, np.argsort(-np.take_along_axis(score, best, axis=1), axis=1), axis=1
            )
        row = np.repeat(rows, count)
        movie = best[np.arange(best.shape[1]) < count[:, None]]
        if len(dups):
            swap = np.zeros(score.shape, dtype=bool)
            swap[:, originals] = use_dup
            flip = swap[row, movie]
            movie[flip] = dup_of[movie[flip]]
        users.append(row + start)
        movies.append(movie)
        affinities.append(affinity[row, movie])
    return np.concatenate(users), np.concatenate(movies), np.concatenate(affinities)
