"""Side features: each source's, refused or left out when the data lacks them, the temporal split,
and a model that uses them through export and recommend."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import read_rows, write_space
from test_data import write_1m, write_100k, write_csv

from tuner_app.data import SyntheticSpec, load_grouplens, make_synthetic
from tuner_app.data.side import encode_side
from tuner_app.data.split import split_rows
from tuner_app.errors import SpaceError
from tuner_app.space import Fixed, parse_space

#: Every MovieLens side feature, with the side it describes.
ALL_MOVIELENS = {"age": "user", "gender": "user", "occupation": "user", "zip": "user", "genres": "item", "year": "item"}


def column(table, name) -> dict[str, str]:
    return dict(zip(table.ids.tolist(), table.columns[name].tolist(), strict=True))


def test_ml_100k_has_every_user_and_movie_feature(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.user").write_bytes(b"196|49|M|writer|55105\n186|39|F|executive|00000\n22|25|M|writer|40206\n")
    lines = (folder / "u.item").read_text(encoding="latin-1").splitlines()
    lines[0] = lines[0][: -len("|".join("0" * 19))] + "0|0|0|1|1|1" + "|0" * 13  # Animation, Children's, Comedy
    (folder / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    ratings = load_grouplens(folder)
    assert ratings.side_features == ALL_MOVIELENS
    assert column(ratings.users, "age") == {"196": "45", "186": "35", "22": "25"}  # ml-1m's buckets
    assert column(ratings.users, "gender")["186"] == "F"
    assert column(ratings.users, "zip") == {"196": "551", "186": "000", "22": "402"}
    assert ratings.items.columns["genres"][0] == "Animation|Children's|Comedy"
    assert ratings.items.columns["year"].tolist() == ["1995"] * 5  # the release date's year


def test_ml_1m_has_users_and_genres_ml_10m_only_genres(tmp_path: Path) -> None:
    one = load_grouplens(write_1m(tmp_path / "ml-1m"))
    assert one.side_features == ALL_MOVIELENS
    assert column(one.users, "age") == {"1": "1", "10": "25"} and column(one.users, "occupation")["10"] == "15"
    assert one.items.columns["genres"].tolist() == ["Animation", "Drama", "Sci-Fi"]
    assert one.items.columns["year"].tolist() == ["1995", "1995", ""]  # "Star Trek: " has no year
    ten = load_grouplens(write_1m(tmp_path / "ml-10m", encoding="utf-8", users=False))
    assert ten.users is None and ten.side_features == {"genres": "item", "year": "item"}


def test_csv_releases_have_genres_and_the_year_in_the_title(tmp_path: Path) -> None:
    ratings = load_grouplens(write_csv(tmp_path / "ml-latest-small"))
    assert ratings.side_features == {"genres": "item", "year": "item"}
    assert ratings.items.columns["genres"].tolist() == ["Adventure|Animation", "Drama", "Musical"]
    assert ratings.items.columns["year"].tolist() == ["1995", "1995", "1998"]


def test_synthetic_features_follow_taste():
    ratings = make_synthetic(SyntheticSpec(users=400, movies=300, ratings=20_000, seed=1))
    assert ratings.side_features == ALL_MOVIELENS
    gender = column(ratings.users, "gender")
    genres = dict(zip(ratings.items.ids.tolist(), ratings.items.columns["genres"].tolist(), strict=True))
    # Men rate action, horror, science fiction, crime and war films more often than women do:
    # the feature carries taste (the generator draws gender from each user's favourite genre).
    share = {}
    for who in ("M", "F"):
        rated = [genres[t] for u, t in zip(ratings.user_id, ratings.item_id, strict=True) if gender[u] == who]
        share[who] = np.mean([bool(set(g.split("|")) & {"Action", "Horror", "Sci-Fi", "Crime", "War"}) for g in rated])
    assert share["M"] > share["F"] + 0.04


def test_tfds_rows_become_side_features():
    from types import SimpleNamespace

    from tuner_app.data.tfds import _movies, _users

    users = _users(np.array(["2", "1", "2"], dtype=object),
                   {"age": np.array([25.0, 18.0, 25.0]), "gender": np.array([True, False, True]),
                    "occupation": np.array([b"writer", b"artist", b"writer"]),
                    "zip": np.array([b"55105", b"94043", b"55105"])})
    assert column(users, "age") == {"1": "18", "2": "25"} and column(users, "gender") == {"1": "F", "2": "M"}
    assert column(users, "zip") == {"1": "940", "2": "551"}
    fake_tfds = SimpleNamespace(as_numpy=lambda rows: rows)
    rows = [{"movie_title": b"Kolya (1996)", "movie_genres": [0, 2]}, {"movie_title": b"X", "movie_genres": []}]
    names = {"movie_genres": SimpleNamespace(feature=SimpleNamespace(names=["Action", "Comedy", "Drama"]))}
    catalog, movies = _movies(fake_tfds, rows, names)
    assert catalog.tolist() == ["Kolya (1996)", "X"]
    assert movies.columns["genres"].tolist() == ["Action|Drama", ""]
    assert movies.columns["year"].tolist() == ["1996", ""]


def test_encoded_features_give_each_id_its_codes_and_unknown_zero():
    ratings = make_synthetic(SyntheticSpec(users=20, movies=30, ratings=300, seed=2))
    titles = np.array(sorted(set(ratings.item_catalog)) + ["Not In The Catalogue (2000)"], dtype=object)
    encoded = encode_side(ratings.items, "genres", titles)
    assert list(encoded.rows) == sorted(encoded.rows) and encoded.rows.min() == 1
    last = int(encoded.rows.max())
    assert last == len(titles) and encoded.codes[encoded.rows == last].tolist() == [0]  # unknown title
    names = sorted({g for v in ratings.items.columns["genres"] for g in v.split("|") if g})
    assert encoded.size == len(names) + 1


SPACE = textwrap.dedent("""
    tuner: {algorithm: random, max_trials: 2}
    hyperparameters:
      feature_genres: true
      feature_occupation: {values: [false, true]}
      feature_occupation_dim: {values: [4, 8]}
