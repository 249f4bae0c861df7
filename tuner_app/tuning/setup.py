"""A search's set-up, step by step: its state opened, its data prepared, its summary written, its tuner built.

`tuning.search` calls these in order; each step takes what the ones before produced:

1. `open_state`: checks the saved state against the space and data (or starts it), and says what starts;
2. `prepare_data`: TensorFlow loads; vocabularies, encoded splits, seen items, once per search;
3. `write_summary_and_baselines`: the baselines scored on the same rows, the summary `<name>.json`;
4. `build_tuner`: the trainer, the oracle and the tuner for this process's role, wired together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuner_app.data.records import DataSpec, Ratings
from tuner_app.data.split import selection_rows
from tuner_app.distributed.roles import Role
from tuner_app.space.spec import SearchSpec
from tuner_app.store import atomic, identity
from tuner_app.store.layout import SearchPaths
from tuner_app.store.summary import baseline_values, write_summary
from tuner_app.tuning.progress import ConsoleProgress
from tuner_app.tuning.signals import StopToken


@dataclass(frozen=True)
class Rows:
    """The split's rows: training, the validation rows trials are selected on, all validation rows, held back."""

    train: np.ndarray
    validation: np.ndarray
    validation_all: np.ndarray
    holdout: np.ndarray

    @classmethod
    def of(cls, spec: SearchSpec, split: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Rows:
        train, validation_all, holdout = split
        return cls(train, selection_rows(validation_all, spec.evaluation.validation_rows, spec.split.seed),
                   validation_all, holdout)

    @property
    def sampled(self) -> bool:
        """Whether trials are selected on a sample of the validation rows."""
        return len(self.validation) < len(self.validation_all)


@dataclass
class PreparedSearch:
    """A search ready to run its trials: what the local loop, the chief and a worker share."""

    spec: SearchSpec
    paths: SearchPaths
    tuner: object  # tuning.tuner.RetrievalTuner (imported with TensorFlow)
    trainer: object  # tuning.trainer.Trainer
    progress: ConsoleProgress
    summary: dict
    fingerprint: str
    stop: StopToken

    @property
    def baselines(self) -> dict[str, float]:
        """Each baseline's objective on the validation rows."""
        return baseline_values(self.summary, self.spec.objective)


def serves(role: Role | None) -> bool:
    """Whether this process keeps the search's results: a local search or a chief, not a worker."""
    return role is None or not role.is_worker


def open_state(spec: SearchSpec, ratings: Ratings, data_spec: DataSpec, paths: SearchPaths, overwrite: bool,
               role: Role | None, progress: ConsoleProgress) -> bool:
    """Starts the search's state, or checks a saved one matches; says what starts. Returns: resuming."""
    # A worker started just before its chief writes the search state too: only an oracle
    # that has saved its state makes this a resumed search.
    resuming = identity.check_or_start(paths, spec, ratings, data_spec, overwrite) and paths.has_tuner_state()
    identity.check_state_files(paths)
    if serves(role):
        # Not a worker: workers share the folder with a live chief, whose file being written
        # would look stray to them.
        atomic.remove_stray_temp_files(paths.state_dir)
        for path in paths.outputs:
            atomic.remove_stray_temp_files(paths.results_dir, path.name, recursive=False)
    part = "" if role is None else f" as {role.kind} {role.worker_id or ''} at {role.address}".replace("  ", " ")
    progress.say(f"{'Resuming' if resuming else 'Starting'} search '{spec.name}' ({spec.tuner.algorithm}){part} "
                 f"on {ratings.description}: {len(ratings):,} ratings")
    for line in ratings.preparation:
        progress.say(f"  {line}")
    return resuming


def prepare_data(spec: SearchSpec, ratings: Ratings, rows: Rows, paths: SearchPaths, threads: int | None,
                 progress: ConsoleProgress):
    """TensorFlow loads (every input has been validated); the search's `model.features.SplitData`, its
    vocabularies saved beside the trials (rebuilt where the saved ones are damaged)."""
    from tuner_app.model.runtime import load_tensorflow

    load_tensorflow(threads=threads)
    from tuner_app.model import features
    from tuner_app.store.vocabulary import damage, keep_saved_word_table, save_vocabulary
    from tuner_app.tuning import kt_internals

    kt_internals.check_version()
    kt_internals.quiet()
    data = features.prepare(ratings, rows.train, rows.validation, rows.holdout,
                            rows.validation_all if rows.sampled else None, derived=spec.derived_features)
    damaged = damage(paths.vocabulary)
    if damaged:
        progress.result(f"repaired: {paths.vocabulary} was damaged ({damaged}); rebuilt from the data")
        paths.vocabulary.unlink()
    data = data.with_vocab(keep_saved_word_table(paths.vocabulary, data.vocab))
    save_vocabulary(paths.vocabulary, data.vocab)
    return data


def write_summary_and_baselines(spec: SearchSpec, ratings: Ratings, rows: Rows, data, paths: SearchPaths,
                                role: Role | None, progress: ConsoleProgress) -> dict:
    """The baselines scored on the search's rows and the summary `<name>.json` (written by a local search
    or the chief); prints the baselines' line."""
    from tuner_app.baselines import score_baselines
    from tuner_app.tuning.outcome import describe_baselines

    summary = {
        **identity.describe_search(spec, ratings),
        **({"preparation": list(ratings.preparation)} if ratings.preparation else {}),
        "objective": spec.objective,
        "rows": {"train": len(rows.train), "validation": len(rows.validation), "holdout": len(rows.holdout),
                 **({"validation_all": len(rows.validation_all)} if rows.sampled else {})},
        **({"selection": f"trials are selected on a fixed random sample of {len(rows.validation):,} of the "
                         f"{len(rows.validation_all):,} validation rows (evaluation.validation_rows); the best "
                         "trial is scored on all of them"} if rows.sampled else {}),
        "baselines": score_baselines(data, spec.objective, spec.evaluation.exclude_seen, say=progress.say),
    }
    if serves(role):
        write_summary(paths, summary)
    progress.say(describe_baselines(summary, spec.objective))
    return summary


def build_tuner(spec: SearchSpec, ratings: Ratings, data, summary: dict, paths: SearchPaths, role: Role | None,
                progress: ConsoleProgress, resuming: bool, *, max_deaths: int, tensorboard: Path | None,
                stop: StopToken) -> PreparedSearch:
    """The trainer, the oracle (with this search's fingerprint and, as chief, its gate) and the tuner,
    connected: the tuner reports each epoch the trainer finishes, and decides when a trial is cut."""
    from tuner_app.report import trials as trial_rows
    from tuner_app.space.names import FINGERPRINT_HP
    from tuner_app.tuning.budget import TimeBudget
    from tuner_app.tuning.hypermodel import MovielensHyperModel
    from tuner_app.tuning.oracles import make_oracle
    from tuner_app.tuning.trainer import Trainer
    from tuner_app.tuning.tuner import RetrievalTuner

    hypermodel = MovielensHyperModel(spec, data.vocab)
    trainer = Trainer(
        data, spec.objective, spec.training.validation_freq, paths.state_dir,
        eval_batch_size=spec.training.eval_batch_size, exclude_seen=spec.evaluation.exclude_seen,
        shuffle_seed=spec.training.shuffle_seed, max_deaths=max_deaths,
        keep_last_checkpoint=spec.tuner.algorithm == "hyperband", stop=stop,
    )
    fingerprint = identity.search_fingerprint(spec, ratings)
    space = hypermodel.search_space()
    space.Fixed(FINGERPRINT_HP, fingerprint)
    oracle = make_oracle(spec, space)
    if role is not None:
        from tuner_app.distributed.roles import enter_role

        enter_role(role, fingerprint)  # keras-tuner reads its role from the environment
        oracle.expected_fingerprint = fingerprint[:16]
    # The chief (or a local search) keeps the time budget; a worker's chief decides for it.
    budget = TimeBudget(spec.tuner.time_budget, paths.state_dir) if serves(role) else None
    progress.budget = oracle.budget = budget
    trial_begin = [progress.trial_begin]
    trainer.epoch_listeners.append(progress.epoch)
    trainer.notice_listeners.append(progress.result)
    if tensorboard is not None:
        from tuner_app.tuning.tensorboard import TensorBoardLogger

        logger = TensorBoardLogger(tensorboard, space, spec.objective)
        trainer.epoch_listeners.append(logger.epoch)
        trial_begin.append(logger.trial_begin)
    tuner = RetrievalTuner(oracle, hypermodel, trainer, paths, baselines=baseline_values(summary, spec.objective),
                           on_trial_begin=lambda trial, plan: [begin(trial, plan) for begin in trial_begin],
                           on_trial_done=progress.trial_done, budget=budget, role=role)
    trainer.epoch_listeners.append(tuner.report_epoch)
    trainer.restart_listeners.append(tuner.forget_epochs)
    trainer.cut_checks.append(tuner.cut_due)
    for repair in getattr(oracle, "repairs", []):
        progress.result(f"repaired: {repair}")
    if resuming and serves(role):
        progress.resumed([trial_rows.trial_row(t, spec.objective, oracle)
                          for t in trial_rows.ended(oracle.trials.values())])
    return PreparedSearch(spec, paths, tuner, trainer, progress, summary, fingerprint, stop)
