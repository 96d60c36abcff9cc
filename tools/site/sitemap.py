"""sitemap.xml for the site: every post, page, tag, category and listing URL.

The sitemap protocol wants absolute URLs, which need the site's address: the
published build (publishconf.py, SITEURL set) writes `https://host/posts/x/`;
a development build (SITEURL empty) writes root-relative `/posts/x/`, right for
`make serve` and `make devserver`, which serve the site at the root.

    python -m tools.site.sitemap --base https://opskb.example.org posts/a/ tags/b/
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape


class SitemapError(ValueError):
    """A URL that cannot go in a sitemap."""


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """A site-relative URL (`posts/x/`, `` for the home page) and its ISO date, if it has one."""

    path: str
    lastmod: str = ""


def location(base: str, path: str) -> str:
    """The URL of `path` under `base` (root-relative when the base is empty)."""
    if "://" in path or path.startswith("/"):
        raise SitemapError(f"{path!r}: expected a site-relative URL such as posts/x/")
    return f"{base.rstrip('/')}/{path}"


def sitemap_xml(entries: Iterable[SitemapEntry], base: str = "") -> str:
    """The sitemap document: one <url> per distinct path, in path order."""
    by_path: dict[str, SitemapEntry] = {}
    for entry in entries:
        kept = by_path.get(entry.path)
        if kept is None or entry.lastmod > kept.lastmod:
            by_path[entry.path] = entry
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for path in sorted(by_path):
        entry = by_path[path]
        lastmod = f"<lastmod>{escape(entry.lastmod)}</lastmod>" if entry.lastmod else ""
        lines.append(f"<url><loc>{escape(location(base, path))}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.site.sitemap", description=__doc__.splitlines()[0]
    )
    parser.add_argument("paths", nargs="+", help="site-relative URLs, e.g. posts/x/")
    parser.add_argument("--base", default="", help="the site's address (empty: root-relative)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sys.stdout.write(sitemap_xml((SitemapEntry(path) for path in args.paths), args.base))
    except SitemapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
