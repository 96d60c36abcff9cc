"""The snippet report page (snippets/index.html) and the build's count of unchecked blocks."""

from __future__ import annotations

import logging
from itertools import groupby

from markupsafe import Markup, escape

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


VERDICTS = ("ok", "warning", "error", "unchecked")  # the order the totals line gives them in
ROW = (
    '      <tr class="verdict-{verdict}">\n'
    "        <td>{line}</td>\n"
    "        <td>{language}</td>\n"
    "        <td>{checker}</td>\n"
    '        <td class="snippet-verdict" data-verdict="{verdict}">{verdict}{marks}</td>\n'
    "        <td>{message}</td>\n"
    "      </tr>\n"
)


def row_html(row: dict) -> str:
    """One table row, every value escaped: formatted here once, not by the template per cell."""
    marks = (" · needs root" if row.get("needs_root") else "") + (
        " · destructive" if row.get("destructive") else ""
    )
    return ROW.format(
        verdict=escape(row["verdict"]),
        line=escape(row.get("line", "")),
        language=escape(row.get("language") or "plain"),
        checker=escape(row.get("checker", "")),
        marks=marks,
        message=escape(row.get("message", "")),
    )


def report_sections(rows: list[dict]) -> list[dict]:
    """The report's posts, in row order: path, title (tags stripped), URL and table rows."""
    sections = []
    for post, group in groupby(rows, key=lambda row: row.get("post")):
        group = list(group)
        sections.append(
            {
                "post": post,
                "title": Markup(str(group[0]["title"])).striptags(),
                "url": group[0]["url"],
                "rows": Markup("".join(row_html(row) for row in group)),
            }
        )
    return sections


def write_report(generator, writer) -> None:
    """Write the report page and log how many blocks went unchecked."""
    rows = snippet_rows(generator.articles)
    counts = [(verdict, sum(row["verdict"] == verdict for row in rows)) for verdict in VERDICTS]
    context = {
        **generator.context,
        "snippets": rows,
        "snippet_counts": counts,
        "snippet_sections": report_sections(rows),
        "output_file": SAVE_AS,
    }
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
