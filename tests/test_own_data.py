"""Tests for a user's own data (`--data file.csv|.parquet`, `--data shop.yaml`): column detection,
the data YAML's feature kinds, preprocessing against pandas, every file format giving the same
`Ratings`, and one sentence for each bad input. Tiny files written by each test; no TensorFlow.
"""

from __future__ import annotations

import gzip
import importlib.util
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tuner_app.data import DataSpec, load_ratings, parse_data_arg
from tuner_app.data.own.columns import ALIASES, detect_columns
from tuner_app.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def write_yaml(folder: Path, text: str, name: str = "data.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path):
    return load_ratings(parse_data_arg(str(path)))


def frame(ratings) -> pd.DataFrame:
    data = {"user": ratings.user_id, "item": ratings.item_id, "rating": ratings.user_rating}
    if ratings.timestamp is not None:
        data["ts"] = ratings.timestamp
    return pd.DataFrame(data)


# ------------------------------------------------------------------- column detection


@pytest.mark.parametrize("role", ["user", "item", "timestamp", "rating"])
def test_every_alias_of_a_role_is_detected_case_insensitively(role: str) -> None:
    others = {"user": "customer_id", "item": "sku", "timestamp": "ts", "rating": "rating"}
    for alias in ALIASES[role]:
        for spelled in (alias, alias.upper(), f"{alias}:token"):
            columns = [spelled, *(name for r, name in others.items() if r != role)]
            assert detect_columns(columns, "f.csv")[role] == spelled


def test_the_conventions_of_recbole_recommenders_and_lenskit() -> None:
    assert detect_columns(["userID", "itemID", "rating", "timestamp"], "f") == {
        "user": "userID", "item": "itemID", "timestamp": "timestamp", "rating": "rating"}
    assert detect_columns(["user_id:token", "item_id:token", "rating:float", "timestamp:float"], "f")["item"] == \
        "item_id:token"
    assert detect_columns(["user", "item"], "f") == {"user": "user", "item": "item", "timestamp": None,
                                                   "rating": None}


@pytest.mark.parametrize(("columns", "message"), [
    (["user_id", "userId", "item"], r"f\.csv: columns 'user_id' and 'userId' could each be the user; write a data YAML"),
    (["user", "item", "time", "timestamp"], r"columns 'time' and 'timestamp' could each be the timestamp"),
    (["who", "what", "when"], r"f\.csv: expected a user column \(one named user, .*found 'who', 'what', 'when'; "
                              r"write a data YAML"),
    (["user", "what"], r"expected a item column .*found 'user', 'what'"),
])
def test_ambiguous_or_absent_columns_are_one_sentence(columns: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        detect_columns(columns, "f.csv")


# ------------------------------------------------------------------- formats and ids


INTERACTIONS = pd.DataFrame({
    "user_id": ["007", "007", "12", "x-1", "12"],
    "item_id": ["sku-1", "sku-2", "sku-1", "sku-3", "sku-3"],
    "rating": [4.0, 2.0, 5.0, 3.5, 1.0],
    "timestamp": [100, 200, 150, 50, 300],
})


def write_all_formats(folder: Path) -> list[Path]:
    paths = [folder / "i.csv", folder / "i.tsv", folder / "i.csv.gz", folder / "i.tsv.gz", folder / "i.parquet"]
    INTERACTIONS.to_csv(paths[0], index=False)
    INTERACTIONS.to_csv(paths[1], index=False, sep="\t")
    with gzip.open(paths[2], "wt") as handle:
        INTERACTIONS.to_csv(handle, index=False)
    with gzip.open(paths[3], "wt") as handle:
        INTERACTIONS.to_csv(handle, index=False, sep="\t")
    INTERACTIONS.to_parquet(paths[4], index=False)
    return paths


def test_csv_tsv_gzip_and_parquet_give_equal_ratings(tmp_path: Path) -> None:
    read = [load(path) for path in write_all_formats(tmp_path)]
    for ratings in read:
        assert ratings.user_id.dtype == object and ratings.user_id.tolist() == INTERACTIONS["user_id"].tolist()
        assert ratings.item_id.tolist() == INTERACTIONS["item_id"].tolist()
        assert ratings.timestamp.dtype == np.int64 and ratings.timestamp.tolist() == [100, 200, 150, 50, 300]
        assert ratings.user_rating.dtype == np.float32
        assert ratings.user_rating.tolist() == [4.0, 2.0, 5.0, 3.5, 1.0]
        assert ratings.item_catalog.tolist() == ["sku-1", "sku-2", "sku-3"]
        assert ratings.item_text is None and ratings.users is None and ratings.items is None
        assert ratings.preparation == (f"read {Path(ratings.description.split(': ')[1].split(' ')[0]).name}: "
                                       "5 rows, 3 users, 3 items",)
    assert parse_data_arg(str(tmp_path / "i.csv.gz")) == DataSpec("table", path=str((tmp_path / "i.csv.gz").resolve()))


@pytest.mark.parametrize("kind", ["integer", "text"])
def test_ids_read_a_block_at_a_time_are_the_files_ids(tmp_path: Path, monkeypatch, kind: str) -> None:
    """Blocks of 7 rows over row groups of 50: text ids looked up against those seen; integer ids through
    the table indexed by the id until one passes its limit (later blocks) or is negative, then by search."""
    from tuner_app.data.own import table_files, values

    monkeypatch.setattr(table_files, "PARQUET_BATCH", 7)
    monkeypatch.setattr(values, "DENSE_IDS", 1000)
    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 60, 500), rng.integers(0, 40, 500)
    users[300::2] = rng.integers(1000, 5000, 100)  # past DENSE_IDS from the 43rd block on, between known ids
    users[450] = -4
    if kind == "text":
        users, items = np.array([f"u{u}" for u in users]), np.array([f"sku-{i}" for i in items])
    pq.write_table(pa.table({"user": users, "item": items}), tmp_path / "i.parquet", row_group_size=50)
    pd.DataFrame({"user": users, "item": items}).to_csv(tmp_path / "i.csv", index=False)
    for name in ("i.parquet", "i.csv"):
        ratings = load(tmp_path / name)
        assert ratings.user_id.tolist() == [str(u) for u in users], name
        assert ratings.item_id.tolist() == [str(i) for i in items], name
        assert sorted(ratings.item_catalog.tolist()) == sorted({str(i) for i in items})
        # one str (and so one code) per distinct id, however many blocks it comes back in
        assert len({id(u) for u in ratings.user_id}) == len(set(users.tolist())), name
        assert len({id(i) for i in ratings.item_id}) == len(set(items.tolist())), name


def test_integer_ids_become_strings_and_csv_keeps_leading_zeros(tmp_path: Path) -> None:
    pq.write_table(pa.table({"userId": pa.array([1, 2, 2], pa.int64()), "movieId": pa.array([10, 10, 30], pa.int32()),
                             "weight": [1.0, 2.0, 3.0]}), tmp_path / "i.parquet")
    ratings = load(tmp_path / "i.parquet")
    assert ratings.user_id.tolist() == ["1", "2", "2"] and ratings.item_id.tolist() == ["10", "10", "30"]
    assert ratings.timestamp is None and ratings.user_rating.tolist() == [1.0, 2.0, 3.0]
    # pandas writes integer ids with a gap as floats: whole numbers are read as the integers
    pq.write_table(pa.table({"user": [1.0, 2.0], "item": [3.0, 4.0]}), tmp_path / "f.parquet")
    assert load(tmp_path / "f.parquet").user_id.tolist() == ["1", "2"]
    (tmp_path / "z.csv").write_text("user,item\n007,0042\n7,42\n")
    ratings = load(tmp_path / "z.csv")
    assert ratings.user_id.tolist() == ["007", "7"] and ratings.item_id.tolist() == ["0042", "42"]
    assert ratings.user_rating.tolist() == [1.0, 1.0]


def test_timestamps_iso_parquet_types_and_units(tmp_path: Path) -> None:
    (tmp_path / "iso.csv").write_text("user,item,time\na,x,2024-03-01T12:00:00Z\nb,y,2024-03-01 14:00:00+02:00\n"
                                      "a,y,2024-03-02\n")
    assert load(tmp_path / "iso.csv").timestamp.tolist() == [1709294400, 1709294400, 1709337600]
    day = int(np.datetime64("2024-03-02", "D").astype(np.int64))
    pq.write_table(pa.table({"user": ["a", "b"], "item": ["x", "y"],
                             "ts": pa.array([1709294400_000, 1709294400_500], pa.timestamp("ms", tz="UTC")),
                             "day": pa.array([day, day], pa.date32())}), tmp_path / "t.parquet")
    assert load(tmp_path / "t.parquet").timestamp.tolist() == [1709294400, 1709294400]
    write_yaml(tmp_path, "interactions: {path: t.parquet, timestamp: day}\n")
    assert load(tmp_path / "data.yaml").timestamp.tolist() == [1709337600, 1709337600]
    (tmp_path / "ms.csv").write_text("user,item,ts\na,x,1709294400123\nb,y,1709294400999.5\n")
    write_yaml(tmp_path, "interactions: {path: ms.csv, timestamp_unit: ms}\n", "ms.yaml")
    assert load(tmp_path / "ms.yaml").timestamp.tolist() == [1709294400, 1709294400]
    write_yaml(tmp_path, "interactions: {path: ms.csv, timestamp: null}\n", "none.yaml")
    assert load(tmp_path / "none.yaml").timestamp is None


# ------------------------------------------------------------------- the data YAML's features


def write_shop_tables(folder: Path) -> None:
    pd.DataFrame({"customer": ["c1", "c2", "c3", "c1", "c2", "c3", "c4"],
                  "sku": ["s1", "s2", "s3", "s2", "s1", "s9", "s1"],
                  "qty": [1, 2, 1, 3, 1, 1, 2]}).to_parquet(folder / "inter.parquet", index=False)
    (folder / "items.csv").write_text(
        "sku,title,subtitle,category,tags,price\n"
        "s1,Red Pan,steel,kitchen, Cook | Gift ,10\n"
        "s2,Blue Kite,,toys,Kids,20\n"
        "s3,Green Hose,long,garden,,\n"
        "s1,Red Pan,steel,kitchen, Cook | Gift ,10\n"
        "s4,Old Atlas,maps,books,Gift|Maps,40\n")
    (folder / "users.csv").write_text("customer,region,Bio\nc1,north,Likes cooking and BIKES!\nc2,south,\n"
                                      "c3,north,bikes\n")


SHOP_YAML = """\
interactions: {path: inter.parquet, user: customer, item: sku, rating: qty}
items:
  path: items.csv
  text: [title, subtitle]
  categorical: category
  multi_valued: {tags: "|"}
  numeric: {price: 2}
users: {path: users.csv, categorical: [region], text: [Bio], rename: {Bio: bio}}
"""


def test_each_feature_kind_of_the_data_yaml(tmp_path: Path) -> None:
    write_shop_tables(tmp_path)
    ratings = load(write_yaml(tmp_path, SHOP_YAML))
    items = ratings.items
    # the table's items in file order (s1 once), then the rated item the table lacks (s9)
    assert ratings.item_catalog.tolist() == ["s1", "s2", "s3", "s4", "s9"]
    assert items.ids.tolist() == ratings.item_catalog.tolist()
    assert ratings.item_text.tolist() == ["Red Pan steel", "Blue Kite", "Green Hose long", "Old Atlas maps", ""]
    assert items.columns["category"].tolist() == ["kitchen", "toys", "garden", "books", ""]
    assert items.columns["tags"].tolist() == ["Cook|Gift", "Kids", "", "Gift|Maps", ""]
    assert items.separators == {"tags": "|"}
    price = items.columns["price"].tolist()  # two quantile buckets of 10, 20, 40: split at the median 20
    assert price[0] != price[1] == price[3] and price[2] == price[4] == ""
    assert ratings.users.ids.tolist() == ["c1", "c2", "c3"]
    assert ratings.users.columns["region"].tolist() == ["north", "south", "north"]
    assert ratings.users.columns["bio"].tolist() == ["likes cooking and bikes", "", "bikes"]
    assert ratings.users.separators == {"bio": " "}
    assert ratings.side_features == {"region": "user", "bio": "user", "category": "item", "tags": "item",
                                     "price": "item"}
    assert ratings.user_rating.tolist() == [1, 2, 1, 3, 1, 1, 2] and ratings.timestamp is None
    assert ratings.preparation[1:] == (
        "users: users.csv, 3 users; features: region, bio (words); 1 users of the interactions are not in it "
        "(features unknown)",
        "items: items.csv, 4 items; features: category, tags (split on '|'), price (2 buckets); text: title + "
        "subtitle; 1 items of the interactions are not in it (features unknown)")


def test_the_readme_example_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("shop", ROOT / "examples" / "shop.py")
    shop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shop)
    ratings = load(shop.write_shop(tmp_path, rows=600, seed=1))
    assert set(ratings.side_features) == {"region", "category", "tags", "price"}
    assert ratings.user_id[0].startswith("u") and ratings.item_id[0].startswith("sku-")
    assert ratings.item_text is not None and ratings.has_time
    assert [line.split(":")[0] for line in ratings.preparation] == [
        "read interactions.parquet", "duplicates last (by timestamp)", ratings.preparation[2].split(":")[0],
        "users", "items"]
    assert ratings.preparation[2].startswith("k-core (users >= 3, items >= 3 interactions; ")
    again = load(shop.write_shop(tmp_path / "again", rows=600, seed=1))
    assert again.fingerprint == ratings.fingerprint


