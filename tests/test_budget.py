"""A search sized by wall time (`--time-budget`), in real processes.

The budget is made to run out at a known moment, whatever the machine's speed: `spend@report:<n>` counts
it spent from the n-th validated epoch the oracle hears of. The trial running then must end at that epoch
with its best so far, completed and marked cut; no trial may start after it; a larger budget continues
the search, keeping what was done.
"""

from __future__ import annotations

import os

import pytest
from conftest import Tool, write_space

pytestmark = pytest.mark.slow

SPACE = """
    tuner: {algorithm: random, max_trials: 3, seed: 11}
    objective: val_top_10
    training: {epochs: 3, batch_size: 128, eval_batch_size: 512}
    hyperparameters:
      units: {values: [8, 16]}
      learning_rate: {min: 0.02, max: 0.2, sampling: log}
"""


def rows_by_id(tool: Tool) -> dict[str, dict[str, str]]:
    return {row["trial_id"]: row for row in tool.rows()}


def test_a_spent_budget_cuts_the_running_trial_and_a_larger_one_continues(tmp_path, tool):
    space = write_space(tmp_path, SPACE)
    first = tool.search(space, "--time-budget", "1h", fault="spend@report:1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "the 1h00m time budget is spent" in first.stdout
    assert "trial 0 was cut at its best epoch so far" in first.stdout
    (cut,) = rows_by_id(tool).values()
    assert (cut["trial_id"], cut["status"], cut["cut_by_budget"]) == ("0", "COMPLETED", "True")
    assert cut["epochs_trained"] == "1" and cut["best_epoch"] == "1"  # ended at the epoch it was in

    second = tool.search(space, "--time-budget", "2h")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Resuming search" in second.stdout and "budget is spent" not in second.stdout
    rows = rows_by_id(tool)
    assert sorted(rows) == ["0", "1", "2"] and all(r["status"] == "COMPLETED" for r in rows.values())
    # Kept once, as it was (not trained again); only its rank among the trials may change.
    assert {k: v for k, v in rows["0"].items() if k != "rank"} == {k: v for k, v in cut.items() if k != "rank"}
    assert rows["1"]["cut_by_budget"] == rows["2"]["cut_by_budget"] == ""
    assert rows["1"]["epochs_trained"] == rows["2"]["epochs_trained"] == "3"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="--parallel 2 needs two cores")
def test_parallel_workers_stop_when_their_chiefs_budget_is_spent(tmp_path, tool):
    space = write_space(tmp_path, SPACE.replace("max_trials: 3", "max_trials: 8"))
    # The chief counts its budget spent from the second epoch a worker reports, whatever the clock says.
    proc = tool.search(space, "--parallel", "2", "--time-budget", "1h", fault="spend@report:2", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the 1h00m time budget is spent" in proc.stdout
    rows = rows_by_id(tool)
    # Only the trials running when it was spent: each ended at the epoch it reported then, none started after.
    assert 1 <= len(rows) <= 2 and sorted(rows) == [str(i) for i in range(len(rows))]
    assert all((r["status"], r["cut_by_budget"]) == ("COMPLETED", "True") and r["epochs_trained"] in ("1", "2")
               for r in rows.values())
