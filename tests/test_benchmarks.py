"""The benchmarks' own bookkeeping: which part of the model a profiled op is charged to."""

from __future__ import annotations

import pytest

from benchmarks.profile import PARTS, describe, in_pipeline, part_of


@pytest.mark.parametrize(("name", "kind", "part"), [
    # Op names as tf.profiler records them for the app's train function at ml-10m's shape.
    ("while/body/_1/while/while/body/_335/while/while/MatMul", "_MklMatMul", "loss kernel"),
    ("while/body/_1/while/Adam/Adam/update/ResourceScatterUpdate", "ResourceScatterUpdate", "optimizer update"),
    ("while/body/_1/gradient_tape/while/tower/sequential_1/dense/MatMul/MatMul_1", "_MklMatMul",
     "query tower, backward"),
    ("while/body/_1/gradient_tape/while/tower_1/movie_model/SparseSegmentMeanGrad", "SparseSegmentMeanGrad",
     "candidate tower, backward"),
    ("while/body/_1/while/tower/sequential_1/dense/Relu", "_MklNativeFusedMatMul", "query tower, forward"),
    ("while/body/_1/while/tower_1/movie_model/concat", "ConcatV2", "candidate tower, forward"),
    ("while/body/_1/while/UnsortedSegmentSum_1", "UnsortedSegmentSum", "gradients into dense tables"),
    ("while/body/_1/while/UniqueWithCounts", "UniqueWithCounts", "the rest of the step"),
])
def test_each_profiled_op_is_charged_to_its_part_of_the_model(name: str, kind: str, part: str) -> None:
    assert not in_pipeline(name, kind)
    assert part_of(name, kind).startswith(part)


@pytest.mark.parametrize(("name", "kind"), [
    ("Iterator::Root::ForeverRepeat[0]::AssertCardinality::FlatMap", "Dataset"),
    ("stateless_shuffle/StatelessShuffle", "StatelessShuffle"),  # each epoch's shuffle, outside the loop
    ("GatherV2", "GatherV2"),
])
def test_the_input_pipeline_and_the_epochs_shuffle_are_apart_from_the_steps(name: str, kind: str) -> None:
    assert in_pipeline(name, kind)


def test_the_breakdown_lists_parts_largest_first_with_their_shares() -> None:
    parts = {name: 0.0 for name, _ in PARTS}
    parts[PARTS[2][0]], parts[PARTS[0][0]] = 1.0, 3.0
    line = describe({"steps": 200, "parts": parts, "total": 4.0, "pipeline_ms": 1700.0})
    assert line.startswith("op time a step over 200 profiled steps, both threads summed: 4.0 ms; ")
    assert line.endswith("input pipeline, with one epoch's shuffle of every row: 1700 ms in the 200 steps")
    assert line.index("loss kernel") < line.index("query tower, backward 1.00 ms (25%)")
    assert "optimizer update" not in line  # a part with no time is left out
    assert describe({"error": "no xprof"}) == "not profiled: no xprof"


def test_the_baselines_benchmark_times_each_baseline_as_a_search_scores_it(monkeypatch) -> None:
    from benchmarks import baselines

    monkeypatch.setitem(baselines.SIZES, "tiny", (40, 60, 1_500))
    monkeypatch.setitem(baselines.TARGETS, ("tiny", "als"), 1e6)
    got = baselines.measure("tiny", validation_rows=100)
    assert got["titles"] == 60 and got["sample_rows"] == 100
    assert set(got["baselines"]) == {"ease", "als", "popularity"}
    for fit in got["baselines"].values():
        assert fit["seconds"] >= 0 and 0 < fit["objective"] <= 1 and 0 < fit["holdout"] <= 1
    from tuner_app.baselines.ease import L2_GRID

    assert got["baselines"]["ease"]["setting"] in L2_GRID
    text = baselines.report("machine", 0.0, 100, [got])
    assert "<= 1000000 s: pass" in text and text.count("tiny") == 3


