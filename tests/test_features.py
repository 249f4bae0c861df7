"""The training pipeline: a full reshuffle every epoch, rows kept together, reproducible with a seed."""

from __future__ import annotations

import numpy as np

import tuner_app  # noqa: F401
from tuner_app.model.features import EncodedRatings
from tuner_app.model.pipelines import make_eval_dataset, make_train_dataset


def epochs_of(dataset, count=3):
    return [[batch["user"].numpy().tolist() for batch in dataset] for _ in range(count)]


def test_every_epoch_is_a_new_permutation_of_all_rows_with_columns_aligned():
    n = 23
    data = EncodedRatings(np.arange(n), np.arange(n) * 10, np.arange(n) + 100)
    dataset = make_train_dataset(data, 5, seed=None)
    assert dataset.cardinality().numpy() == 5
    epochs = epochs_of(dataset)
    for epoch in epochs:
        assert [len(b) for b in epoch] == [5, 5, 5, 5, 3]
        assert sorted(sum(epoch, [])) == list(range(n))
    assert len({str(epoch) for epoch in epochs}) == 3  # three different orders
    for batch in dataset:
        assert (batch["timestamp"].numpy() == batch["user"].numpy() * 10).all()
        assert (batch["title"].numpy() == batch["user"].numpy() + 100).all()


def test_a_seed_makes_the_sequence_of_epochs_reproducible():
    data = EncodedRatings(np.arange(50), np.zeros(50, np.int64), np.ones(50, np.int64))
    assert epochs_of(make_train_dataset(data, 8, seed=3)) == epochs_of(make_train_dataset(data, 8, seed=3))
    assert epochs_of(make_train_dataset(data, 8, seed=3)) != epochs_of(make_train_dataset(data, 8, seed=4))


def test_validation_keeps_row_order():
    data = EncodedRatings(np.arange(10), np.arange(10), np.arange(10))
    assert sum(epochs_of(make_eval_dataset(data, 4), 1)[0], []) == list(range(10))


def test_pipelines_run_without_tf_data_autotuning():
    # Autotuning's per-iterator model thread made about one epoch boundary in
    # four block for a second when Keras dropped the epoch's iterator.
    data = EncodedRatings(np.arange(10), np.arange(10), np.arange(10))
    for dataset in (make_train_dataset(data, 4, seed=0), make_eval_dataset(data, 4)):
        assert dataset.options().autotune.enabled is False
