"""README's own-data example, run as a user runs it: its commands, read from README.md, in a fresh folder.

The example writes shop-like Parquet and CSV files (string ids, item text, a multi-valued item feature,
a user feature), searches them, writes the HTML report, exports the best trial and recommends with the
user's own ids.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_in_process, tool_env

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- own-data example: tests/test_own_data_search.py runs these commands -->"

pytestmark = pytest.mark.slow


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(re.escape(MARKER) + r"\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md's own-data example is gone"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_own_data_example_searches_reports_exports_and_recommends(tmp_path):
    outputs = []
    for command in readme_commands():
        assert command[0] == "python"
        argv = [sys.executable, *command[1:]]
        if command[1].endswith(".py"):
            argv[1] = str(ROOT / command[1])
        if command[1:3] == ["-m", "tuner_app"] and command[3] != "recommend":
            proc = run_in_process(command[3:], tmp_path)  # as conftest's Tool.run; the exported model is
        else:  # loaded by a fresh process, which has imported none of the code that built it
            proc = subprocess.run(argv, cwd=tmp_path, env=tool_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        outputs.append(proc.stdout)
    _, search, _, _, recommended = outputs

    # The preprocessing steps and the tables' features, as the search's first lines say.
    assert "duplicates last (by timestamp)" in search and "k-core (users >= 3, items >= 3" in search
    assert "tags (split on '|')" in search and "text: title" in search
    with open(tmp_path / "results" / "shop.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and {"feature_region", "feature_tags", "feature_category"} <= set(rows[0])
    assert all(r["objective_name"] == "val_filtered_ndcg_10" for r in rows)
    summary = json.loads((tmp_path / "results" / "shop.json").read_text())
    assert any(line.startswith("k-core") for line in summary["preparation"])
    assert "val_filtered_ndcg_10" in (tmp_path / "shop.html").read_text()

    # The user's own ids in, the items' own ids and titles out, best first.
    lines = recommended.splitlines()
    assert len(lines) == 5
    items = {row["sku"]: row["title"] for row in csv.DictReader(open(tmp_path / "shop" / "items.csv"))}
    for rank, line in enumerate(lines, start=1):
        found = re.fullmatch(r"\s*(\d+)\. (sku-\d{4})  (.+)  \((-?[\d.]+)\)", line)
        assert found, line
        assert int(found.group(1)) == rank and items[found.group(2)] == found.group(3)
    scores = [float(re.search(r"\((-?[\d.]+)\)$", line).group(1)) for line in lines]
    assert scores == sorted(scores, reverse=True)
