"""Related posts: the early-stopping merge picks what the definition picks, on any tag mix."""

from __future__ import annotations

import random

import pytest

from tools.site import related


def by_definition(posts: list[related.PostRef], limit: int) -> dict[str, tuple[str, ...]]:
    """Every other post sharing a tag, most shared tags first, then the newer, then the key."""
    table = {}
    for post in posts:
        scored = []
        for other in posts:
            shared = len(set(post.tags) & set(other.tags))
            if other.key != post.key and shared:
                scored.append((shared, other.date, other.key))
        # Newer date first within a count, then the smaller key: two stable sorts.
        scored.sort(key=lambda item: item[2])
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        table[post.key] = tuple(key for _, _, key in scored[:limit])
    return table


def random_posts(seed: int, count: int, tags: int, per_post: int) -> list[related.PostRef]:
    rng = random.Random(seed)
    names = [f"t{n}" for n in range(tags)]
    return [
        related.PostRef(
            f"posts/p{n:03d}/",
            f"2020-01-{rng.randint(1, 9):02d}T00:00:00",  # many posts share a date
            tuple(rng.sample(names, rng.randint(0, min(per_post, tags))))
            + (("everywhere",) if n % 2 else ()),
        )
        for n in rng.sample(range(count), count)
    ]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("limit", [0, 1, 3, 7])
def test_related_posts_match_the_definition(seed, limit):
    posts = random_posts(seed, count=60, tags=2 + seed, per_post=4)
    table = related.neighbours(posts, limit)
    assert {key: entry.related for key, entry in table.items()} == by_definition(posts, limit)


def test_a_tag_on_every_post_gives_the_newest_others():
    posts = [
        related.PostRef(f"p{n:04d}", f"2020-{n % 12 + 1:02d}-01", ("tcp",)) for n in range(2000)
    ]
    table = related.neighbours(posts, 3)
    others = sorted((post for post in posts if post.key != "p0000"), key=lambda post: post.key)
    others.sort(key=lambda post: post.date, reverse=True)  # newest first, keys ascending
    assert table["p0000"].related == tuple(post.key for post in others[:3])
