"""Where a post stands among the others: its previous and next post, and posts sharing tags.

Pure functions over `PostRef` records (key, date, tags), so the plugin, the tests
and the command line compute the same thing.

    python -m tools.related posts.json    # [{"key", "date", "tags"}, ...] -> neighbours
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

RELATED_LIMIT = 3


class RelatedError(ValueError):
    """The list of posts could not be read."""


@dataclass(frozen=True, slots=True)
class PostRef:
    """What ordering needs of a post: a unique key (its URL), its date (ISO), its tags."""

    key: str
    date: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Neighbours:
    """One post's older and newer neighbour (keys; empty at the ends) and related keys."""

    previous: str
    next: str
    related: tuple[str, ...]


def chronological(posts: Iterable[PostRef]) -> list[PostRef]:
    """Oldest first; posts of the same date in key order, so the result never varies."""
    return sorted(posts, key=lambda post: (post.date, post.key))


def related_posts(
    post: PostRef, by_tag: dict[str, list[PostRef]], date_rank: dict[str, int], limit: int
) -> tuple[str, ...]:
    """Posts sharing most tags with `post`; ties go to the newer post, then the key."""
    shared = Counter(
        other.key for tag in set(post.tags) for other in by_tag[tag] if other.key != post.key
    )
    dates = {other.key: other.date for tag in post.tags for other in by_tag[tag]}
    best = heapq.nsmallest(
        limit, shared, key=lambda key: (-shared[key], -date_rank[dates[key]], key)
    )
    return tuple(best)


def neighbours(posts: Sequence[PostRef], limit: int = RELATED_LIMIT) -> dict[str, Neighbours]:
    """For every post, keyed by its key: previous (older), next (newer) and related posts."""
    ordered = chronological(posts)
    if len({post.key for post in ordered}) != len(ordered):
        raise RelatedError("two posts share one key")
    by_tag: dict[str, list[PostRef]] = defaultdict(list)
    for post in ordered:
        for tag in set(post.tags):
            by_tag[tag].append(post)
    date_rank = {date: rank for rank, date in enumerate(sorted({p.date for p in ordered}))}
    result = {}
    for index, post in enumerate(ordered):
        result[post.key] = Neighbours(
            previous=ordered[index - 1].key if index > 0 else "",
            next=ordered[index + 1].key if index + 1 < len(ordered) else "",
            related=related_posts(post, by_tag, date_rank, limit),
        )
    return result


def read_posts(text: str) -> list[PostRef]:
    try:
        return [
            PostRef(item["key"], item["date"], tuple(item["tags"])) for item in json.loads(text)
        ]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise RelatedError(f"expected a JSON list of {{key, date, tags}}: {error}") from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.related", description=__doc__.splitlines()[0]
    )
    parser.add_argument("posts", help="JSON file of posts, or - for standard input")
    parser.add_argument("--limit", type=int, default=RELATED_LIMIT, help="related posts per post")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        text = sys.stdin.read() if args.posts == "-" else Path(args.posts).read_text("utf-8")
        table = neighbours(read_posts(text), args.limit)
    except (OSError, RelatedError) as error:
        print(f"error: {args.posts}: {error}", file=sys.stderr)
        return 2
    for key, entry in table.items():
        related = ", ".join(entry.related) or "-"
        print(f"{key}: previous={entry.previous or '-'} next={entry.next or '-'} related={related}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
