"""Timing helpers for `benchmarks.speed`: epoch timer, epoch statistics, the in-batch floor.

Import `tuner_app` (or `benchmarks.tutorial`) before this module: it imports
TensorFlow, which must start with Keras 2.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

#: An epoch this many times slower than the median counts as a stall.
STALL_FACTOR = 1.5


class EpochTimer(tf.keras.callbacks.Callback):
    """Wall seconds of each epoch, from the previous epoch's end to this one's end.

    Measured end to end rather than from `on_epoch_begin`, because the stalls
    this benchmark looks for sit at epoch boundaries (iterator re-creation,
    reshuffling), which a begin-to-end interval would miss. The begin-to-end
    ("inner") seconds are kept too, to tell the two apart.
    """

    def __init__(self, between_epochs: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.inner: list[float] = []
        self._between = between_epochs
        self.between: list[float] = []
        self._last_end = self._begin = time.perf_counter()

    def on_train_begin(self, logs=None):
        self._last_end = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.seconds.append(now - self._last_end)
        self.inner.append(now - self._begin)
        if self._between is not None:  # not counted in any epoch
            self._between()
            self.between.append(time.perf_counter() - now)
            now = time.perf_counter()
        self._last_end = now


def fit_timed(
    model: tf.keras.Model,
    dataset: tf.data.Dataset,
    epochs: int,
    between_epochs: Callable[[], object] | None = None,
    **fit_args,
) -> tuple[list[float], float]:
    """Fits `model` and returns (per-epoch seconds, seconds of the whole `fit` call).

    The first entry is replaced by the `fit` time minus the other epochs, so
    that everything `fit` does before its first callback (data adapter,
    tracing) is charged to the first epoch.

    Args:
        between_epochs: called after each epoch; its time counts in neither
            the epochs nor the `fit` call.
    """
    timer = EpochTimer(between_epochs)
    started = time.perf_counter()
    model.fit(dataset, epochs=epochs, callbacks=[timer], verbose=0, **fit_args)
    wall = time.perf_counter() - started
    seconds = list(timer.seconds)
    if seconds:
        wall -= sum(timer.between)
        seconds[0] = wall - sum(seconds[1:])
    return seconds, wall


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Calls `fn()`; returns its result and the wall seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


@dataclass(frozen=True)
class EpochStats:
    """Statistics of steady-state epochs (each run's first epoch dropped)."""

    median: float
    mean: float
    max: float
    stall_share: float  # share of epochs slower than STALL_FACTOR x median
    count: int

    @property
    def stall_overhead(self) -> float:
        """Mean minus median: what stalls add to an average epoch."""
        return self.mean - self.median


def epoch_stats(runs: Sequence[Sequence[float]]) -> EpochStats:
    """Pools the epochs after the first of every run into one set of statistics."""
    steady = [s for run in runs for s in run[1:]]
    if not steady:
        raise ValueError("need at least 2 epochs per run to time steady-state epochs")
    median = statistics.median(steady)
    stalls = sum(1 for s in steady if s > STALL_FACTOR * median)
    return EpochStats(
        median, statistics.fmean(steady), max(steady), stalls / len(steady), len(steady)
    )


def first_epoch_extra(run: Sequence[float], median: float) -> float:
    """Seconds the first epoch of a run took beyond a steady epoch (tracing, caches)."""
    return run[0] - median


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


#: The floor's loss: tuner_app's kernel on every row (the target), the same
#: scoring each distinct title once (what the app trains with), or
#: TensorFlow's cross-entropy op.
FLOOR_LOSSES = ("kernel", "distinct", "xent")


def make_floor_steps(
    batch: int, dim: int, loss: str = "kernel", learning_rate: float = 0.1, seed: int = 0
) -> Callable[[tf.Tensor], tf.Tensor]:
    """`steps(titles)`: one training step of the bare in-batch softmax per row of `titles`.

    What every retrieval training step must at least do at this batch size:
    the score matrix, softmax cross-entropy against each query's own
    candidate, its gradient and an Adagrad update on `[batch, dim]`
    embedding variables. No towers, no input pipeline, no Keras `fit` loop.
    The steps run inside one `tf.function` call, as the app runs
    `steps_per_execution` steps per call, so that neither side pays Python
    per step.

    Args:
        loss: "kernel", `tuner_app.model.losses.in_batch_softmax_loss` on the
            `[batch, batch]` scores, the fastest formulation known here that
            scores every row; "distinct", `unique_candidate_softmax_loss`,
            the app's loss, on `[batch, distinct titles]` scores (the first
            rows of the candidate variable stand for the batch's distinct
            titles); "xent", `tf.nn.sparse_softmax_cross_entropy_with_logits`
            on the `[batch, batch]` scores.

    `titles` is `[steps, batch]` title ids; only "distinct" reads them.
    """
    if loss not in FLOOR_LOSSES:
        raise ValueError(f"loss must be one of {FLOOR_LOSSES}; got {loss!r}")
    from tuner_app.model.losses import in_batch_softmax_loss, unique_candidate_softmax_loss

    generator = tf.random.Generator.from_seed(seed)
    queries = tf.Variable(generator.normal([batch, dim], stddev=0.05))
    candidates = tf.Variable(generator.normal([batch, dim], stddev=0.05))
    labels = tf.range(batch)
    optimizer = tf.keras.optimizers.legacy.Adagrad(learning_rate)  # the app's optimizer class
    variables = [queries, candidates]
    optimizer._create_all_weights(variables)  # not inside the trace (it would trace twice)

    def step(titles: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            if loss == "kernel":
                value = in_batch_softmax_loss(queries, candidates)
            elif loss == "distinct":
                _, index, counts = tf.unique_with_counts(titles)
                value = unique_candidate_softmax_loss(queries, candidates[:tf.size(counts)], index, counts)
            else:
                scores = tf.linalg.matmul(queries, candidates, transpose_b=True)
                value = tf.reduce_sum(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=scores)
                )
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True),
                                  experimental_aggregate_gradients=False)
        return value

    @tf.function
    def steps(titles: tf.Tensor) -> tf.Tensor:
        value = tf.zeros([])
        for i in tf.range(tf.shape(titles)[0]):
            value = step(titles[i])
        return value

    return steps


