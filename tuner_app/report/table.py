"""What `report` prints: one or several results CSVs as one ranked table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from tuner_app.errors import ResultsError
from tuner_app.report.results_csv import read_results
from tuner_app.report.rows import HYPERBAND_COLUMNS, TrialStatus


def combine_results(paths: Sequence[str | Path]):
    """Several results CSVs as one frame, ranked together, with a `search` column.

    Raises:
        ResultsError: the searches optimise different objectives, so cannot be ranked together.
    """
    import pandas as pd

    frames = []
    for path in paths:
        frame = read_results(path)
        frame.insert(0, "search", Path(path).stem)
        frames.append(frame)
    names = {str(n) for f in frames for n in f["objective_name"].dropna().unique()}
    if len(names) > 1:
        raise ResultsError(
            f"{', '.join(map(str, paths))}: optimise different objectives ({', '.join(sorted(names))}), "
            "which cannot be ranked together; report them one at a time."
        )
    combined = pd.concat(frames, ignore_index=True)
    done = combined["status"].eq(TrialStatus.COMPLETED.value) & combined["objective"].notna()
    order = combined[done].sort_values(["objective", "search", "trial_id"], ascending=[False, True, True]).index
    combined["rank"] = float("nan")
    combined.loc[order, "rank"] = range(1, len(order) + 1)
    return combined


def format_table(frame, top: int | None = None) -> str:
    """The ranked table `report` prints: ranked trials first, then the others."""
    import pandas as pd

    frame = frame.copy()
    frame["_order"] = frame["rank"].fillna(math.inf)
    keys = ["_order", "search", "trial_id"] if "search" in frame.columns else ["_order", "trial_id"]
    frame = frame.sort_values(keys).drop(columns="_order")
    if top is not None:
        frame = frame.head(top)
    hidden = {"objective_name", "reason", *HYPERBAND_COLUMNS.values()}
    if "lift" in frame.columns:
        frame["lift"] = frame["lift"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}x")
    columns = [c for c in frame.columns if c not in hidden and not frame[c].isna().all()]
    shown = frame[columns].copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            if column in ("rank", "best_epoch", "epochs_trained", "params") or column.startswith("units_"):
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
            elif column == "seconds":
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
            else:
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    shown = shown.fillna("")
    lines = [shown.to_string(index=False)]
    failed = frame[frame["status"] != TrialStatus.COMPLETED.value]
    for _, row in failed.iterrows():
        if isinstance(row["reason"], str) and row["reason"]:
            lines.append(f"trial {row['trial_id']} {row['status'].lower()}: {row['reason']}")
    return "\n".join(lines)
