"""A user's own data, as a data YAML (or a lone interactions file) describes it: frozen records.

`data_yaml.read_data_yaml` builds an `OwnDataSpec` from a YAML file and `file_spec` one
from an interactions file given alone; `own.load_own_data` reads what it names. The
settings that decide what is read (`OwnDataSpec.settings`) go into the data's
fingerprint, so resuming a search with other settings is refused as other data is.
Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

#: What `--data` reads as an interactions (or side) table, by the end of the file name.
TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")
YAML_SUFFIXES = (".yaml", ".yml")
#: A feature becomes the hyperparameter `feature_<name>`: a Python-like identifier.
FEATURE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
DUPLICATES = ("all", "first", "last")
TIMESTAMP_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
#: Quantile buckets of a numeric feature given as a list (`numeric: [price]`).
DEFAULT_BUCKETS = 10
#: Separator of a multi-valued feature given as a list (`multi_valued: [tags]`).
DEFAULT_SEPARATOR = "|"


def table_suffix(path: str) -> str | None:
    """The table suffix `path` ends with (case-insensitive), or None."""
    lower = path.lower()
    return next((s for s in sorted(TABLE_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), None)


@dataclass(frozen=True)
class InteractionsSpec:
    """The interactions file and its columns.

    Attributes:
        path: the file, resolved.
        columns: role ("user", "item", "timestamp", "rating") -> column, for the roles the
            YAML names; a column None means "the file has none" (timestamp and rating
            only). Roles left out are detected from the file's columns (`data.columns`).
        timestamp_unit: what a numeric timestamp counts: s, ms, us or ns since 1970.
        separator: the CSV field separator (default: tab for .tsv, comma otherwise).
    """

    path: str
    columns: dict[str, str | None] = field(default_factory=dict)
    timestamp_unit: str = "s"
    separator: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """A users' or items' table: one row per id, and the columns that become features.

    Attributes:
        path: the file, resolved.
        id: its id column (default: the interactions' user or item column's name).
        text: items: columns whose words the candidate tower averages (joined with
            spaces); users: each becomes a multi-valued feature of its lower-cased words.
        categorical: one category a row.
        multi_valued: column -> separator ("Action|Comedy").
        numeric: column -> number of quantile buckets.
        rename: column -> feature name, for columns whose name is no feature name.
        separator: the CSV field separator.
    """

    path: str
    id: str | None = None
    text: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    multi_valued: dict[str, str] = field(default_factory=dict)
    numeric: dict[str, int] = field(default_factory=dict)
    rename: dict[str, str] = field(default_factory=dict)
    separator: str | None = None

    def feature_columns(self, side: Literal["user", "item"]) -> list[str]:
        """The columns that become features, in the order of the YAML's kinds."""
        words = list(self.text) if side == "user" else []
        return [*self.categorical, *self.multi_valued, *self.numeric, *words]

    def feature_name(self, column: str) -> str:
        return self.rename.get(column, column)


@dataclass(frozen=True)
class Preprocessing:
    """What is done to the interactions once read, in RecBole's order: duplicates, the
    rating threshold, then k-core filtering (`data.preprocess`)."""

    duplicates: Literal["all", "first", "last"] = "all"
    min_rating: float | None = None
    min_user_interactions: int = 1
    min_item_interactions: int = 1


@dataclass(frozen=True)
class OwnDataSpec:
    """Everything a data YAML (or a lone interactions file) says.

    Attributes:
        source: the YAML file or the interactions file, resolved (`DataSpec.path`).
        shown: how messages name the source (the path as given).
    """

    source: str
    shown: str
    interactions: InteractionsSpec
    items: TableSpec | None = None
    users: TableSpec | None = None
    preprocessing: Preprocessing = Preprocessing()

    def settings(self, columns: dict[str, str | None]) -> dict:
        """What decides the data besides the files' bytes, paths left out: the interactions'
        resolved `columns`, the unit, the tables' features and the preprocessing."""
        def table(spec: TableSpec | None) -> dict | None:
            if spec is None:
                return None
            kept = asdict(spec)
            kept.pop("path")
            kept["text"], kept["categorical"] = list(spec.text), list(spec.categorical)
            return kept

        return {"interactions": {"columns": columns, "timestamp_unit": self.interactions.timestamp_unit,
                                 "separator": self.interactions.separator},
                "items": table(self.items), "users": table(self.users),
                "preprocessing": asdict(self.preprocessing)}
