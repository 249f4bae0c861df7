"""`--data`: which source the ratings come from, checked before anything is read.

Accepted: `tfds` (the default) or `tfds:movielens/1m`; `synthetic` or
`synthetic:users=50,movies=80,ratings=2000,seed=3`; a path to a GroupLens folder
or .zip; a user's own interactions file (.csv, .tsv, .csv.gz, .tsv.gz, .parquet) or
a data YAML naming it and its tables (`data.data_yaml`, checked here in full). Cheap
checks only (syntax, existence, the YAML's keys and types); reading is `data.sources`' job.
"""

from __future__ import annotations

import re
from pathlib import Path

from tuner_app.data.own.data_yaml import read_data_yaml
from tuner_app.data.own.spec import TABLE_SUFFIXES, YAML_SUFFIXES, table_suffix
from tuner_app.data.records import (
    GROUPLENS_URL,
    TFDS_VARIANTS,
    DataSpec,
    SyntheticSpec,
    check_synthetic,
)
from tuner_app.errors import DataError
from tuner_app.store.layout import KIND_NAMES, kind_of


def parse_data_arg(arg: str | None) -> DataSpec:
    """Parse the ``--data`` value; cheap checks only (syntax, existence).

    Accepted: ``None``/``"tfds"``, ``"tfds:movielens/1m"``, ``"synthetic"``,
    ``"synthetic:users=50,movies=80,ratings=2000,seed=3"`` (any subset of the keys), a
    path to a GroupLens folder or .zip (write ``./tfds`` for a folder named like a keyword),
    an interactions file (kind ``"table"``) or a data YAML (kind ``"table"``; its keys,
    values and files are checked here).

    Raises:
        DataError: the value is none of these, or the data YAML is not valid.
    """
    if arg is None or arg.strip() == "tfds":
        return DataSpec("tfds")
    text = arg.strip()
    if text.startswith("tfds:"):
        return DataSpec("tfds", tfds_name=_check_tfds_name(text[len("tfds:") :]))
    if text == "synthetic" or text.startswith("synthetic:"):
        return DataSpec("synthetic", synthetic=_parse_synthetic(text[len("synthetic:") :]))
    path = Path(text).expanduser()
    found = kind_of(path)
    if found in ("FIFO", "device"):
        raise DataError(f"--data {text}: is {KIND_NAMES[found]}, not a file or folder of data; give an interactions "
                        f"file, a data YAML or a GroupLens MovieLens folder or .zip ({GROUPLENS_URL}).")
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
        return DataSpec("grouplens", path=str(path.resolve()))
    if path.is_file() and text.lower().endswith(YAML_SUFFIXES):
        read_data_yaml(path, text)
        return DataSpec("table", path=str(path.resolve()))
    if path.is_file() and table_suffix(text):
        return DataSpec("table", path=str(path.resolve()))
    if path.is_file():
        raise DataError(
            f"--data: expected a GroupLens MovieLens folder or .zip, an interactions file "
            f"({', '.join(TABLE_SUFFIXES)}) or a data YAML; got the file {text!r}; give one of these "
            "(for a MovieLens file, the folder that contains it)."
        )
    raise DataError(
        f"--data: no such file or folder: {text!r}; give a GroupLens MovieLens folder or .zip "
        f"({GROUPLENS_URL}), an interactions file or a data YAML, 'synthetic' or 'tfds'."
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
    check_synthetic(spec, "--data")
    return spec
