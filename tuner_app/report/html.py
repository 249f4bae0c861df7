"""`report --html`: one self-contained page for one search or several, charts by plotly.

The page inlines plotly.js and every style and script, so it opens offline, from a
file. It holds, for each search: the ranked trials as a table (click a column to
sort, type to filter), the best objective so far against trials and against wall
time with the baselines as lines, the learning curves of the best trials, a
parallel-coordinates view of the hyperparameters against the objective, the
objective against each hyperparameter, and the importances when there are enough
trials; with several searches, their best-so-far curves side by side first.
It reads the CSVs as they are, so it also shows a search that is still running.

Script errors on the page are caught into `#script-errors`, and every chart is a
`div.chart`: the browser test reads both. TensorFlow-free; plotly is imported here.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from tuner_app.report import insights
from tuner_app.report.results_csv import read_history, read_results
from tuner_app.report.rows import NON_HYPERPARAMETER_COLUMNS
from tuner_app.space.names import BASELINES, FAMILIES, metric_key
from tuner_app.store import atomic
from tuner_app.store.layout import SearchPaths
from tuner_app.store.summary import baseline_values, coverage_line, read_summary

#: Learning curves drawn per search.
CURVES = 8
_DASHES = {"popularity": "dash", "ease": "dot", "als": "dashdot"}
_TABLE_COLUMNS = ("rank", "trial_id", "status", "objective", "lift", "lift_ease", "best_epoch", "seconds", "reason",
                  # each metric family at 10 and 100, unfiltered and filtered (the CSV has every cut-off)
                  *(metric_key(k, filtered, family) for family in FAMILIES for filtered in (False, True)
                    for k in (10, 100)))


class _Search:
    """One search's frames, as the page shows it."""

    def __init__(self, csv_path: Path):
        self.path = Path(csv_path)
        self.paths = SearchPaths.of_csv(self.path)
        self.frame = read_results(self.path)
        self.history = read_history(self.paths)
        names = self.frame["objective_name"].dropna().unique()
        self.objective = str(names[0]) if len(names) else "objective"
        self.baselines = baseline_values(read_summary(self.paths), self.objective)
        self.progress = insights.best_so_far(self.frame)


def write_html(csv_paths: list[str | Path], out: str | Path) -> int:
    """Writes the page for the searches behind `csv_paths` to `out` (atomically); returns its chart count."""
    import plotly.offline

    searches = [_Search(Path(p)) for p in csv_paths]
    sections, charts = [], []

    def chart(figure) -> str:
        charts.append(figure)
        div = figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{len(charts)}",
                             config={"displaylogo": False, "responsive": True})
        return f'<div class="chart">{div}</div>'

    if len(searches) > 1:
        sections.append("<section><h2>The searches side by side</h2>" + chart(_compared(searches)) + "</section>")
    for search in searches:
        sections.append(_section(search, chart))
    title = ", ".join(s.paths.name for s in searches)
    page = _PAGE.format(
        title=html.escape(f"tuner_app: {title}"), heading=html.escape(f"tuner_app report: {title}"), plotly=plotly.offline.get_plotlyjs(),
        style=_STYLE, script=_SCRIPT, count=len(charts), body="\n".join(sections),
    )
    atomic.write_text_atomic(Path(out), page)
    return len(charts)


def _section(search: _Search, chart) -> str:
    parts = [f"<section><h2>{html.escape(search.paths.name)}</h2>", _summary_line(search), _table(search)]
    if not insights.completed_trials(search.frame).empty:
        parts.append(chart(_progress(search)))
        if search.history is not None:
            parts.append(chart(_curves(search)))
        columns = insights.searched_columns(search.frame)
        if columns:
            parts.append(chart(_parallel(search, columns)))
            parts.append(chart(_against(search, columns)))
        found = insights.importances(search.frame)
        parts.append(chart(_importance(search, found)) if isinstance(found, dict)
                     else f"<p class='note'>Importances: none ({html.escape(found)}).</p>")
    return "\n".join(parts) + "</section>"


