"""Pelican's reader cache under a directory named by what the HTML is made from.

Pelican reuses a post's rendered HTML while the post's file is unchanged. opskb's HTML
also depends on its tools, plugins, pins, settings and the captures beside the posts,
so when the reader cache is on (CACHE_CONTENT / LOAD_CONTENT_CACHE), CACHE_PATH gets a
subdirectory named by `tools.snippets_cache.build_digest`: any change there starts from
an empty cache, and a cached build produces the same bytes as a fresh one.
"""

from __future__ import annotations

import os
from pathlib import Path

from tools.snippets_cache import build_digest


def key_content_cache(pelican) -> None:
    settings = pelican.settings
    if not (settings.get("CACHE_CONTENT") or settings.get("LOAD_CONTENT_CACHE")):
        return
    digest = build_digest(settings, Path(settings["PATH"]))
    settings["CACHE_PATH"] = os.path.join(settings["CACHE_PATH"], digest)