# ------------------------------------------------------------------- preprocessing against pandas


def random_interactions(seed: int, rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": [f"u{u}" for u in rng.integers(0, 12, rows)],
                         "item": [f"i{i}" for i in rng.zipf(1.6, rows) % 15],
                         "rating": rng.integers(1, 6, rows).astype(float),
                         "timestamp": rng.integers(0, 8, rows)})  # ties on purpose


def reference(df: pd.DataFrame, duplicates: str, min_rating: float | None, k_user: int, k_item: int,
              timed: bool) -> pd.DataFrame:
    """RecBole's order, with pandas: duplicates, the threshold, then k-core until nothing changes."""
    df = df.assign(row=np.arange(len(df)))
    if duplicates != "all":
        ordered = df.sort_values(["timestamp", "row"] if timed else ["row"], kind="stable")
        df = ordered.drop_duplicates(["user", "item"], keep=duplicates).sort_values("row")
    if min_rating is not None:
        df = df[df["rating"] >= min_rating]
    while True:
        users, items = df["user"].map(df["user"].value_counts()), df["item"].map(df["item"].value_counts())
        kept = df[(users >= k_user) & (items >= k_item)]
        if len(kept) == len(df):
            return df
        df = kept


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("timed", [True, False])
@pytest.mark.parametrize(("duplicates", "min_rating", "k_user", "k_item"), [
    ("all", 3, 1, 1), ("first", None, 1, 1), ("last", None, 1, 1), ("all", None, 3, 2), ("last", 2.5, 2, 2),
])
def test_preprocessing_matches_pandas(tmp_path: Path, seed: int, timed: bool, duplicates: str,
                                      min_rating: float | None, k_user: int, k_item: int) -> None:
    df = random_interactions(seed)
    df.to_csv(tmp_path / "i.csv", index=False, columns=None if timed else ["user", "item", "rating"])
    settings = [f"duplicates: {duplicates}", f"min_user_interactions: {k_user}", f"min_item_interactions: {k_item}"]
    if min_rating is not None:
        settings.append(f"min_rating: {min_rating}")
    ratings = load(write_yaml(tmp_path, f"interactions: i.csv\npreprocessing: {{{', '.join(settings)}}}\n"))
    expected = reference(df, duplicates, min_rating, k_user, k_item, timed)
    got = frame(ratings)
    assert got["user"].tolist() == expected["user"].tolist() and got["item"].tolist() == expected["item"].tolist()
    assert got["rating"].tolist() == expected["rating"].tolist()
    # a k-core: every user and item keeps its minimum
    assert got["user"].value_counts().min() >= k_user and got["item"].value_counts().min() >= k_item
    last = ratings.preparation[-1]
    assert last.endswith(f"{len(expected):,} rows, {expected['user'].nunique()} users, "
                         f"{expected['item'].nunique()} items")


