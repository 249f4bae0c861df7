"""The end of a search: the final results, the summary lines, the best trial's extra scores, the exit decision.

Shared by a local search and a chief (`tuning.search`): the best trial's coverage, its figures on every
validation row (when trials were selected on a sample) and on the held-back rows, and the lines that
say how it compares with the baselines.
"""

from __future__ import annotations

from tuner_app.errors import SearchError, SearchInterrupted
from tuner_app.report.rows import at_epoch_cap, best_classical, best_row, epoch_cap_line
from tuner_app.space.durations import format_duration
from tuner_app.space.names import BASELINES, CLASSICAL_BASELINES
from tuner_app.store.summary import baseline_setting, baseline_values, baselines_of, coverage_line, write_summary


def finish(search, stopped: bool, failure: str | None) -> None:
    """Final results, summary lines and the exit decision."""
    spec, progress, baselines = search.spec, search.progress, search.baselines
    rows = search.tuner.write_results()
    budget = search.tuner.budget
    if budget is not None:
        budget.save()
    completed = [r for r in rows if r.completed]
    failed = [r for r in rows if not r.completed]
    best = best_row(rows)
    progress.result(f"{len(completed)} trial(s) completed, {len(failed)} failed; results in {search.paths.csv}")
    if budget is not None and budget.exhausted():
        cut = [r.trial_id for r in rows if r.cut_by_budget]
        progress.result(f"the {format_duration(budget.seconds)} time budget is spent ({format_duration(budget.spent())} "
                        f"over this search's runs){_cut_note(cut)}"
                        "; a larger --time-budget continues it")
    if best is not None:
        lift = f" ({lifts(best.objective, baselines)})" if baselines else ""
        progress.result(f"best: trial {best.trial_id}, {spec.objective} {best.objective:.4f} "
                        f"at epoch {best.best_epoch}{lift}")
        allowed = {r.trial_id: r.hyperparameters.get("epochs", spec.training.epochs) for r in completed}
        capped = [r.trial_id for r in completed if at_epoch_cap(r.best_epoch, allowed[r.trial_id],
                                                                r.hyperparameters.get("tuner/epochs"), r.cut_by_budget)]
        if capped:
            progress.result(epoch_cap_line(capped, [allowed[trial] for trial in capped]))
        if not stopped:
            _score_best(search, best)
    if stopped:
        raise SearchInterrupted(
            f"search '{spec.name}' stopped by request after {len(rows)} finished trial(s); "
            "run the same command again to resume it."
        )
    if failure is not None:
        reasons = "; ".join(f"trial {r.trial_id}: {r.reason}" for r in failed[-3:])
        raise SearchError(f"search '{spec.name}' stopped: {failure.rstrip('.')}; last reasons: {reasons}.")
    if not completed:
        reasons = "; ".join(f"trial {r.trial_id}: {r.reason}" for r in failed[-3:]) or "no trial was run"
        raise SearchError(f"search '{spec.name}' finished without a completed trial ({reasons}).")


def _cut_note(cut: list[str]) -> str:
    if not cut:
        return ""
    return f"; trial {cut[0]} was cut at its best epoch so far" if len(cut) == 1 else \
        f"; trials {', '.join(cut)} were cut at their best epoch so far"


def _score_best(search, best) -> None:
    """The best trial's catalogue coverage, its figures on all validation rows (when trials saw a sample)
    and on the held-back rows no trial was selected on (when its checkpoint is on this machine)."""
    trainer, summary, progress = search.trainer, search.summary, search.progress
    if trainer.load_record(best.trial_id) is None:
        progress.result(f"trial {best.trial_id} ran on another machine: score it on all rows there "
                        f"with `python -m tuner_app repeat` or copy its trial folder here")
        return
    summary["best_trial_coverage"] = {"trial_id": best.trial_id, **trainer.coverage_of_best(best.trial_id)}
    write_summary(search.paths, summary)
    progress.result(coverage_line(summary) or "")
    objective = search.spec.objective
    if trainer.validation_all is not None:
        every = trainer.evaluate_best(best.trial_id, trainer.validation_all)
        summary["best_trial_all_validation"] = {"trial_id": best.trial_id, "sample": best.metrics, "all": every}
        write_summary(search.paths, summary)
        progress.result(f"best trial on all {summary['rows']['validation_all']:,} validation rows (trials were "
                        f"selected on {summary['rows']['validation']:,} of them): {objective} {every[objective]:.4f}")
    if trainer.holdout is None:
        return
    held_back = trainer.evaluate_best(best.trial_id, trainer.holdout)
    summary["best_trial_holdout"] = {"trial_id": best.trial_id, "validation": best.metrics, "holdout": held_back}
    write_summary(search.paths, summary)
    others = ", ".join(f"{BASELINES[name]} {value:.4f}"
                       for name, value in baseline_values(summary, objective, "holdout").items())
    progress.result(f"best trial on the {summary['rows']['holdout']:,} held-back rows: {objective} "
                    f"{held_back[objective]:.4f} ({others})")


def describe_baselines(summary: dict, objective: str) -> str:
    """'popularity baseline: val_top_100 0.2962; EASE (L2 3000): 0.3857 on the validation rows'."""
    parts = []
    for name, entry in baselines_of(summary).items():
        if "skipped" in entry:
            parts.append(entry["skipped"])
        elif objective in entry.get("validation", {}):
            setting = baseline_setting(entry)
            parts.append(f"{BASELINES[name]}{setting} {entry['validation'][objective]:.4f}")
    return f"baselines on the validation rows, {objective}: " + "; ".join(parts)


def lifts(objective: float, baselines: dict[str, float]) -> str:
    """'1.22x the better classical baseline (EASE); 1.59x popularity, 1.22x EASE, 1.31x ALS'."""
    shown = [f"{objective / value:.2f}x {BASELINES[name]}" for name, value in baselines.items() if value]
    best = best_classical(baselines)
    if best is None:
        return ", ".join(shown)
    name = next(n for n in CLASSICAL_BASELINES if baselines.get(n) == best)
    return f"{objective / best:.2f}x the better classical baseline ({BASELINES[name]}); " + ", ".join(shown)
