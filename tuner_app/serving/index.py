"""The exported retrieval model: raw user id and timestamp in, top titles out."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from tuner_app.model.features import make_user_lookup
from tuner_app.store.vocabulary import Vocabulary


class RawQueryModel(tf.keras.Model):
    """The query tower behind its user-id lookup: raw strings in, query embeddings out."""

    def __init__(self, vocab: Vocabulary, query_model: tf.keras.Model):
        super().__init__()
        self.user_lookup = make_user_lookup(vocab)
        self.query_model = query_model

    def call(self, inputs):
        return self.query_model({"user": self.user_lookup(inputs["user_id"]),
                                 "timestamp": tf.cast(inputs["timestamp"], tf.int64)})


def build_index(vocab: Vocabulary, model, k: int, example_timestamp: int) -> tfrs.layers.factorized_top_k.BruteForce:
    """A BruteForce index over every unique title, traced once so it can be saved."""
    index = tfrs.layers.factorized_top_k.BruteForce(RawQueryModel(vocab, model.query_model), k=k)
    index.index(model.candidate_embeddings(), identifiers=tf.constant(vocab.titles.astype(str)))
    index({"user_id": tf.constant([str(vocab.user_ids[0])]), "timestamp": tf.constant([example_timestamp], tf.int64)})
    return index
