"""A data YAML (`--data shop.yaml`) -> a checked `OwnDataSpec`, before anything is read.

Checked here, as space files are: the YAML itself (a regular UTF-8 file of at most 64 KB,
no key given twice), every key (an unknown one is named with the nearest known key) and
the type of every value, that the files exist and are tables (`.csv`, `.tsv`, `.csv.gz`,
`.tsv.gz`, `.parquet`; paths resolve against the YAML's folder), and that every feature
has a name `feature_<name>` can be made of. What needs the files' contents (columns,
values) is checked when they are read (`data.own`). PyYAML and the standard library only.

    interactions: {path: interactions.parquet, user: customer, item: sku, timestamp: ts, rating: qty}
    items: {path: items.csv, id: sku, text: [title], categorical: [category],
            multi_valued: {tags: "|"}, numeric: {price: 8}}
    users: {path: users.csv, id: customer, categorical: [region]}
    preprocessing: {duplicates: last, min_rating: 2, min_user_interactions: 5, min_item_interactions: 5}
"""

from __future__ import annotations

import difflib
import math
import stat
from pathlib import Path
from typing import Any

import yaml

from tuner_app.data.own.spec import (
    DEFAULT_BUCKETS,
    DEFAULT_SEPARATOR,
    DUPLICATES,
    FEATURE_NAME,
    TABLE_SUFFIXES,
    TIMESTAMP_UNITS,
    InteractionsSpec,
    OwnDataSpec,
    Preprocessing,
    TableSpec,
    table_suffix,
)
from tuner_app.errors import DataError
from tuner_app.space.names import DERIVED_FEATURES

MAX_BYTES = 64 * 1024
KEYS = {
    "": ("interactions", "items", "users", "preprocessing"),
    "interactions": ("path", "user", "item", "timestamp", "rating", "timestamp_unit", "separator"),
    "table": ("path", "id", "text", "categorical", "multi_valued", "numeric", "rename", "separator"),
    "preprocessing": ("duplicates", "min_rating", "min_user_interactions", "min_item_interactions"),
}


def file_spec(path: str | Path, shown: str | None = None) -> OwnDataSpec:
    """An interactions file given alone: every column detected, nothing preprocessed."""
    path = Path(path)
    return OwnDataSpec(str(path.resolve()), shown or str(path), InteractionsSpec(str(path.resolve())))


def read_data_yaml(path: str | Path, shown: str | None = None) -> OwnDataSpec:
    """Reads and checks a data YAML; the files it names must exist (they are not read).

    Raises:
        DataError: one sentence naming the file, the key, what was expected and what was given.
    """
    path = Path(path)
    where = shown or str(path)
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise DataError(f"{where}: is not a regular file; give the data YAML's path.")
        if path.stat().st_size > MAX_BYTES:
            raise DataError(f"{where}: is {path.stat().st_size / 1024:.0f} KB; a data YAML names files and "
                            f"columns in a few lines (at most {MAX_BYTES // 1024} KB are read).")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{where}: cannot be read as a UTF-8 text file ({error}).") from None
    return _Checker(where, path.resolve().parent).spec(_load_yaml(text, where), str(path.resolve()))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise _DuplicateKey(f"key '{key}' is given twice, on lines {seen[key]} and {line}; keep one")
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    pass


