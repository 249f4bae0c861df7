"""Reading the source a `DataSpec` names into `Ratings`."""

from __future__ import annotations

from tuner_app.data.records import DataSpec, Ratings


def load_ratings(spec: DataSpec) -> Ratings:
    """Reads the data source named by `--data`.

    Raises:
        DataError: the source cannot be read or is not in a supported format.
    """
    if spec.kind == "synthetic":
        from tuner_app.data.synthetic import make_synthetic

        return make_synthetic(spec.synthetic)
    if spec.kind == "grouplens":
        from tuner_app.data.grouplens import load_grouplens

        return load_grouplens(spec.path)
    if spec.kind == "table":
        from tuner_app.data.own.load import load_own_data

        return load_own_data(spec.path)
    from tuner_app.data.tfds import load_tfds

    return load_tfds(spec.tfds_name)