""")


def test_a_feature_fixed_on_for_data_without_it_is_refused_and_a_searched_one_left_out():
    spec = parse_space(SPACE, "f.yaml")
    kept, notes = spec.for_data(("genres", "year"), "MovieLens ml-10m")
    assert kept.hyperparameters["feature_occupation"] == Fixed(False)
    assert "feature_occupation_dim" not in kept.hyperparameters
    assert notes == ["note: MovieLens ml-10m has no occupation feature; feature_occupation is left out of the search"]
    with pytest.raises(SpaceError, match=r"^f\.yaml: hyperparameters\.feature_genres is on, but synthetic x has no "
                                         r"genres feature \(it has age\); turn it off or search it"):
        spec.for_data(("age",), "synthetic x")
    with pytest.raises(SpaceError, match=r"feature_year_dim sets the width of the year feature, which the space"):
        parse_space("tuner: {algorithm: random}\nhyperparameters: {feature_year_dim: 4}\n", "g.yaml")


def test_the_temporal_split_validates_on_the_latest_ratings():
    spec = parse_space("tuner: {algorithm: random}\nsplit: {kind: temporal, holdout_fraction: 0.5}\n"
                       "hyperparameters: {}\n", "t.yaml")
    ratings = make_synthetic(SyntheticSpec(users=50, movies=60, ratings=2000, seed=4))
    train, validation, holdout = split_rows(spec.split, len(ratings), timestamps=ratings.timestamp)
    assert (len(train), len(validation), len(holdout)) == (1600, 200, 200)
    t = ratings.timestamp
    assert t[train].max() <= t[validation].min() and t[validation].max() <= t[holdout].min()
    assert len(set(train) | set(validation) | set(holdout)) == 2000
    random = parse_space("tuner: {algorithm: random}\nhyperparameters: {}\n", "r.yaml")
    assert random.split.identity() == {"train_fraction": 0.8, "test_fraction": 0.2, "seed": 42,
                                       "holdout_fraction": 0.0}  # as searches saved before kinds existed
    assert spec.split.identity()["kind"] == "temporal"
    with pytest.raises(SpaceError, match=r"split\.kind must be one of random, temporal; got 'by_time'"):
        parse_space("tuner: {algorithm: random}\nsplit: {kind: by_time}\nhyperparameters: {}\n", "k.yaml")


@pytest.mark.slow
def test_a_model_with_side_features_searches_exports_and_recommends(tmp_path, tool):
    space = write_space(tmp_path, """
        tuner: {algorithm: random, max_trials: 2, seed: 2}
        objective: val_top_10
        split: {kind: temporal}
        training: {epochs: 2, batch_size: 128, eval_batch_size: 512}
        hyperparameters:
          units: 16
          feature_genres: true
          feature_year: true
          feature_age: true
          feature_gender: {values: [false, true]}
          feature_age_dim: {values: [4, 8]}
    """)
    proc = tool.search(space)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = read_rows(tmp_path / "out" / "space.csv")
    assert all(r["feature_genres"] == "True" and r["feature_age_dim"] in ("4", "8") for r in rows)
    summary = json.loads((tmp_path / "out" / "space.json").read_text())
    assert summary["split"]["kind"] == "temporal"
    exported = tool.run("export", "out/space.csv", "--out", "model")
    assert exported.returncode == 0, exported.stderr
    config = json.loads((tmp_path / "model" / "trial.json").read_text())["config"]
    assert ["genres", 16] in config["side_features"] and ["year", 16] in config["side_features"]
    known = tool.run("recommend", "model", "--user", "1", "--k", "3")
    unknown = tool.run("recommend", "model", "--user", "no-such-user", "--k", "3")
    assert known.returncode == unknown.returncode == 0, known.stderr + unknown.stderr
    assert len(known.stdout.strip().splitlines()) == 3 and "not in the training data" in unknown.stderr
    assert known.stdout != unknown.stdout  # a known user's own features and embedding count
