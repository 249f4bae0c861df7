"""The encoded ratings as tf.data pipelines: an endless shuffled training stream, cached validation."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tuner_app.model.features import EncodedRatings


def make_train_dataset(data: EncodedRatings, batch_size: int, seed: int | None) -> tf.data.Dataset:
    """The tutorial's `train.shuffle(100_000).batch(2048)`: a fresh full shuffle every epoch.

    Shuffled as a whole instead of element by element: each epoch draws one
    permutation of the rows, gathers the whole table in that order once, and
    cuts it into consecutive batches. `shuffle(n)` would refill an n-element
    buffer at every epoch start, which cost a good share of an epoch here.
    Same distribution of batches: a uniformly random permutation, cut into
    consecutive batches.

    Args:
        seed: makes the sequence of permutations reproducible (None: random).
    """
    rows = tf.constant(np.stack([data.user, data.timestamp, data.title], axis=1))
    n = len(data)
    full_batches, remainder = divmod(n, batch_size)

    def columns(batch_rows):
        return {name: batch_rows[..., i] for i, name in enumerate(("user", "timestamp", "title"))}

    def epoch_batches(epoch_seed):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=epoch_seed)
        shuffled = tf.gather(rows, order)
        # Full batches as slices of one [batches, batch_size, 3] tensor: no per-batch function.
        full = shuffled[:full_batches * batch_size]
        batches = tf.data.Dataset.from_tensor_slices(
            columns(tf.reshape(full, [full_batches, batch_size, 3])))
        if remainder:
            last = tf.data.Dataset.from_tensors(columns(shuffled[full_batches * batch_size:]))
            batches = batches.concatenate(last)
        return batches

    # No map, no prefetch: a per-batch map function cost more than this one gather an epoch,
    # and on a 2-core machine background pipeline threads only compete with training (an
    # AUTOTUNE map and prefetch made epochs slower; benchmarks/HISTORY.md).
    dataset = (
        # One seed pair per epoch: a new permutation each time the dataset is iterated.
        tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2).take(1)
        .flat_map(epoch_batches)
        .apply(tf.data.experimental.assert_cardinality(full_batches + (remainder > 0)))
    )
    return dataset.with_options(pipeline_options())


def make_eval_dataset(data: EncodedRatings, batch_size: int) -> tf.data.Dataset:
    """The tutorial's `test.batch(4096).cache()`."""
    dataset = tf.data.Dataset.from_tensor_slices(data.as_dict()).batch(batch_size).cache()
    return dataset.with_options(pipeline_options())


def pipeline_options() -> tf.data.Options:
    """tf.data options of every pipeline here: autotuning off.

    These pipelines have nothing to tune (no parallel map, no prefetch), but
    with autotuning on, tf.data runs a model thread per iterator, and tearing
    that thread down when Keras drops an epoch's iterator blocked for about a
    second in some epochs (benchmarks/HISTORY.md; the tutorial's code has the
    same stalls).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options