def _load_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as error:
        raise DataError(f"{where}: {error}.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise DataError(f"{where}: is not valid YAML{at}: {problem}.") from None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return f"{value!r} (a boolean: YAML reads yes/no/on/off so; quote it)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and value.lower().replace(".", "", 1).replace("e-", "", 1).isdigit():
        return f"{value!r} (a string: YAML reads 1e-3 as text; write 0.001)"
    return repr(value)


class _Checker:
    def __init__(self, where: str, folder: Path):
        self.where, self.folder = where, folder

    def fail(self, key: str, expected: str, got: Any) -> None:
        raise DataError(f"{self.where}: {key} must be {expected}; got {_shown(got)}.")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.fail(key or "the file", "a mapping of " + ", ".join(allowed), value)
        for name in value:
            if not isinstance(name, str) or name not in allowed:
                near = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
                hint = f"did you mean {near[0]}? " if near else ""
                raise DataError(f"{self.where}: {key + '.' if key else ''}{name} is not a known key; {hint}"
                                f"expected one of {', '.join(allowed)}.")
        return value

    def spec(self, raw: Any, source: str) -> OwnDataSpec:
        raw = self.mapping(raw, "", KEYS[""])
        if "interactions" not in raw:
            raise DataError(f"{self.where}: expected an 'interactions' key naming the interactions file "
                            "(e.g. 'interactions: {path: interactions.csv}'); found none.")
        interactions = self.interactions(raw["interactions"])
        items = self.table(raw["items"], "items", interactions.columns.get("item")) if "items" in raw else None
        users = self.table(raw["users"], "users", interactions.columns.get("user")) if "users" in raw else None
        preprocessing = self.preprocessing(raw.get("preprocessing"))
        if preprocessing.min_rating is not None and "rating" in interactions.columns \
                and interactions.columns["rating"] is None:
            raise DataError(f"{self.where}: preprocessing.min_rating needs a rating column, and interactions.rating "
                            "says there is none; name the rating column or remove min_rating.")
        self.check_features(items, users)
        return OwnDataSpec(source, self.where, interactions, items, users, preprocessing)

    def path(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "a file name", value)
        path = Path(value).expanduser()
        path = path if path.is_absolute() else self.folder / path
        if table_suffix(value) is None:
            raise DataError(f"{self.where}: {key} must name a {', '.join(TABLE_SUFFIXES)} file; got {value!r}.")
        if not path.is_file():
            raise DataError(f"{self.where}: {key} names {value!r}, but there is no such file ({path}); paths are "
                            "relative to the YAML's folder.")
        return str(path.resolve())

    def column(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(key, "a column name (a string; quote names YAML reads otherwise)", value)
        return value

    def separator(self, value: Any, key: str, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) != 1:
            self.fail(key, "one character (the CSV field separator, e.g. ';')", value)
        if path.lower().endswith(".parquet"):
            raise DataError(f"{self.where}: {key} applies to CSV and TSV files, not to the Parquet file "
                            f"{Path(path).name}; remove it.")
        return value

    def interactions(self, raw: Any) -> InteractionsSpec:
        if isinstance(raw, str):
            raw = {"path": raw}
        raw = self.mapping(raw, "interactions", KEYS["interactions"])
        if "path" not in raw:
            raise DataError(f"{self.where}: interactions.path is missing; name the interactions file.")
        path = self.path(raw["path"], "interactions.path")
        columns: dict[str, str | None] = {}
        for role in ("user", "item", "timestamp", "rating"):
            if role not in raw:
                continue
            if role in ("timestamp", "rating") and raw[role] in (None, False):
                columns[role] = None  # the file has none, even if a column is named like one
            else:
                columns[role] = self.column(raw[role], f"interactions.{role}")
        if "user" in columns and columns.get("user") == columns.get("item"):
            raise DataError(f"{self.where}: interactions.user and interactions.item are both {columns['user']!r}; "
                            "name two different columns.")
        unit = raw.get("timestamp_unit", "s")
        if unit not in TIMESTAMP_UNITS:
            self.fail("interactions.timestamp_unit", "one of " + ", ".join(TIMESTAMP_UNITS), unit)
        return InteractionsSpec(path, columns, unit, self.separator(raw.get("separator"), "interactions.separator",
                                                                    path))

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            self.fail(key, "a column name or a list of them", value)
        return tuple(self.column(v, key) for v in values)

    def per_column(self, value: Any, key: str, default: Any, check) -> dict:
        if isinstance(value, (str, list)):
            return dict.fromkeys(self.names(value, key), default)
        if not isinstance(value, dict):
            self.fail(key, "a mapping of column -> setting, or a list of columns", value)
        return {self.column(k, key): check(v, f"{key}.{k}") for k, v in value.items()}

    def buckets(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            self.fail(key, "an integer >= 2 (the number of quantile buckets)", value)
        return value

    def value_separator(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(key, "the separator of the values (a string such as '|')", value)
        return value

    def table(self, raw: Any, side: str, interaction_id: str | None) -> TableSpec:
        if isinstance(raw, str):
            raw = {"path": raw}
        raw = self.mapping(raw, side, KEYS["table"])
        if "path" not in raw:
            raise DataError(f"{self.where}: {side}.path is missing; name the {side} file.")
        path = self.path(raw["path"], f"{side}.path")
        table = TableSpec(
            path=path,
            id=self.column(raw["id"], f"{side}.id") if "id" in raw else interaction_id,
            text=self.names(raw.get("text", []), f"{side}.text"),
            categorical=self.names(raw.get("categorical", []), f"{side}.categorical"),
            multi_valued=self.per_column(raw.get("multi_valued", {}), f"{side}.multi_valued", DEFAULT_SEPARATOR,
                                         self.value_separator),
            numeric=self.per_column(raw.get("numeric", {}), f"{side}.numeric", DEFAULT_BUCKETS, self.buckets),
            rename=self.per_column(raw.get("rename", {}), f"{side}.rename", None, self.column),
            separator=self.separator(raw.get("separator"), f"{side}.separator", path),
        )
        kinds = {"categorical": table.categorical, "multi_valued": tuple(table.multi_valued),
                 "numeric": tuple(table.numeric)}
        if side == "users":
            kinds["text"] = table.text
        seen: dict[str, str] = {}
        for kind, columns in kinds.items():
            for column in columns:
                if column in seen:
                    raise DataError(f"{self.where}: {side} column {column!r} is listed under both {seen[column]} "
                                    f"and {kind}; a column is one kind of feature.")
                if column == table.id:
                    raise DataError(f"{self.where}: {side}.{kind} lists {column!r}, the id column; the id is "
                                    "embedded already: list the other columns.")
                seen[column] = kind
        for column in table.rename:
            if column not in seen:
                raise DataError(f"{self.where}: {side}.rename names {column!r}, which is not one of the {side}' "
                                f"features ({', '.join(seen) or 'none'}); rename only listed feature columns.")
        return table

    def check_features(self, items: TableSpec | None, users: TableSpec | None) -> None:
        names: dict[str, str] = {}
        for side, table in (("users", users), ("items", items)):
            if table is None:
                continue
            for column in table.feature_columns("user" if side == "users" else "item"):
                name = table.feature_name(column)
                if not FEATURE_NAME.fullmatch(name):
                    raise DataError(
                        f"{self.where}: {side} feature {name!r} must be a name of letters, digits and _ starting "
                        f"with a letter (it becomes the hyperparameter feature_<name>); rename it, e.g. "
                        f"'rename: {{{column}: {_suggest(name)}}}' under {side}.")
                if name in DERIVED_FEATURES:
                    raise DataError(
                        f"{self.where}: {side} feature {name!r} has the name of a feature made from the ratings (each "
                        f"user's training items, feature_{name}); rename it, e.g. "
                        f"'rename: {{{column}: {side[:-1]}_{name}}}' under {side}.")
                if name in names:
                    other = names[name]
                    raise DataError(f"{self.where}: feature {name!r} is a column of both the {other} and the {side} "
                                    f"table; rename one, e.g. 'rename: {{{column}: {side[:-1]}_{_suggest(name)}}}' "
                                    f"under {side}.")
                names[name] = side
        for name, side in names.items():
            if name.endswith("_dim") and name[:-4] in names:
                raise DataError(f"{self.where}: features {name[:-4]!r} and {name!r} would both own the "
                                f"hyperparameter feature_{name}; rename {name!r} under {side}.")

    def preprocessing(self, raw: Any) -> Preprocessing:
        raw = self.mapping(raw if raw is not None else {}, "preprocessing", KEYS["preprocessing"])
        duplicates = raw.get("duplicates", "all")
        if duplicates not in DUPLICATES:
            self.fail("preprocessing.duplicates", "one of " + ", ".join(DUPLICATES), duplicates)
        min_rating = raw.get("min_rating")
        if min_rating is not None and (isinstance(min_rating, bool) or not isinstance(min_rating, (int, float))
                                       or not math.isfinite(min_rating)):
            self.fail("preprocessing.min_rating", "a number (rows rated below it are dropped)", min_rating)
        counts = {}
        for key in ("min_user_interactions", "min_item_interactions"):
            value = raw.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self.fail(f"preprocessing.{key}", "an integer >= 1", value)
            counts[key] = value
        return Preprocessing(duplicates, None if min_rating is None else float(min_rating), **counts)


def _suggest(name: str) -> str:
    """A feature name made of `name`: what the messages propose."""
    words = "".join(c if c.isalnum() else "_" for c in name.strip()).strip("_").lower()
    words = "_".join(filter(None, words.split("_"))) or "feature"
    return words if words[0].isalpha() else f"f_{words}"
