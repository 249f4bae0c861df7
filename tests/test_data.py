"""Tests for tuner_app.data (`--data`, the split, the re-exports) and the sources behind it:
GroupLens parsing (tuner_app.grouplens) and synthetic data (tuner_app.synthetic).

Every GroupLens file here is a tiny one written by the test; the real ml-100k is only read
(never copied) by the `realdata` test, which skips when the folder is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuner_app.data import (
    DataSpec,
    Ratings,
    SyntheticSpec,
    load_grouplens,
    load_ratings,
    make_synthetic,
    parse_data_arg,
    split_indices,
)
from tuner_app.errors import DataError

FLAGS = "|".join("0" * 19)
# ml-100k u.item rows: a latin-1 title, a title with a trailing space (as ml-100k has) and
# a repeated title under another id (ml-100k has 18 such).
U_ITEM = [
    (1, "Toy Story (1995)"),
    (2, "Misérables, Les (1995)"),
    (3, "Two Friends (1986) "),
    (4, "Toy Story (1995)"),
    (5, "Kolya (1996)"),
]
U_DATA = b"196\t5\t3\t881250949\n186\t2\t4\t891717742\n22\t3\t1\t878887116\n196\t4\t5\t1\n"


def write_100k(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{i}|{t}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{FLAGS}" for i, t in U_ITEM]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    (folder / "u.data").write_bytes(U_DATA)
    return folder


def write_1m(folder: Path, encoding: str = "latin-1", users: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    movies = (
        "1::Toy Story (1995)::Animation\n2::Misérables, Les (1995)::Drama\n3::Star Trek: ::Sci-Fi\n"
    )
    (folder / "movies.dat").write_bytes(movies.encode(encoding))
    (folder / "ratings.dat").write_bytes(b"1::1::5::978300760\n10::3::4::978301968\n1::2::2::7\n")
    if users:
        (folder / "users.dat").write_bytes(b"1::F::1::10::48067\n10::M::25::15::55117\n")
    return folder


MOVIES_CSV = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation\n"
    '2,"Misérables, Les (1995)",Drama\n'
    '3,"""Great"" Cats (1998)",Musical\n'
)
RATINGS_CSV = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n7,3,0.5,5\n"