class FloorEpoch:
    """Times epochs of the bare in-batch softmax: the app's epoch of batches, nothing else.

    An epoch of the training rows is `rows // batch` full steps and one step
    on the remainder, run `steps_per_call` steps per `tf.function` call, as
    the app's epoch is. The benchmark runs one right after each of the app's
    epochs (`fit_timed(between_epochs=...)`): on a shared VM the CPU's speed
    drifts by ±20% within a minute, and a floor timed at another moment than
    the epoch it is compared with says more about the drift than about the
    app.

    Args:
        titles: the training rows' title ids. Each epoch deals them out in a
            new random order, as the app shuffles its rows, so that the
            "distinct" floor's batches hold as many distinct titles as the
            app's.
    """

    def __init__(self, titles: Sequence[int], batch: int = 2048, dim: int = 32, loss: str = "kernel",
                 steps_per_call: int = 8, seed: int = 0) -> None:
        self._titles = np.asarray(titles, np.int64)
        self._batch = batch
        self._rng = np.random.default_rng(seed)
        full, remainder = divmod(len(self._titles), batch)
        self._full = make_floor_steps(batch, dim, loss)
        self._partial = make_floor_steps(remainder, dim, loss, seed=1) if remainder else None
        self._calls = [steps_per_call] * (full // steps_per_call) + (
            [full % steps_per_call] if full % steps_per_call else [])
        self.description = f"{full} x {batch}" + (f" + 1 x {remainder}" if remainder else "") + " rows"
        self.seconds: list[float] = []
        self._run()  # traces both step functions

    def _run(self) -> float:
        order = self._titles[self._rng.permutation(len(self._titles))]
        full = len(order) // self._batch * self._batch
        batches = tf.constant(order[:full].reshape(-1, self._batch))
        last = tf.constant(order[full:].reshape(1, -1))
        ends = np.cumsum(self._calls)
        calls = [batches[end - n:end] for n, end in zip(self._calls, ends, strict=True)]
        started = time.perf_counter()
        for titles in calls:
            value = self._full(titles)
        if self._partial is not None:
            value = self._partial(last)
        value.numpy()  # waits for the last step
        return time.perf_counter() - started

    def sample(self) -> float:
        """Times one more epoch; returns its seconds."""
        self.seconds.append(self._run())
        return self.seconds[-1]

    def median(self) -> float:
        """Median seconds of one epoch over every sample so far."""
        return median(self.seconds)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float:
    """The 1-minute load average (0 where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


#: A 1-minute load average above this many per core at the start makes timings suspect.
BUSY_LOAD_PER_CORE = 0.5


def busy_warning(load: float) -> list[str]:
    """A warning line when other processes kept the CPU busy as the benchmark started."""
    cores = os.cpu_count() or 1
    if load < BUSY_LOAD_PER_CORE * cores:
        return []
    warning = (
        f"WARNING: load average {load:.2f} on {cores} cores at the start: timings are suspect."
    )
    return [warning]


def machine_description() -> str:
    """One line: CPU, cores, load, TensorFlow and TFRS versions, date.

    The load average is there because timings on a busy machine mean little:
    a reader can see at once whether the run had the CPU to itself.
    """
    import tensorflow_recommenders as tfrs

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{cpu_model()}, {cores} cores ({usable} usable), load average {load}; "
        f"TensorFlow {tf.__version__}, TFRS {tfrs.__version__}, "
        f"Python {platform.python_version()}; {now}"
    )
