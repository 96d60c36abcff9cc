"""opskb's fenced blocks: tool blocks (wscale, pcap, vcb) and checked code snippets.

Each post is read by `OpskbMarkdownReader`, which gives the Markdown converter a
`FencedBlocks` extension that knows the post's file, so every block can name its
file and line in an error. The blocks' renderers are listed in `fences.RENDERERS`.
"""

from pelican import signals

from . import snippet, wscale
from .content_cache import atomic_cache_writes, key_content_cache
from .reader import OpskbMarkdownReader
from .snippet_report import announce_report, write_report


def use_opskb_reader(readers):
    """Read Markdown with opskb's reader, which renders the fenced blocks."""
    for extension in OpskbMarkdownReader.file_extensions:
        readers.reader_classes[extension] = OpskbMarkdownReader


def register():
    # initialized: settings are final and no generator has read CACHE_PATH yet.
    signals.initialized.connect(key_content_cache)
    signals.initialized.connect(announce_report)
    # readers_init: the reader table exists but no file has been read yet.
    signals.readers_init.connect(use_opskb_reader)
    # generator_init: a generator's reader cache is loaded, not yet saved; saves become atomic.
    signals.generator_init.connect(atomic_cache_writes)
    # readers_init comes before any post is read, finalized after the build: a fresh verdict
    # cache (and fresh hashes of the checkers' code) for every build, written at its end.
    signals.readers_init.connect(snippet.start_build)
    signals.finalized.connect(snippet.end_build)
    # finalized: the theme's static files are in place; the calculator's era table joins them.
    signals.finalized.connect(wscale.write_eras)
    # article_writer_finalized: every post has been read, so every block's record is known.
    signals.article_writer_finalized.connect(write_report)
