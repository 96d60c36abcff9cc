"""Find fenced blocks with their line in the file, render each through its tool.

Modelled on Python-Markdown's `fenced_code` preprocessor, with two differences:
it runs before the `meta` extension strips the front matter, so a block's line is
its line in the file; and a block's language selects a renderer from `RENDERERS`
(tool blocks) or falls back to the checked-snippet renderer. Finished HTML goes
through the HTML stash so that later Markdown stages leave it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

from tools.snippets import report_row
from tools.snippets.fences import FenceError, find_fences, parse_info  # noqa: F401 - parse_info re-exported

from . import lab, pcap, snippet, vcb, wscale


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block of a post: its info string split up, its body, and where it stands."""

    language: str
    options: dict[str, str]
    source: str
    path: Path
    line: int  # 1-based line of the opening fence in the file


class BlockError(ValueError):
    """A block that cannot be rendered; the message starts with `file:line:`."""


@dataclass(slots=True)
class RenderContext:
    """What a renderer may use besides the block: settings and the list of block records."""

    settings: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    def record(self, block: Block, checker: str, message: str, *, verdict: str = "ok",
               needs_root: bool = False, destructive: bool = False) -> None:  # fmt: skip
        """Add a tool block's row to the snippet report."""
        self.records.append(
            report_row(
                str(block.path),
                block.line,
                block.language,
                checker,
                verdict,
                message,
                needs_root=needs_root,
                destructive=destructive,
            )  # fmt: skip
        )


Renderer = Callable[[Block, RenderContext], str]

# Tool blocks by language; any other language is a code snippet.
RENDERERS: dict[str, Renderer] = {
    "lab": lab.render,
    "pcap": pcap.render,
    "vcb": vcb.render,
    "wscale": wscale.render,
}


def render_block(block: Block, context: RenderContext) -> str:
    renderer = RENDERERS.get(block.language, snippet.render)
    try:
        return renderer(block, context)
    except BlockError:
        raise
    except ValueError as error:
        # A tool's error may say which line of the block's body it is about.
        line = block.line + getattr(error, "line", 0)
        where = f"{block.path}:{line}"
        raise BlockError(f"{where}: {block.language or 'code'} block: {error}") from error


def display_path(path: str) -> str:
    """A post's path as a user wrote it: relative to the working directory when below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


class FencedBlocksPreprocessor(Preprocessor):
    def __init__(self, md, extension: FencedBlocks):
        super().__init__(md)
        self.extension = extension

    def run(self, lines: list[str]) -> list[str]:
        try:
            fences = find_fences(lines)
        except FenceError as error:
            raise BlockError(f"{self.extension.display_path}:{error.line}: {error}") from error
        output: list[str] = []
        done = 0  # index of the first line not yet copied or rendered
        for fence in fences:
            block = Block(
                language=fence.language,
                options=fence.options,
                source=fence.source,
                path=Path(self.extension.display_path),
                line=fence.line,
            )
            html = render_block(block, self.extension.context)
            output += [*lines[done : fence.line - 1], "", self.md.htmlStash.store(html), ""]
            done = fence.end
        return output + lines[done:]


class FencedBlocks(Extension):
    """The extension of the post being converted: knows its file and collects its blocks' records.

    One converter serves many posts: `start()` points it at the next post's file.
    """

    def __init__(self, source_path: str, settings: dict[str, Any]):
        super().__init__()
        self.settings = settings
        self.start(source_path)

    def start(self, source_path: str) -> None:
        """Convert the post at `source_path` next: its own path, no records yet."""
        self.source_path = source_path
        self.display_path = display_path(source_path)
        self.context = RenderContext(settings=self.settings)

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.context.records

    def extendMarkdown(self, md):  # noqa: N802 - Python-Markdown's name
        # Priority 28: after whitespace normalisation (30), before `meta` (27) strips
        # the front matter and before `fenced_code` (25) would take the blocks.
        md.preprocessors.register(FencedBlocksPreprocessor(md, self), "opskb_fenced_blocks", 28)
