"""Theme benchmark: search text and table of contents against html.parser over whole posts.

Builds N synthetic post bodies shaped like ours (headings, prose, snippets with badges,
tool blocks whose data attributes run to kilobytes), then times, in the same run:
  - tools.site.search_index.plain_text against a plain html.parser extraction (the baseline);
  - tools.site.toc.headings against feeding the whole post to the same heading parser.
Both sides must give the same result; the script prints times and ratios.

    .venv/bin/python bench/theme.py [--posts 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.site import search_index, toc  # noqa: E402

ERAS = json.dumps([{"version": f"2.6.{n}", "rmem": [4096, 87380, 4194304]} for n in range(60)])


def synthetic_post(number: int) -> str:
    data = ERAS.replace('"', "&quot;")
    sections = []
    for section in range(6):
        sections.append(
            f'<h2 id="s{number}-{section}">Section {section}<a class="headerlink" '
            f'href="#s{number}-{section}">&para;</a></h2>'
            f"<p>Prose about window scaling {number} and <code>vcbMounter</code> &amp; more.</p>"
            f'<h3 id="t{number}-{section}">Detail</h3>'
            '<figure class="snippet" data-lang="sh" data-verdict="ok" data-copy="ip route">'
            '<figcaption class="snippet-badge">checked: ip route</figcaption>'
            '<div class="highlight"><pre><span class="gp">$ </span>ip route</pre></div>'
            "</figure>"
            f'<figure class="tool-block tool-wscale" data-eras="{data}">'
            "<table><tr><th>raw window</th><td>92</td></tr></table></figure>"
        )
    return "".join(sections)


class BaselineText(HTMLParser):
    """The straightforward extraction: html.parser over the whole post."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.silent_tag, self.silent_depth = "", 0

    def handle_starttag(self, tag, attrs):
        if self.silent_depth:
            self.silent_depth += tag == self.silent_tag
            return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in search_index.SILENT or classes & search_index.SILENT_CLASSES:
            self.silent_tag, self.silent_depth = tag, 1
        elif tag in search_index.BREAKING:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if self.silent_depth:
            self.silent_depth -= tag == self.silent_tag
        elif tag in search_index.BREAKING:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.silent_depth:
            self.parts.append(data)


def baseline_text(html: str) -> str:
    parser = BaselineText()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def baseline_headings(html: str) -> tuple[toc.TocEntry, ...]:
    parser = toc._Headings()
    parser.feed(html)
    parser.close()
    return tuple(parser.entries)


def timed(function, posts: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    results = [function(post) for post in posts]
    return time.perf_counter() - start, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    args = parser.parse_args(argv)
    posts = [synthetic_post(number) for number in range(args.posts)]
    size = sum(map(len, posts)) / len(posts) / 1024
    print(f"{args.posts} synthetic posts, {size:.0f} KiB of HTML each")
    rows = [
        ("search text", baseline_text, search_index.plain_text),
        ("table of contents", baseline_headings, toc.headings),
    ]
    for name, baseline, ours in rows:
        base_time, expected = timed(baseline, posts)
        our_time, got = timed(ours, posts)
        if got != expected:
            print(f"{name}: results differ from the baseline", file=sys.stderr)
            return 1
        print(
            f"{name:18s} html.parser {base_time:6.2f} s   opskb {our_time:6.2f} s"
            f"   {base_time / our_time:5.1f}x faster"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
