"""Render a ```pcap block: a capture (or a tcpdump trace) annotated packet by packet, diagnosed.

Thin adapter: `tools.pcap_annotate.block.run_block` reads the options, annotates and diagnoses
with the same code as `python -m tools.pcap_annotate`; this module places the result,
escaped, in `<figure class="tool-block tool-pcap">`: the trace as printed (if inline),
the table, the diagnoses and the commands that print the same.
"""

from __future__ import annotations

from html import escape

from pygments import highlight
from pygments.formatters import HtmlFormatter

from tools.pcap_annotate.block import HEADINGS, run_block
from tools.pcap_annotate.lexer import lexer_by_name

FORMATTER = HtmlFormatter(cssclass="highlight")


def _table(rows) -> str:
    head = "".join(f'<th scope="col">{escape(heading)}</th>' for heading in HEADINGS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        '<div class="pcap-table"><table class="pcap-annotated">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _advice(diagnosis) -> str:
    advice = f'<p class="pcap-advice">{escape(diagnosis.advice)}</p>' if diagnosis.advice else ""
    if diagnosis.workarounds:
        advice += (
            '<ul class="pcap-workarounds">'
            + "".join(
                f"<li><code>{escape(command)}</code>: {escape(effect)}</li>"
                for command, effect in diagnosis.workarounds
            )
            + "</ul>"
        )
    return advice


def _diagnoses(result) -> str:
    if not result.diagnoses:
        return '<p class="pcap-none">No window finding in this capture.</p>'
    items, shown = [], set()
    for connection, diagnosis in result.diagnoses:
        frames = ", ".join(str(frame) for frame in diagnosis.frames)
        # Two findings with the same remedy (say, inferred and proven): say it once.
        remedy = (diagnosis.advice, diagnosis.workarounds)
        advice = (
            '<p class="pcap-advice">What to do: as above.</p>'
            if remedy in shown
            else _advice(diagnosis)
        )
        shown.add(remedy)
        items.append(
            f'<li class="pcap-diagnosis" data-severity="{escape(diagnosis.severity)}"'
            f' data-code="{escape(diagnosis.code)}">'
            f"<p><strong>{escape(diagnosis.severity)}: {escape(diagnosis.code)}</strong>"
            f" (connection {connection}, frames {escape(frames)}) {escape(diagnosis.message)}</p>"
            f"{advice}</li>"
        )
    return f'<ul class="pcap-diagnoses">{"".join(items)}</ul>'


def render(block, context) -> str:
    result = run_block(block.path, block.source, block.options)
    context.record(block, "tools.pcap_annotate", result.command.splitlines()[-1])
    trace = ""
    if result.trace:
        lexer = lexer_by_name("console-with-trace")
        trace = f'<div class="pcap-trace">{highlight(result.trace, lexer, FORMATTER)}</div>'

    connections = "".join(f"<li>{escape(text)}</li>" for text in result.connections)
    return (
        '<figure class="tool-block tool-pcap">'
        f'<figcaption class="snippet-badge">annotated: {escape(result.caption)}</figcaption>'
        f"{trace}"
        f'<ul class="pcap-connections">{connections}</ul>'
        f"{_table(result.rows)}"
        f"{_diagnoses(result)}"
        f'<pre class="pcap-command" data-copy="{escape(result.command)}">'
        f"<code>{escape(result.shown_command)}</code></pre>"
        "</figure>"
    )
