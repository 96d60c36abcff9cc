"""Render a ```vcb block: a command built and checked by the VCB model, or its reference.

Thin adapter: `tools.vcb.block.run_block` reads the body and does the work with the same
code as `python -m tools.vcb`; this module places the result, escaped. A built command
goes in the snippet contract (`<figure class="snippet" ... data-copy>` with the badge
"checked: VCB model"); a known-bad command is shown flagged, with no copy text; tool
output (reference, listing, catalog) goes in `<figure class="tool-block tool-vcb">`.
"""

from __future__ import annotations

from html import escape

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from tools.vcb.block import BlockResult, run_block
from tools.vcb.reference import command_of, html_section

LEXERS = {"cmd": "batch", "sh": "bash"}
BADGE = "checked: VCB model"


def _highlighted(shell: str, text: str) -> str:
    return highlight(text, get_lexer_by_name(LEXERS[shell]), HtmlFormatter(cssclass="highlight"))


def _notes(result: BlockResult) -> str:
    return "".join(
        f'<p class="snippet-note">{escape(problem.severity)}: {escape(problem.code)}: '
        f"{escape(problem.message)} (fix: {escape(problem.fix)})</p>"
        for problem in result.problems
    )


def _reproduce(result: BlockResult) -> str:
    command = escape(result.reproduce)
    return f'<pre class="vcb-command" data-copy="{command}"><code>$ {command}</code></pre>'


def _snippet(
    shell: str, text: str, verdict: str, badge: str, extra: str = "", flags: str = ""
) -> str:
    """The opening of a snippet figure up to its code; the caller adds notes and closes it."""
    return (
        f'<figure class="snippet" data-lang="{escape(shell)}" data-verdict="{verdict}"{extra}'
        f' data-copy="{escape(text)}">'
        f'<figcaption class="snippet-badge">{escape(badge)}</figcaption>'
        f"{flags}{_highlighted(shell, text)}"
    )


def _command(result: BlockResult) -> str:
    verdict = "warning" if result.problems else "ok"
    extra = " data-destructive" if result.destructive else ""
    caption = f'<p class="vcb-caption">{escape(result.caption)}</p>' if result.caption else ""
    flags = (
        '<p class="snippet-flags"><span class="snippet-flag" data-destructive>'
        "destructive: replaces the VM it restores</span></p>"
        if result.destructive
        else ""
    )
    return _snippet(result.shell, result.command_line, verdict, BADGE, extra, flags) + (
        _notes(result) + caption + "</figure>"
    )


def _lint(result: BlockResult) -> str:
    verdict = "error" if any(p.severity == "error" for p in result.problems) else "warning"
    caption = escape(result.caption or "As published, and what the VCB model finds wrong")
    return (
        f'<figure class="tool-block tool-vcb vcb-flagged" data-verdict="{verdict}">'
        f'<figcaption class="snippet-badge">flagged by the VCB model: do not copy</figcaption>'
        f'<p class="vcb-caption">{caption}</p>'
        f'<div class="highlight"><pre><code><del>{escape(result.command_line)}</del>'
        f"</code></pre></div>{_notes(result)}{_reproduce(result)}</figure>"
    )


def _reference(result: BlockResult) -> str:
    return (
        '<figure class="tool-block tool-vcb">'
        f"{html_section(command_of(result.reference))}{_reproduce(result)}</figure>"
    )


def _listing(result: BlockResult) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(what)}</td></tr>"
        for name, what in result.files
    )
    return (
        '<figure class="tool-block tool-vcb">'
        '<table class="vcb-listing"><thead><tr><th scope="col">File</th>'
        f'<th scope="col">What it is</th></tr></thead><tbody>{rows}</tbody></table></figure>'
    )


def _freeze(result: BlockResult) -> str:
    parts = []
    for script in result.scripts:
        text = script.text.rstrip("\n")
        parts.append(
            _snippet(script.shell, text, "ok", "generated: VCB model")
            + f'<p class="vcb-caption">{escape(script.path)}</p></figure>'
        )
    return (
        f'<div class="tool-block tool-vcb vcb-scripts">{"".join(parts)}{_reproduce(result)}</div>'
    )


def _catalog(result: BlockResult) -> str:
    changes = "".join(f"<li>{escape(change)}</li>" for change in result.changes)
    text = result.catalog.rstrip("\n")
    return (
        '<figure class="tool-block tool-vcb">'
        '<figcaption class="snippet-badge">edited by the VCB model</figcaption>'
        f'<div class="highlight"><pre data-copy="{escape(text)}"><code>{escape(text)}</code>'
        f'</pre></div><ul class="vcb-changes">{changes}</ul>{_reproduce(result)}</figure>'
    )


PLACERS = {
    "command": _command,
    "lint": _lint,
    "reference": _reference,
    "listing": _listing,
    "freeze": _freeze,
    "catalog-edit": _catalog,
}


def render(block, context) -> str:
    result = run_block(block.options, block.source)
    # A flagged example is an error shown on purpose: the report lists it as one.
    verdict = {"command": "warning" if result.problems else "ok", "lint": "error"}
    problems = "; ".join(f"{p.code}: {p.message}" for p in result.problems)
    context.record(
        block,
        "VCB model",
        problems or result.command_line or result.reproduce,
        verdict=verdict.get(result.mode, "ok"),
        destructive=result.destructive,
    )
    return PLACERS[result.mode](result)
