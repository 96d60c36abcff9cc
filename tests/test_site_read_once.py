"""A post's search text and headings are worked out when it is read, and kept in the
reader cache: a rebuild that serves a post from the cache does not parse its body again."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.conftest import require_tool
from tools import site
from tools.site import search_index, toc

ROOT = Path(__file__).resolve().parents[1]
POST = """Title: Read once
Date: 2020-01-01
Tags: tcp
Summary: How the window scales.

## Window

The <em>advertised</em> window &amp; its shift.

## Scale

```sh
echo 1 > /proc/sys/net/ipv4/tcp_window_scaling
```

### Shift

Fourteen at most.
"""


def build(output: Path, content: Path) -> list[str]:
    overrides = {"PATH": str(content)}
    return site.build(ROOT / "pelicanconf.py", output, overrides, stream=io.StringIO())


def test_a_cached_post_keeps_its_search_text_and_headings(tmp_path, monkeypatch):
    require_tool("bash")
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "read-once.md").write_text(POST, encoding="utf-8")
    assert build(tmp_path / "first", content) == []

    bodies, heading_reads = [], []
    plain_text, headings = search_index.plain_text, toc.headings
    monkeypatch.setattr(
        search_index, "plain_text", lambda html: bodies.append(html) or plain_text(html)
    )
    monkeypatch.setattr(toc, "headings", lambda html: heading_reads.append(html) or headings(html))
    assert build(tmp_path / "second", content) == []
    assert heading_reads == []  # the headings came from the cache
    assert not any("<h2" in html for html in bodies)  # only titles and summaries are stripped

    first = (tmp_path / "first" / "search.json").read_bytes()
    assert (tmp_path / "second" / "search.json").read_bytes() == first
    (doc,) = [doc for doc in json.loads(first) if doc["title"] == "Read once"]
    # The words as the post gives them, markup and entities resolved by hand.
    assert doc["text"].startswith("Window The advertised window & its shift. Scale")
    assert doc["text"].endswith("Shift Fourteen at most.")
    page = (tmp_path / "second" / "posts" / "read-once" / "index.html").read_text("utf-8")
    assert page.count('href="#window"') == page.count('href="#shift"') >= 1  # the table of contents
