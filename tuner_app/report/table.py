"""What `report` prints: one or several results CSVs as one ranked table."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

from tuner_app.errors import ResultsError
from tuner_app.report.results_csv import read_results
from tuner_app.report.rows import BEST_LIFT_COLUMN, HYPERBAND_COLUMNS, LIFT_COLUMNS, at_epoch_cap, epoch_cap_line
from tuner_app.store.states import TrialState


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
    done = combined["status"].eq(TrialState.COMPLETED.value) & combined["objective"].notna()
    order = combined[done].sort_values(["objective", "search", "trial_id"], ascending=[False, True, True]).index
    combined["rank"] = float("nan")
    combined.loc[order, "rank"] = range(1, len(order) + 1)
    return combined


#: The width `report`'s table fits by default (a terminal's).
TABLE_WIDTH = 120


def format_table(frame, top: int | None = None, columns: Sequence[str] | None = None,
                 width: int = TABLE_WIDTH) -> str:
    """The ranked table `report` prints: ranked trials first, then the others.

    By default it shows what a reader scans for, within `width` characters: the rank,
    the trial, the objective and its lifts, the time, and the hyperparameters that vary
    across the trials (as many as fit; a last line names those left out). `columns`
    picks the columns instead (any of the CSV's, which keeps everything).

    Raises:
        ResultsError: a column asked for is not in the results.
    """
    if frame.empty:
        return "no trial has finished yet"
    frame = frame.copy()
    frame["_order"] = frame["rank"].fillna(math.inf)
    keys = ["_order", "search", "trial_id"] if "search" in frame.columns else ["_order", "trial_id"]
    frame = frame.sort_values(keys).drop(columns="_order")
    if top is not None:
        frame = frame.head(top)
    if columns:
        check_columns(frame, columns)
        lines, left_out = [_render(frame, list(columns))], []
    else:
        lines, left_out = _fitted(frame, width)
    failed = frame[frame["status"] != TrialState.COMPLETED.value]
    for _, row in failed.iterrows():
        if isinstance(row["reason"], str) and row["reason"]:
            lines.append(f"trial {row['trial_id']} {row['status'].lower()}: {row['reason']}")
    if left_out:
        lines += textwrap.wrap(f"not shown (--columns picks): {', '.join(left_out)}", width, break_long_words=False)
    return "\n".join(lines)


def check_columns(frame, columns: Sequence[str] | None) -> None:
    """Every column `--columns` asks for is in the results.

    Raises:
        ResultsError: naming those that are not, and listing those that are.
    """
    unknown = [c for c in columns or () if c not in frame.columns]
    if unknown:
        raise ResultsError(f"--columns: {', '.join(unknown)} not in the results; they have "
                           f"{', '.join(frame.columns)}.")


def _fitted(frame, width: int) -> tuple[list[str], list[str]]:
    """The default table within `width` characters, and the varying hyperparameters left out."""
    from tuner_app.report.rows import NON_HYPERPARAMETER_COLUMNS

    first = [c for c in ("rank", "search", "trial_id") if c in frame.columns]
    if not frame["status"].eq(TrialState.COMPLETED.value).all():
        first.append("status")
    # The lifts over popularity and over the better classical baseline (the CSV has each baseline's).
    first += ["objective", LIFT_COLUMNS["popularity"], BEST_LIFT_COLUMN, "seconds"]
    first = [c for c in first if c in frame.columns and not frame[c].isna().all()]
    varying = [c for c in frame.columns if c not in NON_HYPERPARAMETER_COLUMNS and c not in HYPERBAND_COLUMNS.values()
               and frame[c].dropna().astype(str).nunique() > 1]
    chosen, left_out = list(first), []
    table = _render(frame, chosen)
    for column in varying:
        wider = _render(frame, [*chosen, column])
        if max(map(len, wider.splitlines())) <= width:
            chosen, table = [*chosen, column], wider
        else:
            left_out.append(column)
    return [table], left_out


def _render(frame, columns: list[str]) -> str:
    import pandas as pd

    shown = frame[columns].copy()
    for column in shown.columns:
        if column in (*LIFT_COLUMNS.values(), BEST_LIFT_COLUMN):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2f}x")
        elif pd.api.types.is_float_dtype(shown[column]):
            if column in ("rank", "best_epoch", "epochs_trained", "params") or column.startswith("units_"):
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
            elif column == "seconds":
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
            else:
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown.fillna("").to_string(index=False)


def split_note(paths: Sequence[str | Path]) -> str | None:
    """A warning when searches ranked together were validated on different kinds of split."""
    from tuner_app.store.layout import SearchPaths
    from tuner_app.store.summary import read_summary

    kinds: dict[str, list[str]] = {}
    for path in paths:
        split = read_summary(SearchPaths.of_csv(path)).get("split", {})
        kinds.setdefault(split.get("kind", "random"), []).append(Path(path).stem)
    if len(kinds) < 2:
        return None
    shown = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(kinds.items()))
    return (f"note: these searches were validated on different kinds of split ({shown}), so their objectives "
            "come from different validation rows: compare them with care")


def baseline_lines(summary: dict, objective: str) -> list[str]:
    """One line per baseline of the search summary: its objective on the validation rows."""
    from tuner_app.report.rows import LIFT_COLUMNS
    from tuner_app.space.names import BASELINES
    from tuner_app.store.summary import baseline_setting, baseline_values, baselines_of

    lines = []
    values = baseline_values(summary, objective)
    for name, entry in baselines_of(summary).items():
        if "skipped" in entry:
            lines.append(str(entry["skipped"]))
            continue
        value = values.get(name)
        if value is not None:
            setting = baseline_setting(entry)
            column = LIFT_COLUMNS.get(name, "lift")
            lines.append(f"{BASELINES.get(name, name)} baseline{setting} on the same validation rows: {objective} "
                         f"{value:.4f} ({column} = objective / baseline)")
    return lines


def rows_lines(summary: dict, objective: str) -> list[str]:
    """Which rows the figures come from, when trials were selected on a sample, the catalogue coverage
    of the best trial and the baselines, and the best trial's scores on all validation rows and on the
    held-back rows."""
    from tuner_app.store.summary import coverage_line

    lines = [summary["selection"]] if "selection" in summary else []
    if coverage_line(summary):
        lines.append(coverage_line(summary))
    every = summary.get("best_trial_all_validation")
    if every and objective in every.get("all", {}):
        lines.append(f"best trial {every['trial_id']} on all {summary['rows']['validation_all']:,} validation rows: "
                     f"{objective} {every['all'][objective]:.4f}")
    held = summary.get("best_trial_holdout")
    if held and objective in held.get("holdout", {}):
        lines.append(f"best trial {held['trial_id']} on the {summary['rows']['holdout']:,} held-back rows: "
                     f"{objective} {held['holdout'][objective]:.4f}")
    return lines


def insight_lines(frame, baselines: dict[str, float]) -> list[str]:
    """What searching bought (the best objective so far, against the baselines) and what mattered."""
    from tuner_app.report.insights import best_so_far, first_reaching, importances, when
    from tuner_app.space.names import BASELINES

    progress = best_so_far(frame)
    gains = progress[progress["best"] > progress["best"].shift(fill_value=-math.inf)].dropna(subset=["best"])
    lines = []
    if not gains.empty:
        steps = " -> ".join(f"{row.best:.4f} at {when(row.trial_id, row.trial, row.minutes)}"
                            for row in gains.itertuples())
        lines.append(f"best so far: {steps}")
    for name, value in baselines.items():
        reached = first_reaching(progress, value)
        label = BASELINES.get(name, name)
        lines.append(f"  beat {label} ({value:.4f}) from {when(*reached)}" if reached
                     else f"  never beat {label} ({value:.4f})")
    if {"best_epoch", "epochs"} <= set(frame.columns):
        done = frame[frame["status"] == TrialState.COMPLETED.value]
        capped = done[[at_epoch_cap(row.get("best_epoch"), row.get("epochs"), row.get("target_epochs"),
                                    row.get("cut_by_budget")) for _, row in done.iterrows()]]
        if not capped.empty:
            lines.append(epoch_cap_line([str(t) for t in capped["trial_id"]], capped["epochs"]))
    found = importances(frame)
    if isinstance(found, str):
        lines.append(f"hyperparameter importance: none ({found})")
    else:
        shown = ", ".join(f"{name} {share:.2f}" for name, share in found.items())
        lines.append(f"hyperparameter importance (fANOVA, share of the objective's variance): {shown}")
    return lines
