"""Small shop-like data with a learnable structure, in the files a shop has: the README's example.

    python examples/shop.py OUT_DIR [--rows N] [--seed S]

writes to OUT_DIR:

* ``interactions.parquet``: customer (``u0001``), sku (``sku-0042``), ts (a Parquet
  timestamp) and qty (items bought), one row per purchase; a customer buys an item again
  now and then;
* ``items.csv``: sku, title (words of its category), category, tags (``|``-separated) and price;
* ``users.csv``: customer and region;
* ``shop.yaml``: the data YAML naming them all, keeping each customer's last purchase of
  an item and customers and items with at least 3 purchases.

Customers lean towards one or two categories (and their region follows the first), items
are bought by popularity within a category, and a title's words and tags come from its
category: a two-tower model has something to learn from every file. The default (3,000
purchases) makes a search of a minute; the same seed gives the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CATEGORIES = {
    "kitchen": (("Pan", "Knife", "Kettle", "Bowl", "Grater", "Whisk"), ("steel", "dishwasher-safe", "gift")),
    "garden": (("Hose", "Rake", "Planter", "Shears", "Seeds", "Lantern"), ("outdoor", "weatherproof", "eco")),
    "toys": (("Puzzle", "Robot", "Blocks", "Kite", "Doll", "Train"), ("kids", "gift", "educational")),
    "books": (("Novel", "Atlas", "Cookbook", "Journal", "Guide", "Comic"), ("paperback", "bestseller", "gift")),
    "sports": (("Ball", "Racket", "Mat", "Bottle", "Gloves", "Helmet"), ("outdoor", "training", "lightweight")),
    "beauty": (("Cream", "Serum", "Brush", "Soap", "Mask", "Oil"), ("organic", "vegan", "gift")),
}
ADJECTIVES = ("Classic", "Deluxe", "Mini", "Pro", "Compact", "Premium", "Eco", "Family", "Travel", "Smart")
REGIONS = ("north", "south", "east", "west", "centre", "islands")
PRICE = {"kitchen": 25.0, "garden": 30.0, "toys": 20.0, "books": 12.0, "sports": 35.0, "beauty": 18.0}
YAML = """\
# tuner_app data YAML: python -m tuner_app search --space smoke.yaml --data {folder}/shop.yaml
interactions: {{path: interactions.parquet, user: customer, item: sku, timestamp: ts, rating: qty}}
items:
  path: items.csv
  id: sku
  text: [title]
  categorical: [category]
  multi_valued: {{tags: "|"}}
  numeric: {{price: 5}}
users: {{path: users.csv, id: customer, categorical: [region]}}
preprocessing: {{duplicates: last, min_user_interactions: 3, min_item_interactions: 3}}
"""


def write_shop(folder: str | Path, rows: int = 3_000, seed: int = 0) -> Path:
    """Writes the four files to `folder` (made if needed); returns the data YAML's path."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(CATEGORIES)
    n_users, n_items = max(10, rows // 10), max(12, rows // 15)

    # Items: a category each, popularity Zipf-like within it, a title and tags of that category.
    category = rng.integers(0, len(names), n_items)
    popularity = 1.0 / (1.0 + rng.permutation(n_items))
    words, tags = [], []
    for c in category:
        nouns, pool = CATEGORIES[names[c]]
        words.append(f"{ADJECTIVES[rng.integers(len(ADJECTIVES))]} {nouns[rng.integers(len(nouns))]}")
        tags.append("|".join(sorted(set(rng.choice(pool, size=rng.integers(1, 3), replace=False).tolist()))))
    price = np.round([PRICE[names[c]] * rng.lognormal(0.0, 0.5) for c in category], 2)
    skus = np.array([f"sku-{i:04d}" for i in range(1, n_items + 1)])

    # Customers: one or two favourite categories; the region follows the first.
    favourite = rng.integers(0, len(names), (n_users, 2))
    region = np.where(rng.random(n_users) < 0.7, favourite[:, 0] % len(REGIONS), rng.integers(0, len(REGIONS),
                                                                                            n_users))
    customers = np.array([f"u{i:04d}" for i in range(1, n_users + 1)])

    # Purchases: an active customer, a category they like (or any, at times), an item by popularity.
    activity = rng.lognormal(0.0, 0.8, n_users)
    buyer = rng.choice(n_users, size=rows, p=activity / activity.sum())
    liked = np.where(rng.random(rows) < 0.85, favourite[buyer, rng.integers(0, 2, rows)],
                     rng.integers(0, len(names), rows))
    bought = np.empty(rows, dtype=np.int64)
    for c in range(len(names)):
        members = np.flatnonzero(category == c)
        if not len(members):
            members = np.arange(n_items)
        at = np.flatnonzero(liked == c)
        weights = popularity[members] / popularity[members].sum()
        bought[at] = rng.choice(members, size=len(at), p=weights)
    start = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64)
    ts = np.sort(start + rng.integers(0, 365 * 86_400, rows))
    qty = 1 + rng.poisson(0.4, rows)

    pq.write_table(pa.table({
        "customer": pa.array(customers[buyer]),
        "sku": pa.array(skus[bought]),
        "ts": pa.array(ts, pa.timestamp("s", tz="UTC")),
        "qty": pa.array(qty, pa.int32()),
    }), folder / "interactions.parquet")
    pd.DataFrame({"sku": skus, "title": words, "category": [names[c] for c in category], "tags": tags,
                  "price": price}).to_csv(folder / "items.csv", index=False)
    pd.DataFrame({"customer": customers, "region": [REGIONS[r] for r in region]}).to_csv(folder / "users.csv",
                                                                                         index=False)
    path = folder / "shop.yaml"
    path.write_text(YAML.format(folder=folder), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder to write the files to (made if needed)")
    parser.add_argument("--rows", type=int, default=3_000, help="purchases (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error(f"--rows must be at least 100; got {args.rows}")
    path = write_shop(args.out_dir, args.rows, args.seed)
    print(f"wrote {path.parent}/interactions.parquet, items.csv, users.csv and {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
