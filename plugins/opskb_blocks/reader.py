"""A Markdown reader whose converter renders opskb's fenced blocks with file and line."""

from __future__ import annotations

import logging

from markdown import Markdown
from markdown.extensions.meta import MetaPreprocessor
from pelican.readers import MarkdownReader
from pelican.utils import pelican_open

from tools.site import search_index, toc

from .fences import BlockError, FencedBlocks

logger = logging.getLogger(__name__)


# Where Python-Markdown's `meta` extension registers its preprocessor (markdown/extensions/meta.py).
META_PRIORITY = 27


class OpskbMarkdownReader(MarkdownReader):
    """Pelican's Markdown reader, plus the post's fenced blocks rendered by opskb's tools.

    Pelican builds a Markdown converter per post; this reader builds one and resets it
    between posts (Python-Markdown's documented way to convert many texts), which a
    thousand-post build notices.
    """

    _converter: tuple[Markdown, FencedBlocks] | None = None

    def converter(self, source_path: str) -> tuple[Markdown, FencedBlocks]:
        """The reader's Markdown converter, reset and pointed at the post in `source_path`."""
        if self._converter is None:
            blocks = FencedBlocks(source_path=source_path, settings=self.settings)
            markdown_settings = dict(self.settings["MARKDOWN"])
            markdown_settings["extensions"] = [*markdown_settings["extensions"], blocks]
            self._converter = Markdown(**markdown_settings), blocks
        md, blocks = self._converter
        # Pelican's _parse_metadata removes the front-matter reader before it renders the
        # summary; the next post needs it back, in its place.
        if "meta" not in md.preprocessors:
            md.preprocessors.register(MetaPreprocessor(md), "meta", META_PRIORITY)
        md.reset()
        blocks.start(source_path)
        return md, blocks

    def read(self, source_path):
        self._source_path = source_path
        self._md, blocks = self.converter(source_path)
        with pelican_open(source_path) as text:
            try:
                content = self._md.convert(text)
            except BlockError as error:
                # Log the one line that names file and line; Pelican then skips the post.
                logger.error("%s", error)
                raise
        metadata = self._parse_metadata(self._md.Meta) if hasattr(self._md, "Meta") else {}
        # Every block's record (language, line, verdict) travels with the article,
        # for the snippet report page and the build's summary.
        metadata["blocks"] = list(blocks.records)
        # The post's searchable words and headings, worked out once here so that Pelican's
        # reader cache keeps them: an unchanged post costs nothing for them on a rebuild.
        metadata["search_text"] = search_index.plain_text(content)
        metadata["toc_headings"] = toc.headings(content)
        return content, metadata
