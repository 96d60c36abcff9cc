"""opskb's site features: table of contents, post neighbours, search index, sitemap.

Thin adapter: each handler gathers what Pelican knows and calls a pure function
in tools/ (toc, related, search_index, sitemap). A post's search text and headings
come with it from the opskb reader (plugins/opskb_blocks/reader.py), which works them
out once so that Pelican's reader cache keeps them; nothing else is kept between builds.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator

from tools.site import related, search_index, sitemap, toc

logger = logging.getLogger(__name__)

DEFAULTS = {
    "OPSKB_TOC_MIN_HEADINGS": toc.MIN_HEADINGS,
    "OPSKB_RELATED_LIMIT": related.RELATED_LIMIT,
    "OPSKB_SEARCH_INDEX": "search.json",
    "OPSKB_SITEMAP": "sitemap.xml",
}


def setting(settings, key):
    return settings.get(key, DEFAULTS[key])


def add_defaults(pelican) -> None:
    """Put the plugin's defaults into the settings, where the templates read them too."""
    for key, value in DEFAULTS.items():
        pelican.settings.setdefault(key, value)


def tag_names(content) -> tuple[str, ...]:
    return tuple(tag.name for tag in getattr(content, "tags", ()))


def body_html(content) -> str:
    """The rendered body before Pelican rewrites its {filename} links: the same headings and
    words, without the rewrite Pelican performs again on every read of `content`."""
    return content._content or ""


def add_toc(content, settings) -> None:
    # The opskb reader found the headings when it read the post (kept in its cache).
    entries = getattr(content, "toc_headings", None)
    if entries is None:
        entries = toc.headings(body_html(content))
    content.toc = toc.contents_of(entries, setting(settings, "OPSKB_TOC_MIN_HEADINGS"))


def pin_urls(contents) -> None:
    """Work out each post's URL and output path once, through Pelican's own override.

    Pelican formats them from the metadata on every access (a copy of the metadata and two
    path resolutions); the theme asks for them a dozen times per post. Once the generator
    is finalized a post's slug, date, category and language no longer change.
    """
    for content in contents:
        content.override_url = content.url
        content.override_save_as = content.save_as


def annotate_articles(generator: ArticlesGenerator) -> None:
    """Give every post its table of contents, older/newer neighbours and related posts."""
    pin_urls([*generator.articles, *generator.translations, *generator.drafts,
              *generator.drafts_translations, *generator.hidden_articles,
              *generator.hidden_translations])  # fmt: skip
    articles = {article.url: article for article in generator.articles}
    refs = [
        related.PostRef(url, article.date.isoformat(), tag_names(article))
        for url, article in articles.items()
    ]
    table = related.neighbours(refs, setting(generator.settings, "OPSKB_RELATED_LIMIT"))
    for url, article in articles.items():
        entry = table[url]
        add_toc(article, generator.settings)
        article.previous_post = articles.get(entry.previous)
        article.next_post = articles.get(entry.next)
        article.related_posts = [articles[key] for key in entry.related]


def annotate_pages(generator: PagesGenerator) -> None:
    pin_urls([*generator.pages, *generator.translations, *generator.hidden_pages,
              *generator.hidden_translations, *generator.draft_pages,
              *generator.draft_translations])  # fmt: skip
    for page in generator.pages:
        add_toc(page, generator.settings)


def write_indexes(generators) -> None:
    """Write search.json and sitemap.xml once every post, page, tag and category is known."""
    articles_gen = next(g for g in generators if isinstance(g, ArticlesGenerator))
    pages_gen = next(g for g in generators if isinstance(g, PagesGenerator))
    settings = articles_gen.settings
    output = Path(articles_gen.output_path)
    contents = [*articles_gen.articles, *pages_gen.pages]

    records = [
        search_index.SearchRecord(
            url=item.url,
            title=item.title,
            tags=tag_names(item),
            summary=getattr(item, "summary", ""),
            content=body_html(item),
            text=getattr(item, "search_text", None),  # the opskb reader's, when it read it
        )
        for item in contents
    ]
    write(
        output / setting(settings, "OPSKB_SEARCH_INDEX"),
        search_index.dumps(search_index.documents(records)),
    )

    entries = [
        sitemap.SitemapEntry(item.url, item.date.date().isoformat())
        for item in contents
        if hasattr(item, "date")
    ]
    entries += [sitemap.SitemapEntry(item.url) for item in contents if not hasattr(item, "date")]
    entries += [sitemap.SitemapEntry(tag.url) for tag, _ in articles_gen.tags.items()]
    entries += [sitemap.SitemapEntry(cat.url) for cat, _ in articles_gen.categories]
    entries += [sitemap.SitemapEntry(author.url) for author, _ in articles_gen.authors]
    entries += [sitemap.SitemapEntry(listing) for listing in listings(settings)]
    write(
        output / setting(settings, "OPSKB_SITEMAP"),
        sitemap.sitemap_xml(entries, settings.get("SITEURL", "")),
    )


def listings(settings) -> list[str]:
    """The URLs of the direct templates a reader browses (home, archives, tags, ...)."""
    urls = []
    for template in settings["DIRECT_TEMPLATES"]:
        if template == "404":
            continue
        if template == "index":
            urls.append("")
            continue
        url = settings.get(f"{template.upper()}_URL") or settings.get(f"{template.upper()}_SAVE_AS")
        if url:
            urls.append(url.removesuffix("index.html"))
    return urls


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    logger.debug("wrote %s", path)


def register():
    # initialized: settings are read and the templates' context is not yet built.
    signals.initialized.connect(add_defaults)
    # article_generator_finalized: every post is read and dated, none is written yet.
    signals.article_generator_finalized.connect(annotate_articles)
    signals.page_generator_finalized.connect(annotate_pages)
    # all_generators_finalized: tags, categories, authors and pages all exist.
    signals.all_generators_finalized.connect(write_indexes)
