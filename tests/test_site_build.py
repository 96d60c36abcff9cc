"""End-to-end checks of the built site: posts, feed, sitemap, search, links, HTML, bytes.

Expected titles, dates and tags are read from the posts' front matter by a parser of
the tests' own (site_pages.py); the facts the posts must carry are read from the source they retell.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import pytest
from conftest import SHARED, require_path
from site_pages import (
    POSTS,
    POSTS_BY_SLUG,
    ROOT,
    SLUGS_BY_AGE,
    html_files,
    link_problems,
    parse_page,
    post_page,
    resolve,
    site_path,
    words,
)

from tools import site

SEED = SHARED / "seeds" / "000_09dad5df97211647.txt"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"

# A word from each post's prose that the search index must let a reader find it by.
SEARCH_WORDS = {
    "starting-opskb": "blogging",
    "vmware-consolidated-backup": "vcbMounter",
    "tcp-window-scaling-linux-2-6-17": "X4200",
}


# --- the content itself ---------------------------------------------------------------------


def test_the_three_posts_have_complete_front_matter_in_source_order():
    assert set(POSTS_BY_SLUG) == set(SLUGS_BY_AGE)
    dates = [POSTS_BY_SLUG[slug].date for slug in SLUGS_BY_AGE]
    assert dates == sorted(dates) and len(set(dates)) == 3, dates
    for post in POSTS_BY_SLUG.values():
        assert post.path.stem == post.slug
        assert post.title and post.category and len(post.tags) >= 1
        assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", tag) for tag in post.tags), post.tags


def _seed_text() -> str:
    return require_path(SEED, "the posts' source text").read_text(encoding="utf-8")


def _lines(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}


def test_tcp_post_carries_the_trace_and_workarounds_of_the_source_line_for_line():
    seed = _seed_text().splitlines()
    start = next(i for i, line in enumerate(seed) if line.startswith("root@oldlace:~# "))
    end = seed.index("", start)
    trace = seed[start:end]
    assert len(trace) == 7  # command, "listening", five packets
    fixes = [line for line in seed if line.startswith("echo ")]
    assert len(fixes) == 3
    post = _lines(POSTS / "tcp-window-scaling-linux-2-6-17.md")
    for line in trace + fixes:
        assert line.strip() in post, line
    text = (POSTS / "tcp-window-scaling-linux-2-6-17.md").read_text(encoding="utf-8")
    assert "RFC 1323" in text and "1992" in text
    assert "window 65535" in text


def test_vcb_post_carries_every_command_and_listing_line_with_the_binaries_corrected(built_site):
    seed = _seed_text()
    blocks = re.findall(r"\[code\]\n(.*?)\n\[/code\]", seed, re.S)
    assert len(blocks) == 8
    # The source's mount tool names are wrong; the post must carry the real one.
    corrected = {"vmmount.exe": "mountvm.exe", "vmount.exe": "mountvm.exe"}
    expected = []
    for block in blocks:
        for line in block.splitlines():
            first, _, rest = line.partition(" ")
            expected.append(" ".join([corrected.get(first, first), rest]).strip())
    assert sum(name.startswith(("scsi0-0-0", "vmware")) for name in expected) == 12
    path = POSTS / "vmware-consolidated-backup.md"
    # Its commands and listing are ```vcb blocks made at build time: what the page shows counts.
    page = (built_site / "posts" / "vmware-consolidated-backup" / "index.html").read_text("utf-8")
    shown = re.findall(r'data-copy="([^"]*)"|<code>([^<]*)</code>', page)
    post = _lines(path) | {html.unescape(copy or code).strip() for copy, code in shown}
    for line in expected:
        assert line in post, line
    text = path.read_text(encoding="utf-8")
    for windows_path in (
        r"C:\Program Files\VMware\VMware Consolidated Backup Framework",
        r"C:\Windows\pre-freeze-script.bat",
        r"C:\Windows\post-thaw-script.bat",
        "/usr/sbin/pre-freeze-script",
        "/usr/sbin/post-thaw-script",
    ):
        assert windows_path in text, windows_path


# --- the built site -------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS_BY_AGE)
def test_each_post_page_shows_its_title_date_category_and_tags(built_site, slug):
    post = POSTS_BY_SLUG[slug]
    page_path = post_page(built_site, slug)
    page = parse_page(page_path)
    assert post.title in words(page.title)
    assert words(post.title) in [words(h) for h in page.h1], page.h1
    long_date = f"{post.date:%d %B %Y}"
    assert any(t.startswith(post.date.isoformat()) for t in page.times) or (
        long_date in words(" ".join(page.text))
    ), f"{page_path}: no date {post.date}"
    linked = {resolve(built_site, page_path, url) for tag, _, url in page.urls if tag == "a"}
    for tag in post.tags:
        tag_page = built_site / "tags" / tag / "index.html"
        assert tag_page in linked, f"{slug} does not link its tag {tag}"
        listed = {resolve(built_site, tag_page, url) for _, _, url in parse_page(tag_page).urls}
        assert page_path in listed, f"tag page {tag} does not list {slug}"
    category = built_site / "categories" / post.category.lower() / "index.html"
    assert category in linked


def test_index_lists_the_posts_newest_first(built_site):
    index = built_site / "index.html"
    order = []
    for _, _, url in parse_page(index).urls:
        target = resolve(built_site, index, url)
        slug = target.parent.name
        if target.name == "index.html" and target.parent.parent.name == "posts":
            if slug not in order:
                order.append(slug)
    assert order == list(reversed(SLUGS_BY_AGE))


def test_index_shows_each_posts_summary(built_site):
    text = words(" ".join(parse_page(built_site / "index.html").text))
    for post in POSTS_BY_SLUG.values():
        assert words(post.summary) in text, post.slug


def test_corrections_render_as_titled_admonitions(built_site):
    for post in POSTS_BY_SLUG.values():
        page = post_page(built_site, post.slug).read_text(encoding="utf-8")
        shown = re.findall(
            r'<div class="admonition correction">\s*<p class="admonition-title">([^<]*)</p>', page
        )
        assert shown == ["Corrected from the original"] * post.corrections, post.slug
    assert POSTS_BY_SLUG["tcp-window-scaling-linux-2-6-17"].corrections >= 2
    assert POSTS_BY_SLUG["vmware-consolidated-backup"].corrections >= 3


def _linked_pages(output: Path, page: Path) -> set[Path]:
    return {resolve(output, page, url) for _, _, url in parse_page(page).urls}


def test_archives_and_listings_reach_every_post_tag_and_category(built_site):
    archives = _linked_pages(built_site, built_site / "archives" / "index.html")
    assert {post_page(built_site, slug) for slug in SLUGS_BY_AGE} <= archives
    tags = _linked_pages(built_site, built_site / "tags" / "index.html")
    categories = _linked_pages(built_site, built_site / "categories" / "index.html")
    for post in POSTS_BY_SLUG.values():
        assert {built_site / "tags" / tag / "index.html" for tag in post.tags} <= tags
        assert built_site / "categories" / post.category.lower() / "index.html" in categories
    author = built_site / "authors" / "opskb" / "index.html"
    assert {post_page(built_site, slug) for slug in SLUGS_BY_AGE} <= _linked_pages(
        built_site, author
    )


def test_pagination_reaches_every_post_newest_first(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    count, per_page = 12, 5  # DEFAULT_PAGINATION in pelicanconf.py
    for day in range(1, count + 1):
        (posts / f"day-{day:02d}.md").write_text(
            f"Title: Day {day}\nSlug: day-{day:02d}\nDate: 2006-10-{day:02d}\n"
            "Category: Meta\nTags: meta\n"
            f"Summary: Notes of day {day}.\n\nBody of day {day}.\n",
            encoding="utf-8",
        )
    output = tmp_path / "output"
    overrides = {"PATH": str(tmp_path / "content")}
    assert site.build(ROOT / "pelicanconf.py", output, overrides=overrides) == []
    page, seen, listed = output / "index.html", set(), []
    while page not in seen:
        seen.add(page)
        parsed = parse_page(page)
        on_page = []  # in the order the page lists them
        for _, _, url in parsed.urls:
            target = resolve(output, page, url)
            slug = target.parent.name
            if target.parent.parent == output / "posts" and slug not in on_page:
                on_page.append(slug)
        assert 0 < len(on_page) <= per_page, (page, on_page)
        listed += on_page
        if not parsed.next_pages:
            break
        page = resolve(output, page, parsed.next_pages[0])
    assert len(seen) == -(-count // per_page)
    assert listed == [f"day-{day:02d}" for day in range(count, 0, -1)]
    problems = link_problems(output)
    assert not problems, "\n".join(problems)


def test_atom_feed_has_one_entry_per_post(built_site):
    feed = ET.parse(built_site / "feeds" / "all.atom.xml").getroot()
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    by_title = {entry.findtext(f"{ATOM}title"): entry for entry in entries}
    for post in POSTS_BY_SLUG.values():
        entry = by_title[post.title]
        assert entry.findtext(f"{ATOM}published").startswith(post.date.isoformat())
        link = entry.find(f"{ATOM}link").get("href")
        assert site_path(link) == f"posts/{post.slug}/"


def test_sitemap_lists_every_post_and_only_pages_that_exist(built_site):
    root = ET.parse(built_site / "sitemap.xml").getroot()
    locations = [site_path(loc.text) for loc in root.iter(f"{SITEMAP}loc")]
    for slug in SLUGS_BY_AGE:
        assert f"posts/{slug}/" in locations
    for location in locations:
        assert resolve(built_site, built_site / "index.html", "/" + location).is_file(), location


def test_search_index_holds_each_post_with_its_words(built_site):
    documents = json.loads((built_site / "search.json").read_text(encoding="utf-8"))
    assert isinstance(documents, list)
    by_path = {site_path(doc["url"]): doc for doc in documents}
    for post in POSTS_BY_SLUG.values():
        doc = by_path[f"posts/{post.slug}/"]
        assert doc["title"] == post.title
        assert sorted(doc["tags"]) == sorted(post.tags)
        assert SEARCH_WORDS[post.slug] in doc["text"]
        markup = re.search(r"</?(?:p|a|span|div|pre|code|figure|h[1-6])\b[^>]*>", doc["text"])
        assert markup is None, f"markup left in the search text: {markup[0]}"


def _tree(output: Path) -> dict[Path, bytes]:
    return {p.relative_to(output): p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()}


def _build_in_subprocess(output: Path, hash_seed: str) -> None:
    """`python -m tools.site build`, with its own string hashing (set order differs per seed)."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.site", "build", "-o", str(output)],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_builds_of_the_same_content_are_byte_identical(built_site, tmp_path):
    first = _tree(built_site)
    for seed in ("1", "2"):
        output = tmp_path / f"output-{seed}"
        _build_in_subprocess(output, seed)
        again = _tree(output)
        assert sorted(again) == sorted(first)
        differing = [str(path) for path in first if first[path] != again[path]]
        assert differing == [], f"PYTHONHASHSEED={seed}"