def test_k_core_is_the_largest_one(tmp_path: Path) -> None:
    from tuner_app.data.own.preprocess import k_core

    rng = np.random.default_rng(5)
    user, item = rng.integers(0, 20, 300), rng.zipf(1.4, 300) % 40
    kept, rounds = k_core(user, item, 4, 3, (20, 40))
    assert rounds >= 1
    per_user, per_item = np.bincount(user[kept], minlength=20), np.bincount(item[kept], minlength=40)
    assert per_user[per_user > 0].min() >= 4 and per_item[per_item > 0].min() >= 3
    # maximal: no dropped row can come back, alone or with all the others of its user
    for row in np.setdiff1d(np.arange(300), kept)[:50]:
        trial = np.union1d(kept, np.flatnonzero(user == user[row]))
        u, i = np.bincount(user[trial], minlength=20), np.bincount(item[trial], minlength=40)
        assert u[u > 0].min() < 4 or i[i > 0].min() < 3


def test_fingerprint_follows_settings_not_formatting(tmp_path: Path) -> None:
    random_interactions(0).to_csv(tmp_path / "i.csv", index=False)
    flow = load(write_yaml(tmp_path, "interactions: {path: i.csv}\npreprocessing: {min_rating: 3}\n", "a.yaml"))
    block = load(write_yaml(tmp_path, """\
        # the same settings, written otherwise
        preprocessing:
          min_rating: 3.0
          duplicates: all
        interactions:
          path: ./i.csv
          user: user
        """, "b.yaml"))
    other = load(write_yaml(tmp_path, "interactions: {path: i.csv}\npreprocessing: {min_rating: 4}\n", "c.yaml"))
    assert flow.fingerprint == block.fingerprint != other.fingerprint
    assert load(tmp_path / "i.csv").fingerprint not in (flow.fingerprint, other.fingerprint)


