"""Which columns of an interactions file hold the user, the item, the time and the rating.

A file given alone to `--data` names none of them: they are found by the names other
tools already use (RecBole's atomic files, Microsoft Recommenders' `userID`/`itemID`/
`rating`/`timestamp`, LensKit's `user`/`user_id`/`userId`, the MovieLens, Amazon,
Last.fm, Book-Crossing and retail files that follow them), compared case-insensitively
and with RecBole's `:token`/`:float` type suffix left off. One role with no match (user,
item) or with two matches (any role) is refused: a data YAML then names the columns.
Standard library only.
"""

from __future__ import annotations

import re

from tuner_app.errors import DataError

ROLES = ("user", "item", "timestamp", "rating")
#: The names each role is known by, lower-cased, in no particular order.
ALIASES: dict[str, tuple[str, ...]] = {
    "user": ("user", "user_id", "userid", "uid", "user_name", "username", "customer", "customer_id", "customerid",
             "client", "client_id", "visitor", "visitor_id", "visitorid", "member_id", "account_id", "reviewerid",
             "reader_id"),
    "item": ("item", "item_id", "itemid", "iid", "movie", "movie_id", "movieid", "product", "product_id",
             "productid", "sku", "article_id", "asin", "isbn", "book_id", "track_id", "song_id", "artist_id",
             "video_id", "news_id", "content_id", "business_id", "recipe_id", "course_id", "listing_id",
             "offer_id", "post_id"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "date_time", "event_time", "event_timestamp",
                  "created_at", "unix_time", "unix_timestamp", "unixreviewtime", "t_dat"),
    "rating": ("rating", "ratings", "weight", "score", "stars", "preference", "quantity", "qty", "count",
               "clicks", "plays", "play_count", "playcount", "listen_count", "book_rating", "overall"),
}
_TYPE_SUFFIX = re.compile(r":(token|token_seq|float|float_seq)$", re.IGNORECASE)


def normalized(column: str) -> str:
    """A column's name as the aliases spell it: lower-cased, RecBole's type suffix left off."""
    return _TYPE_SUFFIX.sub("", column.strip()).lower()


def matches(role: str, columns: list[str]) -> list[str]:
    """The columns whose name is one of `role`'s aliases, in file order."""
    return [c for c in columns if normalized(c) in ALIASES[role]]


def detect_columns(columns: list[str], where: str, given: dict[str, str | None] | None = None
                   ) -> dict[str, str | None]:
    """The column of each role (`ROLES`): the one given, else the one alias that matches.

    Args:
        columns: the file's columns, in file order.
        where: the file, for messages.
        given: roles already decided (a data YAML's): a column name, or None for "none".

    Returns:
        role -> column; the timestamp and rating may be None (the file has none).

    Raises:
        DataError: a given column is not in the file; the user or the item column is not
            found; two columns match one role.
    """
    given = dict(given or {})
    found: dict[str, str | None] = {}
    for role in ROLES:
        if role in given:
            column = given[role]
            if column is not None and column not in columns:
                raise DataError(f"{where}: expected a column {column!r} (the {role}), found {_listed(columns)}; "
                                "name one of these in the data YAML.")
            found[role] = column
            continue
        hits = [c for c in matches(role, columns) if c not in found.values()]
        if len(hits) > 1:
            raise DataError(f"{where}: columns {' and '.join(repr(h) for h in hits)} could each be the {role}; "
                            f"write a data YAML that names the columns, e.g. "
                            f"'interactions: {{path: {_name(where)}, {role}: {hits[0]}}}'.")
        if not hits and role in ("user", "item"):
            known = ", ".join(ALIASES[role][:6])
            raise DataError(f"{where}: expected a {role} column (one named {known}, ...), found {_listed(columns)}; "
                            "write a data YAML that names the columns, e.g. "
                            f"'interactions: {{path: {_name(where)}, user: ..., item: ...}}'.")
        found[role] = hits[0] if hits else None
    if found["user"] == found["item"]:
        raise DataError(f"{where}: column {found['user']!r} cannot be both the user and the item; "
                        "name two different columns in the data YAML.")
    return found


def _listed(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:20])
    return (shown + (", ..." if len(columns) > 20 else "")) if columns else "no columns"


def _name(where: str) -> str:
    return where.replace("\\", "/").rsplit("/", 1)[-1]
