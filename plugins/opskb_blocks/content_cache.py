"""Pelican's reader cache under a directory named by what the HTML is made from.

Pelican reuses a post's rendered HTML while the post's file is unchanged. opskb's HTML
also depends on its tools, plugins, pins, settings and the captures beside the posts,
so when the reader cache is on (CACHE_CONTENT / LOAD_CONTENT_CACHE), CACHE_PATH gets a
subdirectory named by `tools.snippets.cache.build_digest`: any change there starts from
an empty cache, and a cached build produces the same bytes as a fresh one. The few most
recently used digests are kept (a devserver and `make html` differ in one setting); older
ones are removed. Pelican writes its cache file in place; here every write goes to a
temporary file renamed over the old one, so a build killed while saving, or two builds
saving at once, never leave a truncated cache for the next build to trip on.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tools.snippets.cache import build_digest

KEPT_DIGESTS = 4
DIGEST_NAME = re.compile(r"[0-9a-f]{20}")  # the directories build_digest names


def key_content_cache(pelican) -> None:
    settings = pelican.settings
    if not (settings.get("CACHE_CONTENT") or settings.get("LOAD_CONTENT_CACHE")):
        return
    digest = build_digest(settings, Path(settings["PATH"]))
    prune(Path(settings["CACHE_PATH"]), keep=digest)
    settings["CACHE_PATH"] = os.path.join(settings["CACHE_PATH"], digest)


def prune(cache: Path, keep: str) -> None:
    """Remove digest directories beyond the most recently used few (never `keep`)."""
    try:
        found = [path for path in cache.iterdir() if DIGEST_NAME.fullmatch(path.name)]
    except OSError:
        return  # no cache yet
    used = {}
    for path in found:
        try:
            used[path] = path.stat().st_mtime_ns
        except OSError:
            continue  # removed meanwhile by another build
    newest_first = sorted(used, key=lambda path: (used[path], path.name), reverse=True)
    for path in [path for path in newest_first if path.name != keep][KEPT_DIGESTS - 1 :]:
        shutil.rmtree(path, ignore_errors=True)


def atomic_cache_writes(generator) -> None:
    """Make the generator's caches save to a temporary file renamed into place."""
    for cacher in (generator, getattr(generator, "readers", None)):
        if hasattr(cacher, "_cache_open"):  # Pelican's FileDataCacher
            cacher._cache_open = atomic_opener(cacher._cache_open)


def atomic_opener(opener):
    """An `open(path, mode)` like `opener` whose writes become visible whole or not at all."""

    @contextmanager
    def write_whole(path: str):
        handle, temporary = tempfile.mkstemp(
            dir=os.path.dirname(path) or ".", prefix=os.path.basename(path) + ".", suffix=".tmp"
        )
        os.close(handle)
        try:
            with opener(temporary, "wb") as stream:
                yield stream
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open_cache(path, mode="rb"):
        return write_whole(path) if "w" in mode else opener(path, mode)

    return open_cache
