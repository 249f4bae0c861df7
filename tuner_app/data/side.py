"""Side features: what a data source knows of its users and movies beyond the ratings.

Every source gives what it has, in one form: a `SideFeatures` table per side, one
row per user id (users) or per catalogue row (movies), each feature a column of
category strings ("" where unknown). MovieLens sources have these
(`space.names.SIDE_FEATURES`); a data YAML names its own (`data.own`):

* users: `age` (the ml-1m age bucket: 1, 18, 25, 35, 45, 50, 56), `gender`,
  `occupation`, `zip` (its first three characters, a region);
* movies: `genres` ("Action|Comedy"; a movie may have several), `year` (of release,
  or the year in the title).

numpy only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

#: ml-1m's age buckets, by their lower bound; ml-100k's ages are put into them.
AGE_BUCKETS = (1, 18, 25, 35, 45, 50, 56)
#: ml-100k's genre flags, in u.item's column order (its u.genre).
ML_100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                  "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                  "War", "Western")
_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")


@dataclass(frozen=True, eq=False)
class SideFeatures:
    """Features of one side, by row: `ids` (user ids, or catalogue items) and a column per feature.

    Each column holds category strings ("" where unknown). A feature with several values a
    row (MovieLens genres, "Action|Comedy"; a user's tags) names its separator in `separators`;
    the others are one category a row, whatever characters they hold.
    """

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    separators: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def __len__(self) -> int:
        return len(self.ids)


def age_bucket(age: str) -> str:
    """An age in years as its ml-1m bucket ("25" for 25-34); "" when not a number."""
    if not age.strip().isdigit():
        return ""
    years = int(age)
    return str(max(b for b in AGE_BUCKETS if b <= max(years, 1)))


def zip_region(zip_code: str) -> str:
    """A zip code's first three characters (its region), upper-cased."""
    return zip_code.strip()[:3].upper()


def year_of(title: str, release_date: str = "") -> str:
    """The release year: from a date such as '01-Jan-1995', else from '(1995)' ending the title."""
    found = re.search(r"(\d{4})\s*$", release_date.strip())
    if found:
        return found.group(1)
    found = _YEAR_IN_TITLE.search(title)
    return found.group(1) if found else ""


def genres_of(text: str) -> str:
    """A genres field ('Action|Comedy'), with 'no genres' spellings as empty."""
    text = text.strip()
    return "" if text in ("(no genres listed)", "") else text


def movie_features(titles: np.ndarray, genres: list[str], years: list[str]) -> SideFeatures:
    return SideFeatures(titles, {"genres": np.array(genres, dtype=object), "year": np.array(years, dtype=object)},
                        separators={"genres": "|"})


@dataclass(frozen=True, eq=False)
class EncodedSide:
    """One side feature as the towers read it: integer codes, 0 for unknown.

    `codes[i]` is the code of row `rows[i]` (a user id or a title id; sorted). A user
    feature has one code a user, a movie's genres several codes a title. `side` says
    which tower it feeds: "user" (the query tower) or "item" (the candidate tower).
    `weights[i]`, where given, weighs code i in its row (a rated history's ratings).
    """

    codes: np.ndarray  # int32
    rows: np.ndarray  # int32, sorted
    size: int  # distinct codes, 0 (unknown) included
    side: str = "user"
    weights: np.ndarray | None = None  # float32, one a code


def encode_side(side: SideFeatures, name: str, ids: np.ndarray, tower: str = "user") -> EncodedSide:
    """Codes of feature `name` for each of `ids` (user ids, or titles: row i + 1 is `ids[i]`).

    Where `side` lists an id twice (a title repeated in the catalogue) the last row wins,
    as it does for the ratings. A multi-valued feature's values are split on its separator
    (`SideFeatures.separators`); "" is unknown.
    """
    separator = side.separators.get(name)

    def parts_of(value: str) -> list[str]:
        return [part for part in value.split(separator) if part] if separator else [value] if value else []

    position = {key: row for row, key in enumerate(side.ids.tolist())}
    column = side.columns[name]
    per_id = [column[position[key]] if key in position else "" for key in ids.tolist()]
    categories = sorted({part for value in per_id for part in parts_of(value)})
    code = {category: i + 1 for i, category in enumerate(categories)}
    codes, rows = [], []
    for row, value in enumerate(per_id, start=1):
        parts = parts_of(value) or [""]
        for part in parts:
            codes.append(code.get(part, 0))
            rows.append(row)
    return EncodedSide(np.array(codes, np.int32), np.array(rows, np.int32), len(categories) + 1, tower)
