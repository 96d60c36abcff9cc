"""A Markdown reader whose converter renders opskb's fenced blocks with file and line."""

from __future__ import annotations

import logging

from markdown import Markdown
from pelican.readers import MarkdownReader
from pelican.utils import pelican_open

from tools.site import search_index, toc

from .fences import BlockError, FencedBlocks

logger = logging.getLogger(__name__)


class OpskbMarkdownReader(MarkdownReader):
    """Pelican's Markdown reader, plus the post's fenced blocks rendered by opskb's tools."""

    def read(self, source_path):
        self._source_path = source_path
        blocks = FencedBlocks(source_path=source_path, settings=self.settings)
        markdown_settings = dict(self.settings["MARKDOWN"])
        markdown_settings["extensions"] = [*markdown_settings["extensions"], blocks]
        self._md = Markdown(**markdown_settings)
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
