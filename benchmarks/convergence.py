"""Whether the ceiling benchmark's Bayes rows have converged: the same rankings, more exactly computed.

    python -m benchmarks.convergence [--shape 1m] [--share 0.167] [--out FILE] [--quick]

`benchmarks.ceiling`'s Bayes rows (`data.synthetic_preference.posterior_preference`) approximate each
user's posterior over tastes by 16,384 tastes drawn from the prior, and its exact-rounding row computes the
rating likelihood for each user's 1,024 likeliest of them. The rows bound what a model can do only if
those approximations cost nothing, so this scores each row again with 4x more of either, and with fewer,
on a random share of the users (the posterior is per user, so a share scores the same rankings at a
fraction of the time), each beside the generator's own ranking on the same users' rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.ceiling import RATED_CANDIDATES, SHAPES, data_line
from benchmarks.output import machine_at_start, publish
from tuner_app.data.synthetic_preference import PRIOR_TASTES as SAMPLES  # as the ceiling benchmark uses it

#: (row, prior tastes, candidate tastes of the exact rating likelihood): the ceiling's settings and others. The
#: exact-rounding row with 4x the tastes is left out: its [users, tastes] arrays passed 18 GB at ml-1m's shape here
#: and it was killed; the row before rounding takes them, and tells whether more tastes change the rankings.
RUNS = (("titles and features", SAMPLES // 4, None), ("titles and features", SAMPLES, None),
        ("titles and features", SAMPLES * 4, None),
        ("rating values too", SAMPLES, RATED_CANDIDATES // 4), ("rating values too", SAMPLES, RATED_CANDIDATES),
        ("rating values too", SAMPLES, RATED_CANDIDATES * 4),
        ("values before rounding", SAMPLES, None), ("values before rounding", SAMPLES * 4, None))


def measure(shape: str, space: Path, share: float, runs: Sequence[tuple[str, int, int | None]] = RUNS,
            ) -> tuple[str, int, list[tuple[str, float, float, float]]]:
    """(objective, users scored, [(who, validation, held back, seconds)]): the generator's ranking, then each run's."""
    import numpy as np

    from benchmarks.ceiling import split_as
    from tuner_app.data.synthetic_preference import generator_preference, posterior_preference, unrounded_ratings

    split = split_as(shape, space)
    synthetic, (users, titles) = split.synthetic, split.pairs
    chosen = np.random.default_rng([synthetic.seed, 7]).random(synthetic.users) < share  # by generator index
    kept = chosen[users]
    values = {"rating values too": (split.ratings.user_rating[split.train_rows][kept], True),
              "values before rounding": (unrounded_ratings(synthetic)[split.train_rows][kept], False)}
    parts = split.prepared.validation, split.prepared.holdout
    figures = [("generator's own ranking (the ceiling)",
                *(split.score(generator_preference(synthetic), part, chosen) for part in parts), 0.0)]
    for row, samples, candidates in runs:
        start = time.perf_counter()
        ratings, rounded = values.get(row, (None, False))
        learnt = posterior_preference(synthetic, users[kept], titles[kept], samples=samples, ratings=ratings,
                                      rounded=rounded, candidates=candidates or RATED_CANDIDATES)
        who = f"Bayes, {row}: {samples:,} tastes" + (f", {candidates:,} candidates" if candidates else "")
        figures.append((who, *(split.score(learnt, part, chosen) for part in parts), time.perf_counter() - start))
    return split.objective, int(chosen[split.generator_index].sum()), figures


def report(machine: str, shape: str, space: Path, share: float, objective: str, scored_users: int,
           figures: list[tuple[str, float, float, float]]) -> str:
    from benchmarks.report import format_columns

    top_validation, top_holdout = figures[0][1], figures[0][2]
    rows = [(who, f"{v:.4f}", f"{v / top_validation:.1%}", f"{h:.4f}", f"{h / top_holdout:.1%}",
             f"{seconds:.0f}" if seconds else "")
            for who, v, h, seconds in figures]
    return "\n".join([
        f"Machine: {machine}",
        f"{data_line(shape, space)}; {objective} of the rows of {scored_users:,} users (a {share:.3g} share).",
        f"The ceiling benchmark's rows: {SAMPLES:,} tastes, {RATED_CANDIDATES:,} candidates.",
        "",
        format_columns(rows, ("ranking", "validation", "of ceiling", "held back", "of ceiling", "seconds")),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convergence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="1m", choices=list(SHAPES), help="the release's shape (default 1m)")
    parser.add_argument("--space", type=Path, default=Path("search_spaces/deep-filtered.yaml"),
                        help="the space whose split and objective to use (default deep-filtered.yaml)")
    parser.add_argument("--share", type=float, default=1 / 6, help="of the users scored (default 1/6: 17 minutes "
                        "at ml-1m's shape here)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/<date>-convergence.txt")
    parser.add_argument("--quick", action="store_true", help="smoke test: ml-100k's shape, no file written")
    args = parser.parse_args(argv)
    if not 0 < args.share <= 1:
        parser.error(f"--share: expected a share of the users in (0, 1], got {args.share}")
    if args.quick:
        args.shape = "100k"
    machine, _ = machine_at_start()
    objective, scored_users, figures = measure(args.shape, args.space, args.share)
    publish(report(machine, args.shape, args.space, args.share, objective, scored_users, figures), args.out,
            "convergence", args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
