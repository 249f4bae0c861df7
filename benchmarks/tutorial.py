"""The reference: TFRS's "Building deep retrieval models" tutorial, kept as written.

https://www.tensorflow.org/recommenders/examples/deep_recommenders

The tutorial's classes are copied as they are, with one change: the data
(`unique_user_ids`, `unique_movie_titles`, `timestamps`, the movies dataset)
are passed in instead of read from module globals, so the same code runs on
TFDS's MovieLens or on GroupLens files read by `tuner_app.data`. Nothing here
is optimised; benchmarks measure tuner_app against it, and tests check that
tuner_app's model computes the same thing.
"""

from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs


def tutorial_datasets(ratings) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """`tuner_app.data.Ratings` as the tutorial's `ratings` and `movies` datasets (after its maps)."""
    ratings_ds = tf.data.Dataset.from_tensor_slices(
        {
            "movie_title": ratings.item_id.astype(str),
            "user_id": ratings.user_id.astype(str),
            "timestamp": ratings.timestamp.astype(np.int64),
        }
    )
    movies_ds = tf.data.Dataset.from_tensor_slices(ratings.item_catalog.astype(str))
    return ratings_ds, movies_ds


class TutorialData:
    """The tutorial's module-level preprocessing, computed exactly as it does."""

    def __init__(self, ratings: tf.data.Dataset, movies: tf.data.Dataset):
        self.ratings = ratings
        self.movies = movies
        self.timestamps = np.concatenate(list(ratings.map(lambda x: x["timestamp"]).batch(100)))
        max_timestamp = self.timestamps.max()
        min_timestamp = self.timestamps.min()
        self.timestamp_buckets = np.linspace(min_timestamp, max_timestamp, num=1000)
        self.unique_movie_titles = np.unique(np.concatenate(list(movies.batch(1000))))
        self.unique_user_ids = np.unique(
            np.concatenate(list(ratings.batch(1_000).map(lambda x: x["user_id"])))
        )


class UserModel(tf.keras.Model):
    def __init__(self, data: TutorialData):
        super().__init__()
        self.user_embedding = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=data.unique_user_ids, mask_token=None),
            tf.keras.layers.Embedding(len(data.unique_user_ids) + 1, 32),
        ])
        self.timestamp_embedding = tf.keras.Sequential([
            tf.keras.layers.Discretization(data.timestamp_buckets.tolist()),
            tf.keras.layers.Embedding(len(data.timestamp_buckets) + 1, 32),
        ])
        self.normalized_timestamp = tf.keras.layers.Normalization(axis=None)
        self.normalized_timestamp.adapt(data.timestamps)

    def call(self, inputs):
        return tf.concat([
            self.user_embedding(inputs["user_id"]),
            self.timestamp_embedding(inputs["timestamp"]),
            tf.reshape(self.normalized_timestamp(inputs["timestamp"]), (-1, 1)),
        ], axis=1)


class QueryModel(tf.keras.Model):
    def __init__(self, layer_sizes, data: TutorialData):
        super().__init__()
        self.embedding_model = UserModel(data)
        self.dense_layers = tf.keras.Sequential()
        for layer_size in layer_sizes[:-1]:
            self.dense_layers.add(tf.keras.layers.Dense(layer_size, activation="relu"))
        for layer_size in layer_sizes[-1:]:
            self.dense_layers.add(tf.keras.layers.Dense(layer_size))

    def call(self, inputs):
        feature_embedding = self.embedding_model(inputs)
        return self.dense_layers(feature_embedding)


class MovieModel(tf.keras.Model):
    def __init__(self, data: TutorialData):
        super().__init__()
        max_tokens = 10_000
        self.title_embedding = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=data.unique_movie_titles, mask_token=None),
            tf.keras.layers.Embedding(len(data.unique_movie_titles) + 1, 32),
        ])
        self.title_vectorizer = tf.keras.layers.TextVectorization(max_tokens=max_tokens)
        self.title_text_embedding = tf.keras.Sequential([
            self.title_vectorizer,
            tf.keras.layers.Embedding(max_tokens, 32, mask_zero=True),
            tf.keras.layers.GlobalAveragePooling1D(),
        ])
        self.title_vectorizer.adapt(data.movies)

    def call(self, titles):
        return tf.concat([
            self.title_embedding(titles),
            self.title_text_embedding(titles),
        ], axis=1)


class CandidateModel(tf.keras.Model):
    def __init__(self, layer_sizes, data: TutorialData):
        super().__init__()
        self.embedding_model = MovieModel(data)
        self.dense_layers = tf.keras.Sequential()
        for layer_size in layer_sizes[:-1]:
            self.dense_layers.add(tf.keras.layers.Dense(layer_size, activation="relu"))
        for layer_size in layer_sizes[-1:]:
            self.dense_layers.add(tf.keras.layers.Dense(layer_size))

    def call(self, inputs):
        feature_embedding = self.embedding_model(inputs)
        return self.dense_layers(feature_embedding)


class MovielensModel(tfrs.models.Model):
    def __init__(self, layer_sizes, data: TutorialData):
        super().__init__()
        self.query_model = QueryModel(layer_sizes, data)
        self.candidate_model = CandidateModel(layer_sizes, data)
        self.task = tfrs.tasks.Retrieval(
            metrics=tfrs.metrics.FactorizedTopK(
                candidates=data.movies.batch(128).map(self.candidate_model),
            ),
        )

    def compute_loss(self, features, training=False):
        query_embeddings = self.query_model({
            "user_id": features["user_id"],
            "timestamp": features["timestamp"],
        })
        movie_embeddings = self.candidate_model(features["movie_title"])
        return self.task(query_embeddings, movie_embeddings, compute_metrics=not training)


def tutorial_split(ratings: tf.data.Dataset, train_size: int, test_size: int, seed: int = 42):
    """The tutorial's split and batching."""
    tf.random.set_seed(seed)
    shuffled = ratings.shuffle(100_000, seed=seed, reshuffle_each_iteration=False)
    train = shuffled.take(train_size)
    test = shuffled.skip(train_size).take(test_size)
    cached_train = train.shuffle(100_000).batch(2048)
    cached_test = test.batch(4096).cache()
    return cached_train, cached_test