def test_the_ceiling_benchmark_puts_the_generators_ranking_above_every_baseline(monkeypatch) -> None:
    from pathlib import Path

    from benchmarks import ceiling

    monkeypatch.setitem(ceiling.SHAPES, "tiny", (120, 150, 6_000))
    space = Path(__file__).resolve().parents[1] / "search_spaces/deep-filtered.yaml"
    objective, figures = ceiling.measure("tiny", space, None)
    assert objective == "val_filtered_ndcg_10"
    names = [who for who, _, _ in figures]
    assert names[0].startswith("generator's own ranking") and {"popularity", "EASE", "ALS"} <= set(names)
    top, learnt, popularity = figures[0], figures[1], figures[names.index("popularity")]
    for who, validation, held_back in figures[1:]:
        assert 0 < validation < top[1] and 0 < held_back < top[2], (who, validation, held_back, top)
    # Learning the users' tastes from training costs some of the ceiling, and still beats popularity.
    assert learnt[0].startswith("... tastes learnt from what models see")
    assert learnt[1] > popularity[1] and learnt[2] > popularity[2], (learnt, popularity)  # 0.38 > 0.36, 0.42 > 0.36
    # The rating values tell more of the tastes, and more before they were rounded.
    assert [who[:30] for who, _, _ in figures[2:4]] == ["... and from the rating values", "... from the values before rou"]
    # Both above the titles alone; the bound is above in expectation only, and on 120 users the two are
    # within noise of each other (0.4079 and 0.4073 validation, 0.4427 and 0.4470 held back).
    assert learnt[1] < figures[2][1] and learnt[2] < figures[2][2], figures[1:3]
    assert learnt[1] < figures[3][1] and learnt[2] < figures[3][2], figures[1:4]
    assert abs(figures[2][1] - figures[3][1]) < 0.005 and figures[2][2] < figures[3][2], figures[2:4]
    text = ceiling.report("machine", "tiny", space, objective, figures)
    assert "100.0%" in text and "goal: the better classical baseline x 1.08" in text


def test_the_convergence_benchmark_scores_the_bayes_rows_on_a_share_of_the_users(monkeypatch) -> None:
    from pathlib import Path

    import numpy as np

    from benchmarks import ceiling, convergence
    from tuner_app.data.synthetic_preference import generator_preference

    monkeypatch.setitem(ceiling.SHAPES, "tiny", (120, 150, 6_000))
    space = Path(__file__).resolve().parents[1] / "search_spaces/deep-filtered.yaml"
    split = ceiling.split_as("tiny", space)
    everyone, ranking = np.ones(120, bool), generator_preference(split.synthetic)
    assert split.score(ranking, split.prepared.holdout, everyone) == split.score(ranking, split.prepared.holdout)
    runs = (("titles and features", 1_024, None), ("rating values too", 1_024, 64))
    objective, scored, figures = convergence.measure("tiny", space, 0.5, runs)
    assert objective == "val_filtered_ndcg_10"
    chosen = np.random.default_rng([0, 7]).random(120) < 0.5
    assert scored == chosen[split.generator_index].sum() and 40 < scored < 80
    # The ceiling on the share's rows differs from that on everyone's: the share is scored alone.
    assert figures[0][1] != split.score(ranking, split.prepared.validation)
    assert [who for who, *_ in figures[1:]] == ["Bayes, titles and features: 1,024 tastes",
                                                 "Bayes, rating values too: 1,024 tastes, 64 candidates"]
    for who, validation, held_back, seconds in figures[1:]:
        assert 0 < validation < figures[0][1] and 0 < held_back < figures[0][2] and seconds > 0, who
    text = convergence.report("machine", "tiny", space, 0.5, objective, scored, figures)
    assert f"the rows of {scored} users (a 0.5 share)" in text and "100.0%" in text
    with pytest.raises(SystemExit) as exit_:
        convergence.main(["--share", "0"])
    assert exit_.value.code == 2


def test_the_ceiling_benchmark_refuses_a_file_that_is_not_a_held_back_search_before_any_work(tmp_path) -> None:
    from pathlib import Path

    from benchmarks.ceiling import read_summary

    results = Path(__file__).resolve().parents[1] / "results"
    with pytest.raises(SystemExit, match=r"deep\.csv: cannot be read as a search's <name>\.json"):
        read_summary(results / "deep.csv")
    with pytest.raises(SystemExit, match=r"deep\.json: has no best_trial_holdout; give the <name>\.json of a search "
                                         r"that held rows back"):
        read_summary(results / "deep.json")  # deep.yaml holds no rows back
    with pytest.raises(SystemExit, match=r"missing\.json: cannot be read"):
        read_summary(tmp_path / "missing.json")
    assert read_summary(results / "deep-filtered-ml1m-shape.json")["best_trial_holdout"]["trial_id"] == "000"
