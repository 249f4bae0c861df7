"""`report --html` opened in a real headless browser, and `search --tensorboard` logs read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import read_rows

from tuner_app.report.html import write_html
from tuner_app.report.results_csv import write_history, write_results
from tuner_app.report.rows import TrialRow

ROOT = Path(__file__).resolve().parents[1]
#: Kept after the run: what the browser showed (gitignored).
ARTIFACTS = ROOT / "test-artifacts"


def fake_search(folder: Path, name: str, trials: int, seed: int) -> Path:
    """A results CSV, its history and summary, as a search writes them (no training needed)."""
    rng = np.random.default_rng(seed)
    rows, histories = [], {}
    for i in range(trials):
        lr, units, act = float(10 ** rng.uniform(-3, -1)), int(rng.choice([32, 64])), str(rng.choice(["relu", "gelu"]))
        curve = [0.3 + 0.15 * (1 - np.exp(-e / 3)) + rng.normal(0, 0.005) for e in range(1, 9)]
        best = int(np.argmax(curve)) + 1
        rows.append(TrialRow(f"{i:02d}", "COMPLETED" if i != 3 else "FAILED", "val_top_100",
                             {"val_top_100": curve[best - 1]} if i != 3 else {},
                             {"learning_rate": lr, "units_1": units, "activation": act, "logq_correction": True},
                             best_epoch=best, epochs_trained=8, seconds=12.0 + i, params=1000,
                             reason="loss became nan at epoch 2" if i == 3 else None,
                             finished=f"2026-12-01T10:{i:02d}:30Z"))
        histories[f"{i:02d}"] = [{"epoch": e, "loss": 100.0 / e, "val_top_100": v} for e, v in enumerate(curve, 1)]
    csv = folder / f"{name}.csv"
    write_results(csv, rows, ["learning_rate", "units_1", "activation", "logq_correction"],
                  {"popularity": 0.296, "ease": 0.386})
    write_history(folder / f"{name}.history.csv", histories)
    (folder / f"{name}.json").write_text(json.dumps({"baselines": {
        "method": "popularity", "validation": {"val_top_100": 0.296}, "holdout": {},
        "ease": {"method": "EASE", "l2": 3000.0, "validation": {"val_top_100": 0.386}, "holdout": {}}}}))
    return csv


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get install chromium; "
                    "here it could not be installed)")
    return found


def open_in_browser(page: Path, tmp_path: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with the network closed."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=20000",
             "--window-size=1400,2400"]
    if screenshot is not None:  # taken in the same run, once the scripts ran
        flags.append(f"--screenshot={screenshot}")
    proc = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=180, check=True)
    return proc.stdout


def test_the_html_report_renders_every_chart_offline_without_script_errors(tmp_path):
    csv_a = fake_search(tmp_path, "first", trials=12, seed=1)
    csv_b = fake_search(tmp_path, "second", trials=9, seed=2)
    page = tmp_path / "report.html"
    charts = write_html([csv_a, csv_b], page)
    text = page.read_text()
    assert "<script src=" not in text and "cdn.plot.ly" not in text.split("<body")[1]  # nothing fetched
    # per search: best so far, curves, parallel coordinates, against each, importances; plus the comparison
    assert charts == 1 + 5 + 5
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "html-report.png"
    dom = open_in_browser(page, tmp_path, screenshot=shot)
    assert re.search(r'<pre id="script-errors"></pre>', dom), re.findall(r'<pre id="script-errors">.*?</pre>', dom)
    rendered = re.findall(r'<div id="chart-\d+" class="plotly-graph-div js-plotly-plot"', dom)
    assert len(rendered) == charts, f"{len(rendered)} of {charts} charts rendered"
    assert dom.count('class="main-svg"') >= charts  # each chart drew its SVG
    assert dom.count("<table class=\"trials\"") == 2 and "loss became nan at epoch 2" in dom
    assert shot.stat().st_size > 20_000  # a real picture, kept for a look


def test_the_report_of_a_search_still_running_and_of_one_without_trials(tmp_path):
    csv = fake_search(tmp_path, "running", trials=2, seed=3)  # too few for importances
    page = tmp_path / "running.html"
    assert write_html([csv], page) == 4  # no importance chart yet: a note says why
    assert "importances need at least 8 completed trials" in page.read_text()
    empty = tmp_path / "empty.csv"
    write_results(empty, [], ["learning_rate"])
    assert write_html([empty], tmp_path / "empty.html") == 0
    dom = open_in_browser(page, tmp_path)
    assert '<pre id="script-errors"></pre>' in dom
    assert len(re.findall(r'class="plotly-graph-div js-plotly-plot"', dom)) == 4


@pytest.mark.slow
def test_tensorboard_logs_of_a_tiny_search_read_back_with_hparams(shared_search):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from test_cli import run_random

    # tests/test_cli.py's random search (3 trials of 2 epochs) is run with --tensorboard tb.
    cwd = shared_search("cli-random", run_random)
    root = EventAccumulator(str(cwd / "tb"))
    root.Reload()
    assert "_hparams_/experiment" in root.Tags()["tensors"]
    trials = sorted(p.name for p in (cwd / "tb").iterdir() if p.is_dir())
    assert trials == [r["trial_id"] for r in sorted(read_rows(cwd / "out" / "random.csv"), key=lambda r: r["trial_id"])]
    for trial in trials:
        logs = EventAccumulator(str(cwd / "tb" / trial))
        logs.Reload()
        tags = set(logs.Tags()["tensors"])
        assert {"_hparams_/session_start_info", "loss", "val_top_10", "val_top_100"} <= tags
        assert [event.step for event in logs.Tensors("val_top_10")] == [1, 2]


def test_baseline_lines_are_the_ones_plotly_add_hline_draws():
    """`_baseline_lines` sets in one go the shapes and labels `add_hline` adds one call at a time (slowly)."""
    from plotly import graph_objects as go
    from plotly.subplots import make_subplots

    from tuner_app.report.html import _DASHES, _baseline_lines

    baselines = {"popularity": 0.12, "ease": 0.3456, "als": 0.25}
    for cells in ([(1, 1), (1, 2), (2, 1)], None):
        figures = []
        for _ in range(2):
            figure = make_subplots(rows=2, cols=2, subplot_titles=("a", "b", "c", "d")) if cells else go.Figure()
            for row, col in cells or [(None, None)]:
                figure.add_scatter(x=[1, 2], y=[0.2, 0.3], row=row, col=col)
            figures.append(figure)
        by_plotly, ours = figures
        for row, col in cells or [(None, None)]:
            for name, value in baselines.items():
                label = {"popularity": "popularity", "ease": "EASE", "als": "ALS"}[name]
                by_plotly.add_hline(y=value, line_dash=_DASHES.get(name, "dashdot"), line_color="black",
                                    annotation_text=f"{label} {value:.3f}", row=row, col=col)
        _baseline_lines(ours, baselines, cells or ((None, None),))
        expected, got = by_plotly.to_plotly_json()["layout"], ours.to_plotly_json()["layout"]
        assert len(got["shapes"]) == 3 * len(cells or [0])
        assert got["shapes"] == expected["shapes"] and got["annotations"] == expected["annotations"]


def test_the_committed_searches_render_as_one_html_report(tmp_path):
    committed = sorted(p for p in (ROOT / "results").glob("*.csv")
                       if not p.name.endswith((".history.csv", ".repeats.csv")))
    assert {"deep.csv", "best.csv", "tutorial.csv", "features.csv"} <= {p.name for p in committed}
    page = tmp_path / "ml-100k.html"
    charts = write_html(committed, page)
    # the comparison, and per search at least the best so far, the parallel coordinates, against each
    assert charts >= 1 + 3 * len(committed)
    dom = open_in_browser(page, tmp_path)
    assert '<pre id="script-errors"></pre>' in dom, re.findall(r'<pre id="script-errors">.*?</pre>', dom)
    assert len(re.findall(r'class="plotly-graph-div js-plotly-plot"', dom)) == charts
    assert dom.count('<table class="trials"') == len(committed)
