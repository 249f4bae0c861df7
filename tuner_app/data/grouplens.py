"""GroupLens MovieLens releases (a folder or a .zip, read in place) -> `Ratings`.

`load_grouplens` finds the release's files (in the folder itself or in one sub-folder),
tells the format from their names (ml-100k ``u.data``/``u.item``; ml-1m and ml-10m
``ratings.dat``/``movies.dat``; ml-latest, ml-20m, ml-25m, ml-32m ``ratings.csv``/
``movies.csv``) and reads them (`data.grouplens_files`) so that every field equals what
TFDS gives for the same release, with the side features the release has (users' age,
gender, occupation and zip where it has a users file; every movie's genres and year).

numpy, pandas and the standard library only; pandas is imported when files are read, so
importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from tuner_app.data.grouplens_files import (
    FIX,
    FORMATS,
    KNOWN_FILES,
    Folder,
    parse_movies,
    parse_users,
)
from tuner_app.data.grouplens_ratings import parse_ratings
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
        return _read_release(Folder(None, base, listing[sub], base, sub or root.resolve().name))
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
        return _read_release(Folder(archive, sub, listing[sub], shown, label))


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
    if listing[""] & KNOWN_FILES:
        return ""
    found = sorted(key for key, names in listing.items() if key and names & KNOWN_FILES)
    if len(found) == 1:
        return found[0]
    if found:
        raise DataError(
            f"{shown}: expected one MovieLens release, found several sub-folders with "
            f"MovieLens files ({', '.join(found)}); give one of them to --data."
        )
    pairs = ", ".join(f"{fmt.ratings} + {fmt.movies}" for fmt in FORMATS)
    present = sorted(listing[""]) + sorted(k.rstrip("/") + "/" for k in listing if k)
    got = "nothing" if not present else ", ".join(present[:6]) + (", ..." if present[6:] else "")
    raise DataError(
        f"{shown}: expected MovieLens files ({pairs}) in it or in one sub-folder, found {got}; "
        f"download a release from {GROUPLENS_URL} and give its folder or .zip."
    )


def _read_release(folder: Folder) -> Ratings:
    import pandas as pd  # imported here: `--help` and `validate` never need it

    fmt = next(f for f in FORMATS if {f.ratings, f.movies} & folder.names)
    for name in (fmt.ratings, fmt.movies):
        if name not in folder.names:
            other = fmt.movies if name == fmt.ratings else fmt.ratings
            found = "is a folder" if folder.archive is None and os.path.isdir(folder.where(name)) else "is missing"
            raise DataError(
                f"{folder.where(name)}: expected next to {other} (the {fmt.release} format "
                f"needs both), but it {found}; {FIX}."
            )
    movies_raw = folder.read(fmt.movies)
    movie_ids, catalog, movie_side = parse_movies(folder, fmt, movies_raw)
    ratings_sha256, lines = folder.digest(fmt.ratings)
    # Later rows win on a repeated movie id, as in TFDS's id -> movie dict.
    keep = ~pd.Index(movie_ids).duplicated(keep="last")
    rows = parse_ratings(folder, fmt, lines, movie_ids[keep], catalog[keep])

    digest = hashlib.sha256()
    digest.update(f"{fmt.ratings}:{ratings_sha256}\n".encode())
    digest.update(f"{fmt.movies}:{hashlib.sha256(movies_raw).hexdigest()}\n".encode())
    release = folder.label if folder.label.lower().startswith("ml-") else fmt.release
    if fmt.ratings == "ratings.dat" and release == fmt.release:
        release = "ml-1m" if "users.dat" in folder.names else "ml-10m"
    return Ratings(
        user_id=rows.user_id,
        item_id=rows.movie_title,
        timestamp=rows.timestamp,
        user_rating=rows.user_rating,
        item_catalog=catalog,
        item_text=catalog,  # a movie is its title
        description=f"MovieLens {release} (GroupLens files in {folder.shown.rstrip(':')})",
        fingerprint=digest.hexdigest(),
        users=parse_users(folder, fmt),
        items=movie_side,
    )