def write_csv(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(MOVIES_CSV, encoding="utf-8")
    (folder / "ratings.csv").write_text(RATINGS_CSV, encoding="utf-8")
    return folder


def zip_folder(folder: Path, archive: Path, top: str | None) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        if top:
            zf.writestr(f"{top}/", "")
        for file in sorted(folder.iterdir()):
            zf.write(file, f"{top}/{file.name}" if top else file.name)
    return archive


def check_schema(ratings: Ratings) -> None:
    n = len(ratings)
    assert ratings.user_id.dtype == object and ratings.item_id.dtype == object
    assert ratings.timestamp.dtype == np.int64 and ratings.user_rating.dtype == np.float32
    assert ratings.item_catalog.dtype == object
    assert len(ratings.item_id) == len(ratings.timestamp) == len(ratings.user_rating) == n
    assert all(type(u) is str for u in ratings.user_id[:50])
    assert all(type(t) is str for t in ratings.item_id[:50])
    assert len(ratings.fingerprint) == 64


# ------------------------------------------------------------------------ GroupLens


def test_ml_100k_folder(tmp_path: Path) -> None:
    ratings = load_grouplens(write_100k(tmp_path / "ml-100k"))
    check_schema(ratings)
    assert list(ratings.user_id) == ["196", "186", "22", "196"]
    assert list(ratings.item_id) == [
        "Kolya (1996)",
        "Misérables, Les (1995)",
        "Two Friends (1986) ",  # TFDS keeps the trailing space
        "Toy Story (1995)",
    ]
    assert list(ratings.timestamp) == [881250949, 891717742, 878887116, 1]
    assert list(ratings.user_rating) == [3.0, 4.0, 1.0, 5.0]
    assert list(ratings.item_catalog) == [t for _, t in U_ITEM]  # order and repeats kept
    assert ratings.description.startswith("MovieLens ml-100k (GroupLens files in ")


def test_ml_1m_dat_latin1(tmp_path: Path) -> None:
    ratings = load_grouplens(write_1m(tmp_path / "ml-1m"))
    check_schema(ratings)
    assert list(ratings.user_id) == ["1", "10", "1"]
    # '::' splits as TFDS's str.split('::') does, so "Star Trek: " keeps its colon and space.
    assert list(ratings.item_id) == [
        "Toy Story (1995)",
        "Star Trek: ",
        "Misérables, Les (1995)",
    ]
    assert list(ratings.timestamp) == [978300760, 978301968, 7]
    assert list(ratings.user_rating) == [5.0, 4.0, 2.0]
    assert "ml-1m" in ratings.description


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_ml_10m_dat_utf8_with_latin1_fallback(tmp_path: Path, encoding: str) -> None:
    ratings = load_grouplens(write_1m(tmp_path / "ml-10M100K", encoding=encoding, users=False))
    assert ratings.item_catalog[1] == "Misérables, Les (1995)"


def test_csv_format_with_quoted_titles(tmp_path: Path) -> None:
    ratings = load_grouplens(write_csv(tmp_path / "ml-latest-small"))
    check_schema(ratings)
    assert list(ratings.user_id) == ["1", "1", "7"]
    assert list(ratings.item_id) == [
        "Toy Story (1995)",
        "Misérables, Les (1995)",
        '"Great" Cats (1998)',
    ]
    assert list(ratings.user_rating) == [4.0, 3.5, 0.5]
    assert list(ratings.timestamp) == [964982703, 964981247, 5]
    assert "ml-latest-small" in ratings.description


@pytest.mark.parametrize("top", ["ml-latest-small", None])
def test_zip_read_in_place(tmp_path: Path, top: str | None) -> None:
    folder = write_csv(tmp_path / "files")
    archive = zip_folder(folder, tmp_path / "ml-latest-small.zip", top)
    from_zip, from_folder = load_grouplens(archive), load_grouplens(folder)
    for field in ("user_id", "item_id", "timestamp", "user_rating", "item_catalog"):
        assert np.array_equal(getattr(from_zip, field), getattr(from_folder, field))
    assert from_zip.fingerprint == from_folder.fingerprint  # content, not location
    assert "ml-latest-small.zip" in from_zip.description
    assert not (tmp_path / "ml-latest-small").exists()  # nothing extracted


def test_ml_100k_zip_and_parent_folder(tmp_path: Path) -> None:
    archive = zip_folder(write_100k(tmp_path / "src"), tmp_path / "ml-100k.zip", "ml-100k")
    assert list(load_grouplens(archive).item_id) == list(
        load_grouplens(tmp_path / "src").item_id
    )
    parent = tmp_path / "downloads"
    write_100k(parent / "ml-100k")
    ratings = load_grouplens(parent)  # a folder holding one release folder
    assert len(ratings) == 4 and "ml-100k" in ratings.description


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    a = load_grouplens(write_100k(tmp_path / "a")).fingerprint
    assert load_grouplens(write_100k(tmp_path / "b")).fingerprint == a
    (tmp_path / "b" / "u.data").write_bytes(U_DATA.replace(b"\t3\t", b"\t2\t", 1))
    assert load_grouplens(tmp_path / "b").fingerprint != a


def _unknown_id(folder: Path) -> None:
    write_100k(folder)
    (folder / "u.data").write_bytes(U_DATA + b"5\t99\t3\t1\n")


def _bad_ratings_line(folder: Path) -> None:
    write_100k(folder)
    (folder / "u.data").write_bytes(U_DATA + b"5\tx\t3\t1\n")


def _bad_dat_line(folder: Path) -> None:
    write_1m(folder)
    (folder / "ratings.dat").write_bytes(b"1::1::5::978300760\n1::2::3\n")


def _bad_movies_line(folder: Path) -> None:
    write_1m(folder)
    (folder / "movies.dat").write_bytes(b"1::Toy Story (1995)::Animation\n2::Heat (1995)\n")


def _not_utf8_csv(folder: Path) -> None:
    write_csv(folder)
    (folder / "movies.csv").write_bytes(MOVIES_CSV.encode("latin-1"))


def _bad_csv_header(folder: Path) -> None:
    write_csv(folder)
    (folder / "ratings.csv").write_text("user,movie,rating,time\n1,1,4.0,1\n")


def _empty_ratings(folder: Path) -> None:
    write_100k(folder)
    (folder / "u.data").write_bytes(b"")


def _no_movies(folder: Path) -> None:
    write_100k(folder)
    (folder / "u.item").unlink()


def _two_releases(folder: Path) -> None:
    write_100k(folder / "ml-100k")
    write_csv(folder / "ml-latest-small")


def _unrelated_files(folder: Path) -> None:
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")


def _random_release(folder: Path, layout: str, n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A release of `n` random ratings in `layout` ("u.data", "ratings.dat", "ratings.csv"); its ratings."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"userId": rng.integers(1, 40, n), "movieId": rng.integers(1, 6, n),
                          "rating": rng.integers(1, 11, n) / 2, "timestamp": rng.integers(0, 2**40, n)})
    if layout == "u.data":
        write_100k(folder)
        frame["rating"] = np.ceil(frame["rating"])
        lines = [f"{u}\t{m}\t{r:g}\t{t}" for u, m, r, t in frame.itertuples(index=False)]
    elif layout == "ratings.dat":
        write_1m(folder)
        frame["movieId"] = rng.integers(1, 4, n)
        lines = [f"{u}::{m}::{r:g}::{t}" for u, m, r, t in frame.itertuples(index=False)]
    else:
        write_csv(folder)
        frame["movieId"] = rng.integers(1, 4, n)
        lines = ["userId,movieId,rating,timestamp"] + [f"{u},{m},{r:g},{t}" for u, m, r, t in frame.itertuples(index=False)]
    (folder / layout).write_text("\n".join(lines) + "\n")
    return frame


