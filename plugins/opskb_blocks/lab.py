"""Render a ```lab block: the window-scale lab's measured table, read from its results file.

Thin adapter: `tools.wscale_lab.results.block_table` reads and checks the JSON that `make lab`
writes; this module places the escaped table and the command that remakes it.
"""

from __future__ import annotations

from html import escape

from tools.wscale_lab.results import block_table


def render(block, context) -> str:
    result = block_table(block.path, block.options, block.source)
    context.record(block, "tools.wscale_lab", result.command, needs_root=True)
    head = "".join(f'<th scope="col">{escape(heading)}</th>' for heading in result.headings)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in result.rows
    )
    command = escape(result.command)
    return (
        '<figure class="tool-block tool-lab">'
        f'<figcaption class="snippet-badge">measured: {escape(result.caption)}</figcaption>'
        f'<div class="lab-table"><table class="lab-results"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
        f'<pre class="lab-command" data-copy="{command}" data-needs-root>'
        f"<code>$ {command}</code></pre>"
        "</figure>"
    )
