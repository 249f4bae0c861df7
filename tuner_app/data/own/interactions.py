"""An interactions file's rows -> the per-row arrays of `Ratings`, a block of rows at a time.

Each block's ids become codes (`values.IdEncoder`) and, at once, the rows' id strs (one
str per distinct id, shared by its rows, as the GroupLens reader does); time becomes int64
seconds and ratings float32. A Parquet file says how many rows it has, so the final arrays
are made once and filled; a CSV's blocks are joined at the end. The id codes are kept only
when preprocessing will need them. numpy and pyarrow, imported by the reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuner_app.data.own.table_files import TableFile
from tuner_app.data.own.values import IdEncoder, numbers, seconds
from tuner_app.errors import DataError

_KINDS = {"user_id": object, "item_id": object, "user": np.int32, "item": np.int32, "timestamp": np.int64,
          "rating": np.float32}


@dataclass(frozen=True, eq=False)
class Interactions:
    """The interactions file's rows.

    Attributes:
        user_id, item_id: object arrays of str, one per row.
        user_names, item_names: each distinct id once (object str), in order of first appearance.
        user, item: int32 codes into the names, one per row; None unless asked for.
        timestamp: int64 seconds, or None; rating: float32, or None (the file has no such column).
    """

    user_id: np.ndarray
    item_id: np.ndarray
    user_names: np.ndarray
    item_names: np.ndarray
    user: np.ndarray | None
    item: np.ndarray | None
    timestamp: np.ndarray | None
    rating: np.ndarray | None

    def __len__(self) -> int:
        return len(self.user_id)


def read_interactions(file: TableFile, columns: dict[str, str | None], unit: str, codes: bool) -> Interactions:
    """Reads the columns `columns` names (role -> column; timestamp and rating may be None).

    Args:
        unit: what a numeric timestamp counts (s, ms, us, ns).
        codes: keep each row's id codes too (preprocessing that drops rows needs them).

    Raises:
        DataError: a value is missing or not of its column's kind, naming the file, column and row.
    """
    wanted = {role: column for role, column in columns.items() if column is not None}
    encoders = {role: IdEncoder(file, wanted[role], role) for role in ("user", "item")}
    keys = ["user_id", "item_id", *(["user", "item"] if codes else []),
            *(role for role in ("timestamp", "rating") if role in wanted)]
    total = file.num_rows() if file.parquet else None
    out = {key: np.empty(total, _KINDS[key]) for key in keys} if total is not None else None
    parts: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    for offset, batch in file.batches(list(dict.fromkeys(wanted.values()))):
        got: dict[str, np.ndarray] = {}
        for role in ("user", "item"):
            code = encoders[role].encode(batch[wanted[role]], offset)
            if out is not None:  # straight into the rows' place: no block-sized copy of the references
                np.take(encoders[role].strings, code, out=out[f"{role}_id"][offset:offset + len(code)])
            else:
                got[f"{role}_id"] = encoders[role].strings[code]
            if codes:
                got[role] = code
        if "timestamp" in wanted:
            got["timestamp"] = seconds(batch[wanted["timestamp"]], file, wanted["timestamp"], unit, offset)
        if "rating" in wanted:
            got["rating"] = numbers(batch[wanted["rating"]], file, wanted["rating"], "rating", offset)
        for key, values in got.items():
            if out is not None:
                out[key][offset:offset + len(values)] = values
            else:
                parts[key].append(values.astype(_KINDS[key], copy=False))
    if out is None:
        out = {}
        for key in keys:  # one at a time, each block list let go once joined
            chunks = parts.pop(key)
            out[key] = np.concatenate(chunks) if chunks else np.empty(0, _KINDS[key])
            del chunks
    if len(out["user_id"]) == 0:
        raise DataError(f"{file.shown}: has a header but no rows; expected one row per interaction.")
    for role in ("user", "item"):
        encoders[role].check(out[f"{role}_id"])
    return Interactions(out["user_id"], out["item_id"], encoders["user"].strings, encoders["item"].strings,
                        out.get("user"), out.get("item"), out.get("timestamp"), out.get("rating"))