@pytest.mark.parametrize("layout", ["u.data", "ratings.dat", "ratings.csv"])
def test_ratings_read_chunk_by_chunk_are_the_file_rows(tmp_path: Path, monkeypatch, layout: str) -> None:
    from tuner_app.data import grouplens_ratings

    frame = _random_release(tmp_path / "release", layout)
    whole = load_grouplens(tmp_path / "release")  # one chunk
    monkeypatch.setattr(grouplens_ratings, "CHUNK_ROWS", 7)  # 29 chunks, the last one short
    chunked = load_grouplens(tmp_path / "release")
    check_schema(chunked)
    titles = {i: t for i, t in zip(*parse_titles(tmp_path / "release", layout), strict=True)}
    assert chunked.user_id.tolist() == [str(u) for u in frame["userId"]]
    assert chunked.item_id.tolist() == [titles[m] for m in frame["movieId"]]
    assert chunked.timestamp.tolist() == frame["timestamp"].tolist()
    assert chunked.user_rating.tolist() == frame["rating"].tolist()
    for field in ("user_id", "item_id", "timestamp", "user_rating"):
        assert getattr(chunked, field).tolist() == getattr(whole, field).tolist()
    assert chunked.fingerprint == whole.fingerprint
    # One str object per user, shared by all of that user's rows.
    assert len({id(u) for u in chunked.user_id}) == frame["userId"].nunique()


def parse_titles(folder: Path, layout: str) -> tuple[list[int], list[str]]:
    """The movie ids and titles the test files hold (last id wins), read without the app."""
    if layout == "u.data":
        return [i for i, _ in U_ITEM], [t for _, t in U_ITEM]
    if layout == "ratings.dat":
        return [1, 2, 3], ["Toy Story (1995)", "Misérables, Les (1995)", "Star Trek: "]
    return [1, 2, 3], ["Toy Story (1995)", "Misérables, Les (1995)", '"Great" Cats (1998)']


def test_a_separator_split_between_two_reads_is_still_one_tab() -> None:
    import io

    from tuner_app.data.grouplens_ratings import _Retabbed

    text = b"1::22::3.5::4\n" * 5 + b"::1:x:::y::::z::"
    for size in (1, 2, 3, 5, 8, 13):
        raw = _Retabbed(io.BytesIO(text))
        got, buffer = b"", bytearray(size)
        while n := raw.readinto(buffer):
            got += bytes(buffer[:n])
        assert got == text.replace(b"::", b"\t"), size