def _summary_line(search: _Search) -> str:
    done = insights.completed_trials(search.frame)
    best = f"best {search.objective} {done['objective'].max():.4f}" if len(done) else "no completed trial yet"
    shown = "; ".join(f"{BASELINES.get(k, k)} {v:.4f}" for k, v in search.baselines.items())
    coverage = coverage_line(read_summary(search.paths))
    return (f"<p>{len(search.frame)} trial(s) in {html.escape(str(search.path))}, {best}"
            f"{'; baselines on the same validation rows: ' + shown if shown else ''}.</p>"
            + (f"<p>{html.escape(coverage)}.</p>" if coverage else ""))


def _table(search: _Search) -> str:
    frame = search.frame.sort_values(["rank", "trial_id"], na_position="last")
    columns = [c for c in frame.columns if c in _TABLE_COLUMNS or c not in NON_HYPERPARAMETER_COLUMNS]
    columns = [c for c in columns if frame[c].notna().any()]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(row[c]))}</td>" for c in columns) + "</tr>"
                   for _, row in frame.iterrows())
    return ("<input class='filter' placeholder='filter the trials (any text in a row)'>"
            f"<div class='scroll'><table class='trials'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            "</table></div>")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _baseline_lines(figure, baselines: dict[str, float], cells=((None, None),)) -> None:
    """A labelled line across each of the figure's `cells` ((row, col) of a subplot; (None, None): a figure
    without subplots) at each baseline, as plotly's `add_hline` draws it. Set in one assignment: `add_hline`
    checks every subplot and re-validates every shape at each call (the report of the 9 committed searches
    took 26.9 s with it, 8.1 s this way)."""
    shapes, labels = [], []
    for row, col in cells:
        cell = None if row is None else figure.get_subplot(row, col)
        x, y = ("x", "y") if cell is None else (cell.xaxis.plotly_name.replace("axis", ""),
                                                cell.yaxis.plotly_name.replace("axis", ""))
        for name, value in baselines.items():
            shapes.append({"type": "line", "xref": f"{x} domain", "x0": 0, "x1": 1, "yref": y, "y0": value,
                           "y1": value, "line": {"dash": _DASHES.get(name, "dashdot"), "color": "black"}})
            labels.append({"text": f"{BASELINES.get(name, name)} {value:.3f}", "showarrow": False,
                           "xref": f"{x} domain", "x": 1, "xanchor": "right", "yref": y, "y": value,
                           "yanchor": "bottom"})
    figure.layout.shapes += tuple(shapes)
    figure.layout.annotations += tuple(labels)


def _progress(search: _Search):
    from plotly.subplots import make_subplots

    progress = search.progress
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("by trials ended", "by wall time"))
    for col, x in ((1, "trial"), (2, "minutes")):
        figure.add_scatter(x=progress[x], y=progress["objective"], mode="markers", name="each trial",
                           marker={"color": "lightsteelblue"}, text=progress["trial_id"], showlegend=col == 1,
                           row=1, col=col)
        figure.add_scatter(x=progress[x], y=progress["best"], mode="lines", line_shape="hv", name="best so far",
                           line={"color": "royalblue", "width": 3}, showlegend=col == 1, row=1, col=col)
    _baseline_lines(figure, search.baselines, ((1, 1), (1, 2)))
    figure.update_xaxes(title_text="trials ended", row=1, col=1)
    figure.update_xaxes(title_text="wall minutes", row=1, col=2)
    figure.update_yaxes(title_text=f"validation {search.objective}", row=1, col=1)
    figure.update_layout(title=f"{search.paths.name}: the best {search.objective} so far", height=420)
    return figure


def _curves(search: _Search):
    import plotly.graph_objects as go

    best = insights.completed_trials(search.frame).sort_values("rank").head(CURVES)
    figure = go.Figure()
    for _, row in best.iterrows():
        curve = search.history[(search.history["trial_id"] == row["trial_id"])
                               & search.history[search.objective].notna()]
        figure.add_scatter(x=curve["epoch"], y=curve[search.objective], mode="lines+markers",
                           name=f"trial {row['trial_id']} ({row['objective']:.3f})")
    _baseline_lines(figure, search.baselines)
    figure.update_layout(title=f"{search.paths.name}: learning curves of the best {len(best)} trials",
                         xaxis_title="epoch", yaxis_title=f"validation {search.objective}", height=420)
    return figure


