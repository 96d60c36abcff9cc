"""Where a post stands among the others: its previous and next post, and posts sharing tags.

Pure functions over `PostRef` records (key, date, tags), so the plugin, the tests
and the command line compute the same thing.

    python -m tools.site.related posts.json    # [{"key", "date", "tags"}, ...] -> neighbours
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import sys
from collections import defaultdict
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


# A post's place in the newest-first order: newer dates first, then keys.
Order = tuple[int, str]


def related_posts(
    post: PostRef, newest_by_tag: dict[str, list[Order]], limit: int
) -> tuple[str, ...]:
    """Posts sharing most tags with `post`; ties go to the newer post, then the key.

    The post's tag lists are merged newest first, so each other post comes out once with
    its exact count of shared tags. Every post still unseen is older than those seen and
    shares at most as many tags as there are lists left: once `limit` posts share at least
    that many, no later one can rank above them and the walk stops (a tag on every post
    no longer makes each post look at all the others).
    """
    if limit <= 0:
        return ()
    lists = [newest_by_tag[tag] for tag in sorted(set(post.tags))]
    heads = [(entries[0], index, 0) for index, entries in enumerate(lists) if entries]
    heapq.heapify(heads)
    live = len(heads)  # lists not yet exhausted
    best: list[tuple[int, Order]] = []  # (-shared, order), best first
    while heads:
        order, shared = heads[0][0], 0
        while heads and heads[0][0] == order:
            _, index, position = heapq.heappop(heads)
            shared += 1
            if position + 1 < len(lists[index]):
                heapq.heappush(heads, (lists[index][position + 1], index, position + 1))
            else:
                live -= 1
        if order[1] != post.key:
            bisect.insort(best, (-shared, order))
            del best[limit:]
        if len(best) == limit and -best[-1][0] >= live:
            break
    return tuple(order[1] for _, order in best)


def neighbours(posts: Sequence[PostRef], limit: int = RELATED_LIMIT) -> dict[str, Neighbours]:
    """For every post, keyed by its key: previous (older), next (newer) and related posts."""
    ordered = chronological(posts)
    if len({post.key for post in ordered}) != len(ordered):
        raise RelatedError("two posts share one key")
    date_rank = {date: rank for rank, date in enumerate(sorted({p.date for p in ordered}))}
    newest_by_tag: dict[str, list[Order]] = defaultdict(list)
    for post in ordered:
        for tag in set(post.tags):
            newest_by_tag[tag].append((-date_rank[post.date], post.key))
    for entries in newest_by_tag.values():
        entries.sort()
    result = {}
    for index, post in enumerate(ordered):
        result[post.key] = Neighbours(
            previous=ordered[index - 1].key if index > 0 else "",
            next=ordered[index + 1].key if index + 1 < len(ordered) else "",
            related=related_posts(post, newest_by_tag, limit),
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
        prog="python -m tools.site.related", description=__doc__.splitlines()[0]
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