# ------------------------------------------------------------------- bad input: one sentence each


def _csv(text: str, name: str = "i.csv"):
    def make(folder: Path) -> Path:
        (folder / name).write_text(textwrap.dedent(text))
        return folder / name
    return make


def _yaml(text: str, csv: str = "user,item,rating,ts\na,x,1,5\nb,y,2,6\n",
          items: str = "item,title,genre\nx,X,a\ny,Y,b\n"):
    def make(folder: Path) -> Path:
        (folder / "i.csv").write_text(csv)
        (folder / "items.csv").write_text(items)
        return write_yaml(folder, text)
    return make


def _parquet(table: pa.Table, cut: bool = False):
    def make(folder: Path) -> Path:
        pq.write_table(table, folder / "i.parquet")
        if cut:
            data = (folder / "i.parquet").read_bytes()
            (folder / "i.parquet").write_bytes(data[: len(data) // 2])
        return folder / "i.parquet"
    return make


def _garbage(folder: Path) -> Path:
    (folder / "i.parquet").write_bytes(b"PAR1 this is not parquet")
    return folder / "i.parquet"


BAD_INPUTS = {
    "missing file": (_yaml("interactions: {path: gone.csv}\n"),
                     r"data\.yaml: interactions\.path names 'gone\.csv', but there is no such file"),
    "missing column": (_yaml("interactions: {path: i.csv, user: customer}\n"),
                       r"i\.csv: expected a column 'customer' \(the user\), found 'user', 'item', 'rating', 'ts'"),
    "missing items column": (_yaml("interactions: i.csv\nitems: {path: items.csv, categorical: [genres]}\n"),
                             r"items\.csv: expected a column 'genres' \(a feature\), found 'item', 'title', 'genre'"),
    "unreadable parquet": (_garbage, r"i\.parquet: cannot be read as Parquet \(.*\); the file is damaged or was cut off"),
    "truncated parquet": (_parquet(pa.table({"user": ["a"] * 50, "item": ["b"] * 50}), cut=True),
                          r"i\.parquet: cannot be read as Parquet"),
    "ragged row": (_csv("user,item,rating\na,x,1\nb,y\nc,z,3\n"),
                   r"i\.csv: line 3 has 2 field\(s\) where the header has 3 \('b,y'\); fix or delete that line"),
    "non-numeric timestamp": (_csv("user,item,timestamp\na,x,5\nb,y,yesterday\n"),
                              r"i\.csv: column 'timestamp' has a non-numeric timestamp 'yesterday' on line 3"),
    "bool timestamps": (_parquet(pa.table({"user": ["a"], "item": ["b"], "ts": [True]})),
                        r"column 'ts' is of type bool; timestamps must be"),
    "non-numeric rating": (_csv("user,item,rating\na,x,5\nb,y,good\n"),
                           r"column 'rating' should hold numbers \(rating\), found 'good' on line 3"),
    "blank id": (_csv("user,item\na,x\n,y\n"), r"i\.csv: column 'user' has no user id on line 3"),
    "null parquet id": (_parquet(pa.table({"user": ["a", "b", None], "item": ["x", "y", "z"]})),
                        r"i\.parquet: column 'user' has no user id on row 3"),
    "decimal parquet ids": (_parquet(pa.table({"user": ["a", "b"], "item": [1.0, 2.5]})),
                            r"column 'item' holds decimal numbers as ids \(2\.5 on row 2\)"),
    "spreadsheet ids": (_csv("user,item\na,12\nb,13\nc,12.0\n"),
                        r"column 'item' mixes integer ids \('12' on line 2\) and decimal ones \('12\.0' on line 4\)"),
    "item on two rows": (_yaml("interactions: i.csv\nitems: {path: items.csv, categorical: [genre]}\n",
                               items="item,title,genre\nx,X,a\ny,Y,b\nx,X,c\n"),
                         r"items\.csv: item 'x' is on line 2 and line 4 with different values of column 'genre' "
                         r"\('a' and 'c'\); keep one row per item"),
    "too little after filtering": (_yaml("interactions: i.csv\npreprocessing: {min_rating: 2}\n"),
                                   r"data\.yaml: a search needs interactions of at least 2 users and 2 items, and "
                                   r"preprocessing leaves fewer \(read i\.csv: 2 rows, 2 users, 2 items; min_rating 2: "
                                   r"1 rows, 1 users, 1 items\); lower min_rating"),
    "too little read": (_csv("user,item\na,x\n"), r"there are fewer \(read i\.csv: 1 rows, 1 users, 1 items\)"),
    "unknown key": (_yaml("interactions: i.csv\nitems: {path: items.csv, categorial: [genre]}\n"),
                    r"data\.yaml: items\.categorial is not a known key; did you mean categorical\?"),
    "unknown top key": (_yaml("interaction: i.csv\n"), r"interaction is not a known key; did you mean interactions\?"),
    "wrong type": (_yaml("interactions: i.csv\nitems: {path: items.csv, numeric: {title: eight}}\n"),
                   r"items\.numeric\.title must be an integer >= 2 \(the number of quantile buckets\); got 'eight'"),
    "bad k": (_yaml("interactions: i.csv\npreprocessing: {min_user_interactions: 0}\n"),
              r"preprocessing\.min_user_interactions must be an integer >= 1; got 0"),
    "bad duplicates": (_yaml("interactions: i.csv\npreprocessing: {duplicates: newest}\n"),
                       r"preprocessing\.duplicates must be one of all, first, last; got 'newest'"),
    "min_rating as text": (_yaml("interactions: i.csv\npreprocessing: {min_rating: 1e-3}\n"),
                           r"min_rating must be a number .*got '1e-3' \(a string: YAML reads 1e-3 as text"),
    "min_rating without ratings (YAML)": (_yaml("interactions: {path: i.csv, rating: null}\n"
                                                "preprocessing: {min_rating: 3}\n"),
                                          r"preprocessing\.min_rating needs a rating column, and interactions\.rating"),
    "min_rating without ratings (file)": (_yaml("interactions: i.csv\npreprocessing: {min_rating: 3}\n",
                                                csv="user,item\na,x\nb,y\n"),
                                          r"data\.yaml: preprocessing\.min_rating needs a rating column, and none of "
                                          r".*i\.csv's columns \(user, item\) is one"),
    "bad unit": (_yaml("interactions: {path: i.csv, timestamp_unit: days}\n"),
                 r"interactions\.timestamp_unit must be one of s, ms, us, ns; got 'days'"),
    "empty file": (_csv(""), r"i\.csv: is empty; expected a header line"),
    "header only": (_csv("user,item\n"), r"i\.csv: has a header but no rows"),
    "bad feature name": (_yaml("interactions: i.csv\nitems: {path: items.csv, categorical: [Product Type]}\n"),
                         r"items feature 'Product Type' must be a name of letters, digits and _ .*rename it, e\.g\. "
                         r"'rename: \{Product Type: product_type\}' under items"),
    "same name on both sides": (_yaml("interactions: i.csv\nitems: {path: items.csv, categorical: [genre]}\n"
                                      "users: {path: items.csv, id: item, categorical: [genre]}\n"),
                                r"feature 'genre' is a column of both the users and the items table; rename one"),
    "one column, two kinds": (_yaml("interactions: i.csv\nitems: {path: items.csv, categorical: [genre], "
                                    "multi_valued: [genre]}\n"),
                              r"items column 'genre' is listed under both categorical and multi_valued"),
    "a file type": (_csv("user,item\na,b\n", name="i.txt"), r"--data: expected a GroupLens MovieLens folder or \.zip, an "
                                                           r"interactions file \(\.csv, \.tsv"),
    "duplicate key": (_yaml("interactions: i.csv\ninteractions: i.csv\n"),
                      r"key 'interactions' is given twice, on lines 1 and 2; keep one"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_sentence(tmp_path: Path, case: str) -> None:
    make, message = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(DataError, match=message) as caught:
        load(path)
    text = str(caught.value)
    assert "\n" not in text and text.endswith((".", "?")), text


def test_parse_data_arg_checks_the_yaml_before_reading_any_file(tmp_path: Path) -> None:
    (tmp_path / "i.csv").write_text("not,a\nvalid")  # never read by parse_data_arg
    write_yaml(tmp_path, "interactions: {path: i.csv}\npreprocessing: {min_user_interaction: 2}\n")
    with pytest.raises(DataError, match=r"min_user_interaction is not a known key; did you mean min_user_interactions"):
        parse_data_arg(str(tmp_path / "data.yaml"))
    write_yaml(tmp_path, "interactions: {path: i.csv}\n")
    assert parse_data_arg(str(tmp_path / "data.yaml")).kind == "table"
    with pytest.raises(DataError, match=r"i\.csv: line 2 has 1 field"):
        load(tmp_path / "data.yaml")


def test_the_command_line_says_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    from tuner_app.cli import main

    _yaml("interactions: i.csv\nitems: {path: items.csv, categorial: [genre]}\n")(tmp_path)
    code = main(["search", "--space", "smoke.yaml", "--data", str(tmp_path / "data.yaml"),
                 "--results-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "did you mean categorical?" in err
    assert not (tmp_path / "out").exists()
