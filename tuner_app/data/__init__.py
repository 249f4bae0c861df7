"""Data sources -> one feature schema (`Ratings`) and the tutorial's split. Never imports TensorFlow.

Four sources, chosen with `--data` (`arguments.parse_data_arg`), read by
`sources.load_ratings`:

- `tfds`: TensorFlow Datasets' `movielens/*` (`tfds`, which imports
  tensorflow_datasets only when it reads);
- `grouplens`: the files GroupLens publishes, a folder or a .zip read in place
  (`grouplens`), parsed so that every field equals what TFDS gives;
- `synthetic`: MovieLens-shaped data with a learnable structure (`synthetic`);
- `table`: a user's own interactions, a CSV/TSV/Parquet file alone or a data YAML naming it
  and its users' and items' tables (`data_yaml`), read by pyarrow (`own`, `table_files`,
  `values`, `side_tables`) and preprocessed as declared (`preprocess`).
"""

from tuner_app.data.arguments import parse_data_arg
from tuner_app.data.grouplens import load_grouplens
from tuner_app.data.own.data_yaml import read_data_yaml
from tuner_app.data.own.load import load_own_data
from tuner_app.data.own.spec import OwnDataSpec
from tuner_app.data.records import GROUPLENS_URL, DataSpec, Ratings, SyntheticSpec
from tuner_app.data.sources import load_ratings
from tuner_app.data.split import split_indices, split_rows
from tuner_app.data.synthetic import make_synthetic

__all__ = [
    "GROUPLENS_URL", "DataSpec", "OwnDataSpec", "Ratings", "SyntheticSpec", "load_grouplens", "load_own_data",
    "load_ratings", "make_synthetic", "parse_data_arg", "read_data_yaml", "split_indices", "split_rows",
]