def _parallel(search: _Search, columns: list[str]):
    import pandas as pd
    import plotly.graph_objects as go

    done = insights.completed_trials(search.frame)
    dimensions = []
    for column in columns:
        values = done[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            dimensions.append({"label": column, "values": values.fillna(values.min())})
        else:
            labels = sorted(values.astype(str).unique())
            codes = values.astype(str).map({v: i for i, v in enumerate(labels)})
            dimensions.append({"label": column, "values": codes, "tickvals": list(range(len(labels))),
                               "ticktext": labels})
    dimensions.append({"label": search.objective, "values": done["objective"]})
    figure = go.Figure(go.Parcoords(line={"color": done["objective"], "colorscale": "Viridis", "showscale": True},
                                    dimensions=dimensions))
    figure.update_layout(title=f"{search.paths.name}: hyperparameters against {search.objective} "
                               "(drag along an axis to select)", height=460)
    return figure


def _against(search: _Search, columns: list[str]):
    from plotly.subplots import make_subplots

    done = insights.completed_trials(search.frame)
    cols = min(3, len(columns))
    rows = math.ceil(len(columns) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=columns, shared_yaxes=True)
    for i, column in enumerate(columns):
        row, col = i // cols + 1, i % cols + 1
        values = done[[column, "objective", "trial_id"]].dropna(subset=[column])
        figure.add_scatter(x=values[column].astype(str) if values[column].dtype == bool else values[column],
                           y=values["objective"], mode="markers", text=values["trial_id"], showlegend=False,
                           marker={"color": "royalblue"}, row=row, col=col)
        if column in ("learning_rate", "l2", "temperature") and (values[column] > 0).all():
            figure.update_xaxes(type="log", row=row, col=col)
    _baseline_lines(figure, search.baselines, [(i // cols + 1, i % cols + 1) for i in range(len(columns))])
    figure.update_layout(title=f"{search.paths.name}: {search.objective} against each hyperparameter",
                         height=300 * rows)
    return figure


def _importance(search: _Search, found: dict[str, float]):
    import plotly.graph_objects as go

    names = list(found)[::-1]
    figure = go.Figure(go.Bar(x=[found[n] for n in names], y=names, orientation="h"))
    figure.update_layout(title=f"{search.paths.name}: what mattered (fANOVA importance for {search.objective})",
                         xaxis_title="share of the objective's variance", height=120 + 28 * len(names))
    return figure


def _compared(searches: list[_Search]):
    import plotly.graph_objects as go

    figure = go.Figure()
    for search in searches:
        figure.add_scatter(x=search.progress["minutes"], y=search.progress["best"], mode="lines", line_shape="hv",
                           name=search.paths.name)
    objectives = sorted({s.objective for s in searches})
    figure.update_layout(title="best so far, by wall time", xaxis_title="wall minutes",
                         yaxis_title=", ".join(objectives), height=420)
    return figure


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
section { margin-bottom: 3em; }
.scroll { max-height: 24em; overflow: auto; border: 1px solid #ddd; }
table.trials { border-collapse: collapse; font-size: 12px; }
table.trials th { position: sticky; top: 0; background: #eef; cursor: pointer; }
table.trials td, table.trials th { padding: 2px 6px; border-bottom: 1px solid #eee; white-space: nowrap; }
input.filter { margin: 0.5em 0; width: 24em; }
#script-errors { color: #b00; }
.note { color: #666; }
"""

# Sorting and filtering the trials tables, and catching script errors for the browser test.
_SCRIPT = """
var errors = [];
window.addEventListener("error", function (e) {
  errors.push(String(e.message));
  var pre = document.getElementById("script-errors");
  if (pre) { pre.textContent = errors.join("\\n"); }
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.trials").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, column) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.from(body.rows);
        var up = th.dataset.order !== "up";
        th.dataset.order = up ? "up" : "down";
        rows.sort(function (a, b) {
          var x = a.cells[column].textContent, y = b.cells[column].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return up ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = input.nextElementSibling.querySelector("table");
    input.addEventListener("input", function () {
      var text = input.value.toLowerCase();
      Array.from(table.tBodies[0].rows).forEach(function (row) {
        row.style.display = row.textContent.toLowerCase().indexOf(text) >= 0 ? "" : "none";
      });
    });
  });
});
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{style}</style>
<script>{script}</script>
<script>{plotly}</script>
</head><body data-charts="{count}">
<h1>{heading}</h1>
<pre id="script-errors"></pre>
{body}
<p class="note">Written by tuner_app's <code>report --html</code>; it reads the results CSVs as they were then.</p>
</body></html>
"""
