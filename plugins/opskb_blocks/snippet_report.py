"""The snippet report page (snippets/index.html) and the build's count of unchecked blocks."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

URL = "snippets/"
SAVE_AS = URL + "index.html"
TEMPLATE = "snippets"


def announce_report(pelican) -> None:
    """Tell the templates where the report is (OPSKB_SNIPPET_REPORT_URL), for a footer link."""
    pelican.settings["OPSKB_SNIPPET_REPORT_URL"] = URL


def snippet_rows(articles) -> list[dict]:
    """The snippet records of the articles, with their post's title and URL, in post order."""
    rows = []
    for article in articles:
        records = [record for record in article.metadata.get("blocks", ()) if "verdict" in record]
        if records:  # Pelican computes a URL on every read: once per post, not per block
            title, url = article.title, article.url
            rows += [{**record, "title": title, "url": url} for record in records]
    return sorted(rows, key=lambda row: (str(row.get("post", "")), row.get("line", 0)))


def write_report(generator, writer) -> None:
    """Write the report page and log how many blocks went unchecked."""
    rows = snippet_rows(generator.articles)
    context = {**generator.context, "snippets": rows, "output_file": SAVE_AS}
    writer.write_file(
        SAVE_AS,
        generator.get_template(TEMPLATE),
        context,
        relative_urls=generator.settings["RELATIVE_URLS"],
        template_name=TEMPLATE,
        url=URL,
    )
    unchecked = [row for row in rows if row["verdict"] == "unchecked"]
    log = logger.warning if unchecked else logger.info
    log(
        "snippets: %d of %d code blocks unchecked, each with its reason (see %s)",
        len(unchecked),
        len(rows),
        SAVE_AS,
    )
