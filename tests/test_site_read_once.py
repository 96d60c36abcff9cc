"""A post's search text and headings are worked out when it is read, and kept in the
reader cache: a rebuild that serves a post from the cache does not parse its body again."""

from __future__ import annotations

import io
import json
import sys
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


ABBREVIATED = """Title: Abbreviated
Date: 2020-01-02

## Window

TCP scales its window.[^shift]

[^shift]: By the shift in the SYN.

*[TCP]: Transmission Control Protocol
"""
PLAIN = """Title: Plain
Date: 2020-01-03
Summary: Uses the same words, defines nothing.

## Window

TCP scales its window.[^shift]
"""


def test_one_converter_reads_each_post_as_a_fresh_one_would(tmp_path):
    """The reader resets one Markdown converter between posts: no abbreviation, footnote,
    heading id or front matter of one post leaks into the next (the first post has no
    summary, so Pelican's own reset for it does not hide a leak), and the front-matter
    reader Pelican removes for a summary is back in its place."""
    require_tool("bash")
    from pelican.settings import read_settings

    sys.path.insert(0, str(ROOT / "plugins"))
    from opskb_blocks.reader import OpskbMarkdownReader

    paths = []
    for name, text in (("a.md", ABBREVIATED), ("b.md", PLAIN), ("c.md", POST)):
        paths.append(tmp_path / name)
        paths[-1].write_text(text, encoding="utf-8")
    settings = read_settings(
        str(ROOT / "pelicanconf.py"),
        override={"PATH": str(tmp_path), "OPSKB_SNIPPETS": {"cache": str(tmp_path / "c")}},
    )
    shared = OpskbMarkdownReader(settings)
    together = [shared.read(str(path)) for path in paths]
    alone = [OpskbMarkdownReader(settings).read(str(path)) for path in paths]
    assert together == alone
    assert "<abbr" in together[0][0] and "<abbr" not in together[1][0]
    assert 'class="footnote"' in together[0][0] and 'class="footnote"' not in together[1][0]
    assert together[1][1]["title"] == "Plain"

    fresh = OpskbMarkdownReader(settings)
    names = [type(item).__name__ for item in shared.converter(str(paths[0]))[0].preprocessors]
    assert names == [
        type(item).__name__ for item in fresh.converter(str(paths[0]))[0].preprocessors
    ]