def test_every_internal_link_and_asset_resolves_and_nothing_loads_from_elsewhere(built_site):
    problems = link_problems(built_site)
    assert not problems, "\n".join(problems)


def test_every_page_is_valid_html5(built_site):
    problems = []
    for path in html_files(built_site):
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            parser.parse(path.read_bytes())
        except html5lib.html5parser.ParseError as error:
            problems.append(f"{path.relative_to(built_site)}: {error}")
    assert not problems, "\n".join(problems)
    for xml in ("feeds/all.atom.xml", "sitemap.xml"):
        ET.parse(built_site / xml)  # well-formed, or ParseError names the line


def test_publish_build_uses_the_site_url_everywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    siteurl = "https://kb.test.invalid/ops"
    monkeypatch.setenv("OPSKB_SITEURL", siteurl)
    output = tmp_path / "output"
    assert site.build(ROOT / "publishconf.py", output) == []
    feed = ET.parse(output / "feeds" / "all.atom.xml").getroot()
    links = [entry.find(f"{ATOM}link").get("href") for entry in feed.iter(f"{ATOM}entry")]
    assert sorted(links) == sorted(f"{siteurl}/posts/{slug}/" for slug in SLUGS_BY_AGE)
    sitemap = ET.parse(output / "sitemap.xml").getroot()
    locations = [loc.text for loc in sitemap.iter(f"{SITEMAP}loc")]
    assert locations and all(loc.startswith(f"{siteurl}/") for loc in locations), locations
    problems = []
    for path in html_files(output):
        for tag, _, url in parse_page(path).urls:
            if url.startswith(f"{siteurl}/"):
                target = resolve(output, path, "/" + url.removeprefix(f"{siteurl}/"))
                if not target.is_file():
                    problems.append(f"{path.relative_to(output)}: {url} points at nothing")
            elif re.match(r"https?://(localhost|127\.)", url):
                problems.append(f"{path.relative_to(output)}: <{tag}> points at {url}")
    assert not problems, "\n".join(problems)


# --- failures -------------------------------------------------------------------------------