def test_unknown_movie_ids_in_later_chunks_are_counted_and_the_first_named(tmp_path: Path, monkeypatch) -> None:
    from tuner_app.data import grouplens_ratings

    frame = _random_release(tmp_path / "release", "ratings.csv", n=30)
    lines = (tmp_path / "release" / "ratings.csv").read_text().splitlines()
    lines[20] = "5,77,3.0,1"  # rating 20
    lines[27] = "5,78,3.0,1"
    (tmp_path / "release" / "ratings.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(grouplens_ratings, "CHUNK_ROWS", 4)
    with pytest.raises(DataError, match=r"ratings\.csv: rating 20 is of movie id 77, which is not in movies\.csv "
                                        rf"\(2 of {len(frame)} ratings refer to missing ids\)"):
        load_grouplens(tmp_path / "release")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: f.mkdir(), r"expected MovieLens files \(u\.data \+ u\.item, .*found nothing"),
        (_unrelated_files, r"found notes\.txt; download a release from https://grouplens"),
        (_no_movies, r"u\.item: expected next to u\.data .* but it is missing; download"),
        (_unknown_id, r"u\.data: rating 5 is of movie id 99, which is not in u\.item"),
        (_bad_ratings_line, r"u\.data: line 5 should be tab-separated .* found '5\\tx\\t3\\t1'"),
        (_bad_dat_line, r"ratings\.dat: line 2 should be 'user::movie::rating::timestamp'"),
        (_bad_movies_line, r"movies\.dat: line 2 should be id::title::genres, found '2::Heat"),
        (_not_utf8_csv, r"movies\.csv: expected UTF-8 text, found byte 0xe9 on line 3"),
        (_bad_csv_header, r"ratings\.csv: expected a header with columns userId,movieId"),
        (_empty_ratings, r"u\.data: expected tab-separated .* found no ratings"),
        (_two_releases, r"found several sub-folders .*ml-100k, ml-latest-small"),
    ],
)
def test_malformed_folders(tmp_path: Path, make, message: str) -> None:
    folder = tmp_path / "data"
    make(folder)
    with pytest.raises(DataError, match=message) as caught:
        load_grouplens(folder)
    assert "\n" not in str(caught.value)


def test_corrupt_zip_and_missing_path(tmp_path: Path) -> None:
    bogus = tmp_path / "ml-100k.zip"
    bogus.write_text("not a zip")
    with pytest.raises(DataError, match=r"ml-100k\.zip: expected a \.zip archive .*download it"):
        load_grouplens(bogus)
    with pytest.raises(DataError, match=r"nope: no such file or folder; give a GroupLens"):
        load_grouplens(tmp_path / "nope")


# ---------------------------------------------------------------------- --data values


def test_a_zip_with_a_damaged_deflate_stream_is_one_sentence(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.data").write_bytes(U_DATA * 2000)  # big enough to be compressed in blocks
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, f"ml-100k/{file.name}")
    data = bytearray(archive.read_bytes())
    start = data.index(b"u.data") + 40  # inside the first member's compressed bytes
    data[start:start + 64] = bytes(b ^ 0xFF for b in data[start:start + 64])
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"ml-100k\.zip:ml-100k/u\.\w+: cannot be read \(.*\); download the release"):
        load_grouplens(archive)


def test_parse_data_arg_good(tmp_path: Path) -> None:
    assert parse_data_arg(None) == DataSpec("tfds")
    assert parse_data_arg("tfds") == DataSpec("tfds")
    assert parse_data_arg("tfds:movielens/1m") == DataSpec("tfds", tfds_name="movielens/1m")
    assert parse_data_arg("synthetic") == DataSpec("synthetic", synthetic=SyntheticSpec())
    assert parse_data_arg("synthetic:users=50, seed=3") == DataSpec(
        "synthetic", synthetic=SyntheticSpec(users=50, seed=3)
    )
    folder = write_csv(tmp_path / "ml")
    assert parse_data_arg(str(folder)) == DataSpec("grouplens", path=str(folder.resolve()))
    archive = zip_folder(folder, tmp_path / "ml.zip", "ml")
    assert parse_data_arg(str(archive)).kind == "grouplens"


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (
            "synthetic:users=x",
            r"--data: synthetic option 'users' must be a positive integer; got 'x'",
        ),
        ("synthetic:movies=0", r"option 'movies' must be a positive integer; got '0'"),
        ("synthetic:seed=-1", r"option 'seed' must be an integer >= 0; got '-1'"),
        ("synthetic:colour=3", r"keys users, movies, ratings, seed .*got 'colour=3'"),
        ("synthetic:users=2,users=3", r"option 'users' is given twice"),
        ("synthetic:users=2,movies=3,ratings=7", r"ratings=7 is more than users\*movies=6"),
        ("tfds:movielens/2m", r"tfds name must be one of movielens/100k, .*got 'movielens/2m'"),
        ("tfds:movielens/1m-ratings", r"without '-ratings'; write 'tfds:movielens/1m'"),
        (
            "foo",
            r"--data: no such file or folder: 'foo'; give a GroupLens MovieLens folder or \.zip",
        ),
    ],
)
def test_parse_data_arg_bad(arg: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_data_arg(arg)


def test_parse_data_arg_plain_file(tmp_path: Path) -> None:
    file = write_1m(tmp_path / "ml") / "ratings.dat"
    with pytest.raises(DataError, match=r"got the file .*ratings\.dat'; give one of these \(for a MovieLens file, "
                                        r"the folder that contains it\)"):
        parse_data_arg(str(file))
    # A CSV is an interactions file of its own: MovieLens' column names are detected.
    ratings = load_ratings(parse_data_arg(str(write_csv(tmp_path / "csv") / "ratings.csv")))
    assert ratings.user_id.tolist() == ["1", "1", "7"] and ratings.item_id.tolist() == ["1", "2", "3"]
    assert ratings.timestamp.tolist() == [964982703, 964981247, 5]


def test_import_is_light() -> None:
    code = "import sys, tuner_app.data; print('tensorflow' in sys.modules, 'pandas' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=root, capture_output=True, text=True
    )
    assert out.stdout.split() == ["False", "False"], out.stderr


