"""Names and closed sets used across the tool, each defined once.

The metric names here are the short ones every file shows: the results CSV's
columns, the history, the objective in a space file and the baselines all say
`val_top_100`, `val_filtered_ndcg_10` or `val_recall_50`. (Keras's own metric names, which the
tutorial's TFRS code logs, are mapped onto these in `model.metrics`.)
"""

from __future__ import annotations

from typing import Literal, get_args

#: The top-k cut-offs every trial and baseline reports.
TOP_KS = (1, 5, 10, 50, 100)

#: The metric families, each at every cut-off, unfiltered and filtered (`model.metrics`,
#: `baselines.scoring` compute them; README defines them):
#: `top`: TFRS's top-k accuracy, the share of validation (user, item) pairs whose item ranks in the
#: top k (a mean over pairs); `recall`, `ndcg`, `hitrate`: Recall@K, NDCG@K and HitRate@K, averaged
#: over the validation users, as papers, RecBole and Microsoft Recommenders report them.
FAMILIES = ("top", "recall", "ndcg", "hitrate")
#: The families averaged over users.
PER_USER_FAMILIES = FAMILIES[1:]


def metric_key(k: int, filtered: bool = False, family: str = "top") -> str:
    """`val_top_k`, `val_recall_k`, ...; `val_filtered_...`: the same with each user's training items excluded."""
    return f"val_{'filtered_' if filtered else ''}{family}_{k}"


#: Every validation metric: each family's unfiltered cut-offs, then its filtered ones; any of them
#: can be the objective (maximised).
METRICS = tuple(metric_key(k, filtered, family) for family in FAMILIES for filtered in (False, True) for k in TOP_KS)
OBJECTIVES = METRICS
FILTERED_PREFIX = "val_filtered_"

#: The longest search name: with its longest suffix (`<name>@<worker id>.lock`, 46 characters) it
#: stays within the 255 bytes a file name may have.
SEARCH_NAME_MAX = 100
#: How many trials a search may have (`tuner.max_trials`, `--max-trials`) and epochs a trial may train
#: (`training.epochs`, `tuner.max_epochs`, `--epochs`), both ends included.
MAX_TRIALS_RANGE = (1, 100_000)
EPOCHS_RANGE = (1, 10_000)

def coverage_key(k: int) -> str:
    """`coverage_k`: the share of the catalogue in some validation user's top k (reported, not an objective)."""
    return f"coverage_{k}"


Algorithm = Literal["hyperband", "bayesian", "random", "grid"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
ACTIVATIONS = ("relu", "gelu", "swish", "silu", "tanh", "elu", "selu", "sigmoid", "leaky_relu")
OPTIMIZERS = ("adagrad", "adam", "lazy_adam")
SAMPLINGS = ("linear", "log", "reverse_log")

#: The baselines every search scores on its own split, and how messages name them.
BASELINES = {"popularity": "popularity", "ease": "EASE", "als": "ALS"}
#: The classical collaborative-filtering baselines: the better of them is the bar a trial's headline lift is over.
CLASSICAL_BASELINES = ("ease", "als")

#: The side features the MovieLens sources have, by the side (tower) they feed (`data.side`); a data
#: YAML's tables have features of their own names.
SIDE_FEATURES = {"age": "user", "gender": "user", "occupation": "user", "zip": "user",
                 "genres": "item", "year": "item"}
#: A query-tower feature every data set has: the mean embedding of the items the user interacted with in
#: training (YouTube's deep candidate generation), a training row's own item left out (`model.towers`).
HISTORY_FEATURE = "history"
#: A query-tower feature of data whose ratings vary: the user's training items, each weighted by how the user rated
#: it against their own mean rating (above it: towards the item; below: away), so that a model learns from the
#: values, not only from which items were rated; a training row's own item and rating left out (`model.towers`).
RATED_HISTORY_FEATURE = "rated_history"
#: The features computed from each user's training rows rather than read from a table: no data column may take
#: their names.
DERIVED_FEATURES = (HISTORY_FEATURE, RATED_HISTORY_FEATURE)
#: Features a space switches on only by name, not through `feature_*`: the rated history costs about as much as
#: the history again (a trial's epochs took 1.9x as long on generated data of ml-1m's shape) and there gained
#: nothing measurable (results/README.md).
BY_NAME_ONLY_FEATURES = (RATED_HISTORY_FEATURE,)
SplitKind = Literal["random", "temporal"]
SPLIT_KINDS: tuple[str, ...] = get_args(SplitKind)

#: keras-tuner's own hyperparameters (Hyperband's `tuner/epochs`, `tuner/trial_id`, ...).
KERAS_TUNER_PREFIX = "tuner/"
#: Hyperparameters that are this tool's bookkeeping, not choices: never shown as columns.
BOOKKEEPING_PREFIX = "tuner_app/"
#: A fixed hyperparameter of every search's space carrying its fingerprint, which a
#: distributed worker compares with its own.
FINGERPRINT_HP = f"{BOOKKEEPING_PREFIX}fingerprint"
