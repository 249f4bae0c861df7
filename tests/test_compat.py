"""A results folder written by an earlier version still resumes, reports and exports.

tests/fixtures/before-own-data/ is a two-trial search (MovieLens-shaped synthetic data, the
genres and occupation side features) written by tuner_app at commit d799fe4, before data of
other shapes: its vocabulary.npz has no side per feature, its export format had no marker.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY_DATA, Tool

FIXTURE = Path(__file__).parent / "fixtures" / "before-own-data"

pytestmark = pytest.mark.slow


def test_a_search_written_before_own_data_resumes_reports_and_exports(tmp_path):
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    tool = Tool(tmp_path)
    before = (tmp_path / "out" / "space.csv").read_text()
    resumed = tool.search(tmp_path / "space.yaml", "--max-trials", "3", data=TINY_DATA)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming search 'space'" in resumed.stdout and "3 trial(s) completed" in resumed.stdout
    rows = {r["trial_id"]: r for r in tool.rows()}
    assert sorted(rows) == ["0", "1", "2"]
    # The two earlier trials are kept as they were (not trained again): same objective, same end time.
    header, *lines = before.splitlines()
    for line in lines:
        old = dict(zip(header.split(","), line.split(","), strict=True))
        new = rows[old["trial_id"]]
        assert [new[k] for k in ("status", "objective", "finished")] == [old[k] for k in ("status", "objective", "finished")]

    report = tool.run("report", "out/space.csv")
    assert report.returncode == 0 and "3 trial(s)" in report.stdout, report.stderr
    exported = tool.run("export", "out/space.csv", "--trial", "1", "--out", "model")
    assert exported.returncode == 0, exported.stderr
    assert json.loads((tmp_path / "model" / "trial.json").read_text())["trial_id"] == "1"
    recommended = tool.run("recommend", "model", "--user", "3", "--k", "5")
    assert recommended.returncode == 0 and recommended.stdout.count("\n") == 5, recommended.stderr