@pytest.mark.parametrize("first", ["tuner_app.data", "tuner_app.data.grouplens", "tuner_app.data.synthetic"])
def test_reexports_without_import_cycle(first: str) -> None:
    code = (
        f"import sys, {first}\n"
        "from tuner_app.data import load_grouplens, make_synthetic\n"
        "import tuner_app.data.grouplens as g, tuner_app.data.synthetic as s\n"
        "print(load_grouplens is g.load_grouplens, make_synthetic is s.make_synthetic,\n"
        "      'tensorflow' in sys.modules, 'pandas' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=root, capture_output=True, text=True
    )
    assert out.stdout.split() == ["True", "True", "False", "False"], out.stderr


# -------------------------------------------------------------------------- synthetic


def frame(ratings: Ratings) -> pd.DataFrame:
    return pd.DataFrame({"user": ratings.user_id, "title": ratings.item_id})


def test_synthetic_schema_and_shape() -> None:
    ratings = make_synthetic(SyntheticSpec(users=300, movies=400, ratings=20_000, seed=0))
    check_schema(ratings)
    assert len(ratings) == 20_000
    table = frame(ratings)
    assert not table.duplicated().any()  # no user rates a title twice
    per_user = table.groupby("user").size()
    assert per_user.min() >= 5 and per_user.max() > 4 * per_user.median()  # long tail
    assert set(ratings.user_id) == {str(i) for i in range(1, 301)}
    assert set(ratings.item_id) <= set(ratings.item_catalog)
    assert len(ratings.item_catalog) == 400
    assert len(set(ratings.item_catalog)) >= 396  # a few MovieLens-like repeats at most
    shares = table["title"].value_counts().to_numpy() / len(ratings)
    assert shares[:40].sum() > 0.2  # the top 10% of movies get well over 10% of ratings
    assert set(np.unique(ratings.user_rating)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert 852_076_800 <= ratings.timestamp.min() <= ratings.timestamp.max() < 1_072_915_200
    words = pd.Series(ratings.item_catalog).str.split().explode()
    assert words.value_counts().iloc[0] > 10  # titles share words
    assert all(t.endswith(")") and t[-6] == "(" for t in ratings.item_catalog)


def test_synthetic_is_deterministic_per_seed() -> None:
    a, b = (make_synthetic(SyntheticSpec(50, 80, 2000, seed=3)) for _ in range(2))
    c = make_synthetic(SyntheticSpec(50, 80, 2000, seed=4))
    for field in ("user_id", "item_id", "timestamp", "user_rating", "item_catalog"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert not np.array_equal(a.item_id, c.item_id)


@pytest.mark.parametrize(
    "spec",
    [
        SyntheticSpec(10, 10, 100),
        SyntheticSpec(100, 10, 30),
        SyntheticSpec(3, 200, 7),
        SyntheticSpec(1, 1, 1),
    ],
)
def test_synthetic_exact_count_at_the_edges(spec: SyntheticSpec) -> None:
    ratings = make_synthetic(spec)
    assert len(ratings) == spec.ratings
    assert not frame(ratings).duplicated().any()
    users = sorted(set(ratings.user_id), key=int)
    assert users == [str(i) for i in range(1, len(users) + 1)]


def test_synthetic_rejects_impossible_sizes() -> None:
    with pytest.raises(DataError, match=r"synthetic data: synthetic ratings=11 is more than"):
        make_synthetic(SyntheticSpec(users=2, movies=5, ratings=11))
    with pytest.raises(DataError, match=r"option 'users' must be a positive integer; got 0"):
        make_synthetic(SyntheticSpec(users=0))


def test_the_generators_own_preference_ranks_held_out_ratings_best() -> None:
    """`generator_preference`, the ceiling benchmarks.ceiling scores: each user's held-out titles rank
    higher under it than under training popularity, and than under a wrong user's preference."""
    from tuner_app.data.synthetic_preference import generator_preference

    spec = SyntheticSpec(users=300, movies=400, ratings=24_000, seed=5)
    ratings, preference = make_synthetic(spec), generator_preference(spec)
    titles = np.unique(ratings.item_catalog)
    user = ratings.user_id.astype(int) - 1
    column = np.searchsorted(titles, ratings.item_id)
    held_out = np.random.default_rng(0).random(len(user)) < 0.2
    seen = np.zeros((user.max() + 1, len(titles)), bool)
    seen[user[~held_out], column[~held_out]] = True
    popularity = np.bincount(column[~held_out], minlength=len(titles)).astype(float)

    def recall_at_10(scores: np.ndarray) -> float:
        scores = np.where(seen, -np.inf, scores)  # training titles left out
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        hits = (top[user[held_out]] == column[held_out][:, None]).any(axis=1)
        return float(hits.mean())

    own = preference(np.arange(seen.shape[0]))
    assert own.shape == (seen.shape[0], len(titles)) and np.isfinite(own).all()
    assert np.array_equal(own, generator_preference(spec)(np.arange(seen.shape[0])))  # the same for the same spec
    shuffled = own[np.random.default_rng(1).permutation(len(own))]
    ceiling, by_popularity, wrong = recall_at_10(own), recall_at_10(np.broadcast_to(popularity, own.shape)), \
        recall_at_10(shuffled)
    assert ceiling > 1.1 * by_popularity and ceiling > 1.3 * wrong, (ceiling, by_popularity, wrong)  # 0.27, 0.23, 0.19


def test_the_learnt_preference_ranks_between_popularity_and_the_generators_own() -> None:
    """`posterior_preference`, the best a model learning the users can do (benchmarks.ceiling): below the
    generator's own ranking, above popularity; a user without training ratings is known by features alone."""
    from tuner_app.data.synthetic_preference import generator_preference, posterior_preference, unrounded_ratings

    spec = SyntheticSpec(users=300, movies=400, ratings=24_000, seed=5)
    ratings = make_synthetic(spec)
    titles = np.unique(ratings.item_catalog)
    user = ratings.user_id.astype(int) - 1
    column = np.searchsorted(titles, ratings.item_id)
    held_out = (np.random.default_rng(0).random(len(user)) < 0.2) | (user < 40)  # users 0-39: no training rating
    seen = np.zeros((user.max() + 1, len(titles)), bool)
    seen[user[~held_out], column[~held_out]] = True
    everyone = np.arange(seen.shape[0])

    def recall_at_10(scores: np.ndarray) -> float:
        top = np.argsort(-np.where(seen, -np.inf, scores), axis=1, kind="stable")[:, :10]
        return float((top[user[held_out]] == column[held_out][:, None]).any(axis=1).mean())

    learnt = posterior_preference(spec, user[~held_out], column[~held_out], samples=4096)(everyone)
    assert learnt.shape == seen.shape and np.isfinite(learnt).all()
    popularity = np.bincount(column[~held_out], minlength=len(titles)).astype(float)
    ceiling, by_popularity = recall_at_10(generator_preference(spec)(everyone)), recall_at_10(
        np.broadcast_to(popularity, seen.shape))
    assert by_popularity * 1.05 < recall_at_10(learnt) < ceiling, (by_popularity, recall_at_10(learnt), ceiling)
    # The rating values tell more of the taste (0.1911 -> 0.1953, ceiling 0.2013); shuffled, they mislead (0.1791).
    values = ratings.user_rating[~held_out]
    rated = posterior_preference(spec, user[~held_out], column[~held_out], samples=4096, ratings=values)(everyone)
    assert recall_at_10(learnt) + 0.002 < recall_at_10(rated) < ceiling, (recall_at_10(learnt), recall_at_10(rated))
    # Before rounding and clipping they tell more still (0.1956), and round to the data's values.
    unrounded = unrounded_ratings(spec)
    assert np.array_equal(np.clip(np.rint(unrounded), 1, 5), ratings.user_rating)
    bound = posterior_preference(spec, user[~held_out], column[~held_out], samples=4096,
                                 ratings=unrounded[~held_out])(everyone)
    assert recall_at_10(rated) < recall_at_10(bound) < ceiling, (recall_at_10(rated), recall_at_10(bound))
    # Their rounding taken exactly, on each user's 256 likeliest tastes: between the two (0.1955).
    exact = posterior_preference(spec, user[~held_out], column[~held_out], samples=4096, ratings=values,
                                 rounded=True)(everyone)
    assert recall_at_10(rated) <= recall_at_10(exact) <= recall_at_10(bound), (recall_at_10(exact),)
    shuffled = np.random.default_rng(0).permutation(values)
    misled = posterior_preference(spec, user[~held_out], column[~held_out], samples=4096, ratings=shuffled)(everyone)
    assert recall_at_10(misled) < recall_at_10(learnt)
    # Without training ratings two users with the same age, gender and occupation get the same ranking, and
    # only they (occupations 8 and 9 follow no genre: they tell the same).
    features = ratings.users.columns
    index = {name: i for i, name in enumerate(ratings.users.ids)}
    traits = [tuple(features[key][index[str(u + 1)]] for key in ("age", "gender", "occupation")) for u in range(40)]
    traits = [(age, gender, "no genre's" if job in ("occupation-8", "occupation-9") else job)
              for age, gender, job in traits]
    pairs = [(a, b) for a in range(40) for b in range(a + 1, 40) if traits[a] == traits[b]]
    others = [(a, b) for a in range(40) for b in range(a + 1, 40) if traits[a] != traits[b]]
    assert pairs and others and all(not np.allclose(learnt[a], learnt[b]) for a, b in others)
    assert all(np.allclose(learnt[a], learnt[b]) for a, b in pairs)


def test_the_rating_likelihood_is_the_normal_density_of_a_users_ratings_with_a_shared_generosity() -> None:
    """`_rating_log_likelihood` against scipy's multivariate normal, taste by taste (up to one constant a user)."""
    from scipy.stats import multivariate_normal

    from tuner_app.data.synthetic import _GENEROSITY_SD, _RATING_BASE, _RATING_NOISE_SD, _RATING_QUALITY, _RATING_TASTE
    from tuner_app.data.synthetic_preference import _rating_log_likelihood

    rng = np.random.default_rng(3)
    users = np.array([0, 0, 0, 2, 2, 2, 2, 2, 0])  # user 1 has no rating: the same for every taste
    genres = rng.dirichlet(np.ones(5), size=len(users))
    quality, ratings = rng.normal(size=len(users)), rng.integers(1, 6, len(users)).astype(float)
    tastes = rng.dirichlet(np.full(5, 0.3), size=7)
    got = _rating_log_likelihood(users, genres, quality, ratings, tastes, 0.3, 0.2, num_users=3)
    assert got.shape == (3, 7) and np.ptp(got[1]) == 0
    for user in (0, 2):
        mine = users == user
        covariance = _RATING_NOISE_SD**2 * np.eye(mine.sum()) + _GENEROSITY_SD**2
        want = [multivariate_normal(_RATING_BASE + _RATING_TASTE * (genres[mine] @ taste - 0.3) / 0.2
                                    + _RATING_QUALITY * quality[mine], covariance).logpdf(ratings[mine])
                for taste in tastes]
        np.testing.assert_allclose(got[user] - got[user, 0], np.array(want) - want[0], rtol=1e-9, atol=1e-9)


def test_the_rounded_rating_likelihood_integrates_each_values_interval_over_the_users_generosity() -> None:
    """`_rounded_rating_log_likelihood` against scipy's quad over the generosity, taste by taste (exactly)."""
    from scipy.integrate import quad
    from scipy.stats import norm

    from tuner_app.data.synthetic import _GENEROSITY_SD, _RATING_BASE, _RATING_NOISE_SD, _RATING_QUALITY, _RATING_TASTE
    from tuner_app.data.synthetic_preference import _rounded_rating_log_likelihood

    rng = np.random.default_rng(4)
    # User 1 has no rating; user 3 has 150, drawn as the generator draws them (generosity 0.3): with many
    # ratings the integrand over the generosity is a narrow peak, which the quadrature must still find.
    users = np.array([2, 0, 0, 2, 2, 0, 2] + [3] * 150)
    genres = rng.dirichlet(np.ones(5), size=len(users))
    quality = rng.normal(size=len(users))
    tastes = rng.dirichlet(np.full(5, 0.3), size=6)
    heavy = (_RATING_BASE + _RATING_TASTE * (genres[7:] @ tastes[2] - 0.3) / 0.2 + _RATING_QUALITY * quality[7:]
             + 0.3 + rng.normal(0.0, _RATING_NOISE_SD, 150))
    # 1 and 5: the clipped ends, open intervals.
    ratings = np.concatenate([[1.0, 5.0, 3.0, 5.0, 2.0, 1.0, 4.0], np.clip(np.rint(heavy), 1, 5)])
    likely = np.array([[0, 3, 5], [1, 2, 4], [5, 1, 0], [2, 0, 4]])
    got = _rounded_rating_log_likelihood(users, genres, quality, ratings, tastes, likely, 0.3, 0.2)
    assert got.shape == (4, 3) and not got[1].any()
    for user in (0, 2, 3):
        mine = users == user
        low = np.where(ratings[mine] <= 1, -np.inf, ratings[mine] - 0.5)
        high = np.where(ratings[mine] >= 5, np.inf, ratings[mine] + 0.5)
        for column, taste in enumerate(likely[user]):
            mean = (_RATING_BASE + _RATING_TASTE * (genres[mine] @ tastes[taste] - 0.3) / 0.2
                    + _RATING_QUALITY * quality[mine])

            def integrand(g, mean=mean, low=low, high=high):
                inside = norm.cdf(high, mean + g, _RATING_NOISE_SD) - norm.cdf(low, mean + g, _RATING_NOISE_SD)
                return np.prod(inside) * norm.pdf(g, 0.0, _GENEROSITY_SD)

            want = np.log(quad(integrand, -8 * _GENEROSITY_SD, 8 * _GENEROSITY_SD, epsabs=0, epsrel=1e-12,
                               limit=500)[0])
            np.testing.assert_allclose(got[user, column], want, rtol=1e-7)


def test_the_users_trait_likelihood_is_the_generators_frequencies() -> None:
    """`_trait_log_likelihood` against the frequencies `_user_traits` draws, favourite genre by favourite genre."""
    from tuner_app.data.synthetic import _trait_log_likelihood, _user_traits

    n, genres = 400_000, 8
    favourite = np.random.default_rng(1).integers(0, genres, n)
    taste = np.full((n, genres), 0.01)
    taste[np.arange(n), favourite] = 1.0
    male, age, job, _ = _user_traits(np.random.default_rng(2), taste)
    code = (male * 7 + age) * 10 + job  # one code a (gender, age, occupation)
    predicted = np.exp(_trait_log_likelihood(male, age, job, genres))  # [users, genres]
    for genre in range(genres):
        mine = favourite == genre
        counts = np.bincount(code[mine], minlength=140) / mine.sum()
        first = np.unique(code, return_index=True)[1]
        expected = np.zeros(140)
        expected[code[first]] = predicted[first, genre]
        assert expected.sum() == pytest.approx(1.0, abs=1e-9)  # every combination is drawn somewhere
        np.testing.assert_allclose(counts, expected, atol=3e-3)


def _python_calls(spec: SyntheticSpec) -> int:
    """Function calls made from Python while generating `spec` (a deterministic count, not a time)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        ratings = make_synthetic(spec)
    finally:
        sys.setprofile(None)
    assert len(ratings) == spec.ratings
    return calls


def test_synthetic_generation_is_vectorized() -> None:
    # Ten times the ratings for the same users and movies: numpy does the extra work, so the
    # Python calls (per movie and per chunk of users, never per rating) barely change.
    small = _python_calls(SyntheticSpec(users=5000, movies=2000, ratings=50_000))
    large = _python_calls(SyntheticSpec(users=5000, movies=2000, ratings=500_000))
    assert large < 1.5 * small


# ------------------------------------------------------------------------------ split


def test_split_indices() -> None:
    train, test = split_indices(1000)
    assert train.dtype == test.dtype == np.int64
    assert len(train) == 800 and len(test) == 200
    assert not set(train) & set(test)
    assert sorted(np.concatenate([train, test])) == list(range(1000))
    again = split_indices(1000)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert np.array_equal(train, np.random.default_rng(42).permutation(1000)[:800])
    assert not np.array_equal(train, split_indices(1000, seed=1)[0])
    small_train, small_test = split_indices(10, 0.5, 0.3, seed=0)
    assert len(small_train) == 5 and len(small_test) == 3
    assert len(split_indices(3, 0.5, 0.5)[1]) == 1  # rounding never runs past n


# --------------------------------------------------------------------------- real data

ML100K = Path(
    os.environ.get("TUNER_APP_ML100K", Path(__file__).resolve().parents[2] / "shared/data/ml-100k")
)


@pytest.mark.realdata
@pytest.mark.skipif(not (ML100K / "u.data").is_file(), reason=f"no MovieLens 100K at {ML100K}")
def test_real_ml_100k() -> None:
    ratings = load_grouplens(ML100K)
    check_schema(ratings)
    assert len(ratings) == 100_000
    assert len(set(ratings.user_id)) == 943
    assert len(set(ratings.item_id)) == 1664
    assert len(ratings.item_catalog) == 1682
    assert ratings.item_catalog[0] == "Toy Story (1995)"  # movie id 1
