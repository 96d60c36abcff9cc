"""Reading opskb's posts and a built site for the site tests: front matter, links, ids."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT / "content" / "posts"
# The three posts the source holds, oldest first (the order the source implies).
SLUGS_BY_AGE = ("starting-opskb", "vmware-consolidated-backup", "tcp-window-scaling-linux-2-6-17")
# Elements that load something into the page: they may never point at another host.
LOADING = {("script", "src"), ("link", "href"), ("img", "src"), ("img", "srcset")}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    path: Path
    title: str
    date: dt.date
    tags: tuple[str, ...]
    category: str
    slug: str
    summary: str
    corrections: int  # `!!! correction` admonitions in the body


def read_front_matter(path: Path) -> FrontMatter:
    """Pelican's Markdown metadata: `Key: value` lines up to the first blank line."""
    fields: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    return FrontMatter(
        path=path,
        title=fields["title"],
        date=dt.date.fromisoformat(fields["date"][:10]),
        tags=tuple(tag.strip() for tag in fields["tags"].split(",")),
        category=fields["category"],
        slug=fields["slug"],
        summary=fields["summary"],
        corrections=sum(line.startswith("!!! correction ") for line in lines),
    )


POSTS_BY_SLUG = {fm.slug: fm for fm in map(read_front_matter, sorted(POSTS.glob("*.md")))}


class Page(HTMLParser):
    """What the link checks need from one HTML page: its URLs, ids, headings and times."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.times: list[str] = []
        self.h1: list[str] = []
        self.next_pages: list[str] = []  # href of every <a rel="next">
        self.title = ""
        self.text: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and "next" in (attributes.get("rel") or "").split():
            self.next_pages.append(attributes.get("href") or "")
        for name, value in attrs:
            if value is None:
                continue
            if name in {"href", "src", "srcset"}:
                self.urls.append((tag, name, value))
            elif name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif tag == "time" and name == "datetime":
                self.times.append(value)
        if tag in {"h1", "title"}:
            self._open.append(tag)
            if tag == "h1":
                self.h1.append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        self.text.append(data)
        if "title" in self._open:
            self.title += data
        elif "h1" in self._open:
            self.h1[-1] += data


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def words(text: str) -> str:
    return " ".join(text.replace("\u00b6", "").split())


def resolve(output: Path, page: Path, url: str) -> Path:
    """The file in `output` that an internal URL on `page` points at."""
    path = unquote(urlsplit(url).path)
    if not path:
        return page
    base = output if path.startswith("/") else page.parent
    target = Path(os.path.normpath(base / path.lstrip("/")))
    return target / "index.html" if target.is_dir() else target


def html_files(output: Path) -> list[Path]:
    return sorted(output.rglob("*.html"))


def post_page(output: Path, slug: str) -> Path:
    return output / "posts" / slug / "index.html"


def site_path(url: str) -> str:
    """`https://host/posts/x/`, `/posts/x/` and `posts/x/` all as `posts/x/`."""
    return urlsplit(url).path.lstrip("/")


def link_problems(built_site: Path) -> list[str]:
    """Every href/src/srcset and CSS url() that points at nothing or loads from another host."""
    problems = []
    ids: dict[Path, set[str]] = {}
    pages = {path: parse_page(path) for path in html_files(built_site)}
    for path, page in pages.items():
        ids[path] = page.ids
    for path, page in pages.items():
        where = path.relative_to(built_site)
        for tag, attribute, value in page.urls:
            urls = [u.split()[0] for u in value.split(",") if u.strip()]
            for url in urls if attribute == "srcset" else [value]:
                parts = urlsplit(url)
                if parts.scheme in {"mailto", "tel", "data"}:
                    continue
                if parts.scheme or parts.netloc:
                    if (tag, attribute) in LOADING:
                        problems.append(f"{where}: <{tag} {attribute}> loads {url} from elsewhere")
                    continue
                target = resolve(built_site, path, url)
                if not target.is_file():
                    problems.append(f"{where}: <{tag} {attribute}={url!r}> points at nothing")
                elif parts.fragment and target.suffix == ".html":
                    anchors = ids.get(target) or parse_page(target).ids
                    if unquote(parts.fragment) not in anchors:
                        problems.append(f"{where}: {url!r} names no id on its page")
    for css in sorted(built_site.rglob("*.css")):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            if parts.scheme or parts.netloc:
                problems.append(f"{css.relative_to(built_site)}: url({url}) loads from elsewhere")
            elif not resolve(built_site, css, url).is_file():
                problems.append(f"{css.relative_to(built_site)}: url({url}) points at nothing")
    return problems
