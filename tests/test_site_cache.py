"""Pelican's reader cache as shipped: a cached build equals a fresh one, its saves are atomic."""

from __future__ import annotations

import io
import os
import pickle
import sys
from pathlib import Path

import pelican.cache
import pytest

from tests.conftest import require_tool
from tools import site

ROOT = Path(__file__).resolve().parents[1]


def build(output: Path, **overrides) -> list[str]:
    return site.build(ROOT / "pelicanconf.py", output, overrides, stream=io.StringIO())


def tree(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def cache_files(cache: Path) -> list[Path]:
    return sorted(path for path in cache.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def fresh_site(tmp_path_factory) -> dict[str, bytes]:
    """The real posts built with the reader cache off."""
    require_tool("bash")
    output = tmp_path_factory.mktemp("fresh") / "output"
    assert build(output, CACHE_CONTENT=False, LOAD_CONTENT_CACHE=False) == []
    assert not (output.parent / ".cache").exists()
    return tree(output)


def test_shipping_settings_cache_the_posts_beside_the_output(tmp_path, fresh_site, monkeypatch):
    assert build(tmp_path / "first") == []
    cache = tmp_path / ".cache" / "pelican"
    (digest,) = cache.iterdir()  # one directory, named by the digest of opskb's inputs
    assert {path.name for path in cache_files(cache)} == {
        "ArticlesGenerator-Readers",
        "PagesGenerator-Readers",
    }
    reader = sys.modules["opskb_blocks.reader"].OpskbMarkdownReader  # as Pelican loaded it
    reads = []
    original = reader.read
    monkeypatch.setattr(
        reader, "read", lambda self, path: reads.append(path) or original(self, path)
    )
    assert build(tmp_path / "second") == []
    assert reads == []  # every post came from the cache
    assert tree(tmp_path / "first") == fresh_site
    assert tree(tmp_path / "second") == fresh_site  # byte for byte


def test_a_touched_post_alone_is_read_again(tmp_path, monkeypatch):
    require_tool("bash")
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    for name in ("one", "two"):
        (content / "posts" / f"{name}.md").write_text(
            f"Title: {name}\nDate: 2020-01-01\n\n```sh\necho {name}\n```\n", encoding="utf-8"
        )
    assert build(tmp_path / "a", PATH=str(content)) == []
    reader = sys.modules["opskb_blocks.reader"].OpskbMarkdownReader
    reads = []
    original = reader.read
    monkeypatch.setattr(
        reader, "read", lambda self, path: reads.append(path) or original(self, path)
    )
    post = content / "posts" / "two.md"
    post.write_text(post.read_text(encoding="utf-8").replace("echo two", "echo 'two"), "utf-8")
    errors = build(tmp_path / "b", PATH=str(content))
    assert [Path(path).name for path in reads] == ["two.md"]
    assert len(errors) == 1 and "two.md:5" in errors[0]  # the edit is checked, not served stale


def test_a_save_that_fails_midway_leaves_the_previous_cache_whole(tmp_path, monkeypatch):
    require_tool("bash")
    assert build(tmp_path / "a") == []
    cache = tmp_path / ".cache" / "pelican"
    before = {path: path.read_bytes() for path in cache_files(cache)}

    def dump_half(data, stream):
        stream.write(pickle.dumps(data)[:100])
        raise OSError("disk full")

    monkeypatch.setattr(pelican.cache.pickle, "dump", dump_half)
    build(tmp_path / "b")  # the same inputs, the same digest; Pelican warns it could not save
    assert {path: path.read_bytes() for path in cache_files(cache)} == before  # no .tmp left


def test_old_digests_are_pruned(tmp_path):
    require_tool("bash")
    cache = tmp_path / ".cache" / "pelican"
    stale = [cache / f"{n:020x}" for n in range(6)]
    for number, path in enumerate(stale):
        path.mkdir(parents=True)
        (path / "ArticlesGenerator-Readers").write_bytes(b"")
        os.utime(path, (1_000_000_000 + number,) * 2)  # used in this order
    (cache / "not-a-digest").mkdir()
    assert build(tmp_path / "a") == []
    left = sorted(path.name for path in cache.iterdir())
    # The current digest and the three most recently used of the others; foreign names stay.
    assert len(left) == 5 and "not-a-digest" in left
    assert [path.name for path in stale[-3:]] == [
        name for name in left if name in {p.name for p in stale}
    ]
