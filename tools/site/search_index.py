"""The offline search index: one plain-text document per post or page, for MiniSearch.

`documents()` turns what the site knows of each post (URL, title, tags, summary,
HTML body) into `{url, title, tags, summary, text}` with the markup stripped, in
URL order, so the same posts always give the same `search.json` bytes. The theme's
search page loads that file into MiniSearch (theme/static/vendor/minisearch-*).

    python -m tools.site.search_index records.json > search.json
        # records.json: [{"url", "title", "tags", "summary", "content"}, ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from html import unescape
from pathlib import Path

# Elements whose end separates words ("<td>a</td><td>b</td>" is "a b", not "ab").
BREAKING = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6"
    " header hr li main nav ol p pre section table td th tr ul".split()
)
SILENT = frozenset({"script", "style", "template"})  # their text is not prose
# What the build adds around the prose (permalink signs, snippet verdicts and flags):
# a reader searches for what the post says, not for "checked" or "¶".
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
SILENT_CLASSES = frozenset({"headerlink", "snippet-badge", "snippet-flags", "snippet-note"})


class SearchIndexError(ValueError):
    """The records could not be read."""


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """A post or page as the site has it: the body is HTML. `text` is the body's
    plain_text when it is already known (computed once when the post was read)."""

    url: str
    title: str
    tags: tuple[str, ...]
    summary: str
    content: str
    text: str | None = None


# A tag (quoted attribute values may hold ">"), or a comment. One regular expression scans
# a post some four times faster than html.parser, which crawls through the large data
# attributes of tool blocks.
TAG = re.compile(r"""<!--.*?-->|<(/?)([A-Za-z][\w:-]*)((?>[^>"']+|"[^"]*"|'[^']*')*)>""", re.S)
CLASS = re.compile(r"""(?:^|\s)class\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def _classes(attributes: str) -> set[str]:
    found = CLASS.search(attributes)
    return set("".join(found.groups(default="")).split()) if found else set()


# Pygments' highlighting spans, most of a post's tags: neither breaking nor silent, they are
# dropped in one pass first, unless some span carries a silent class (see plain_text).
SPAN = re.compile(r"""</span>|<span(?: class="[\w -]*")?>""")
SILENT_SPAN = re.compile(r"<span\b[^>]*(?:" + "|".join(sorted(SILENT_CLASSES)) + ")")


SILENT_NAME = re.compile("|".join(sorted(SILENT_CLASSES)))  # a cheap test before _classes


def plain_text(html: str) -> str:
    """The words of an HTML fragment, markup removed, whitespace collapsed."""
    if not SILENT_SPAN.search(html):
        html = SPAN.sub("", html)  # a span neither separates words nor silences them
    # One split in C: text, "/" or "", tag name, attributes, text, ... (name None: a comment).
    # Tag i stands between texts[i] and texts[i + 1] and leaves gaps[i] there.
    pieces = TAG.split(html)
    texts, closing, attributes = pieces[0::4], pieces[1::4], pieces[3::4]
    names = [name.lower() if name else "" for name in pieces[2::4]]
    gaps = [" " if name in BREAKING else "" for name in names]
    candidates = [
        index
        for index, (name, attrs) in enumerate(zip(names, attributes, strict=True))
        if name in SILENT or (attrs and SILENT_NAME.search(attrs))
    ]
    end = -1  # the last tag of the silent element skipped last
    for start in candidates:
        name = names[start]
        if start <= end or closing[start] or name in VOID:
            continue
        if name not in SILENT and not _classes(attributes[start]) & SILENT_CLASSES:
            continue
        depth, end = 1, start  # find its end tag, counting the same element nested in itself
        while depth and end + 1 < len(names):
            end += 1
            if names[end] == name:
                depth += -1 if closing[end] else 1
        if depth:
            end = len(names)  # never closed: silent to the end
        texts[start + 1 : end + 1] = [""] * len(texts[start + 1 : end + 1])
        gaps[start : end + 1] = [""] * len(gaps[start : end + 1])
    merged = [""] * (len(texts) + len(gaps))
    merged[0::2], merged[1::2] = texts, gaps
    return " ".join(unescape("".join(merged)).split())


def documents(records: Iterable[SearchRecord]) -> list[dict[str, object]]:
    """One search document per record, sorted by URL."""
    return [
        {
            "url": record.url,
            "title": plain_text(record.title),
            "tags": sorted(record.tags),
            "summary": plain_text(record.summary),
            "text": plain_text(record.content) if record.text is None else record.text,
        }
        for record in sorted(records, key=lambda record: record.url)
    ]


def dumps(docs: list[dict[str, object]]) -> str:
    """search.json's bytes: compact, keys sorted, UTF-8 kept as is."""
    return json.dumps(docs, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def read_records(text: str) -> list[SearchRecord]:
    try:
        return [
            SearchRecord(
                url=item["url"],
                title=item["title"],
                tags=tuple(item.get("tags", ())),
                summary=item.get("summary", ""),
                content=item["content"],
            )
            for item in json.loads(text)
        ]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise SearchIndexError(
            f"expected a JSON list of {{url, title, tags, summary, content}}: {error}"
        ) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.site.search_index", description=__doc__.splitlines()[0]
    )
    parser.add_argument("records", help="JSON file of records, or - for standard input")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        text = sys.stdin.read() if args.records == "-" else Path(args.records).read_text("utf-8")
        docs = documents(read_records(text))
    except (OSError, SearchIndexError) as error:
        print(f"error: {args.records}: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(dumps(docs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
