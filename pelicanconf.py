"""Pelican settings for opskb (development build; publishconf.py extends them)."""

AUTHOR = "opskb"
SITENAME = "opskb"
SITESUBTITLE = "Operations notes whose numbers are computed and whose commands are checked"
SITEURL = ""

PATH = "content"
ARTICLE_PATHS = ["posts"]
PAGE_PATHS = ["pages"]
STATIC_PATHS = []
THEME = "theme"

TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_DATE_FORMAT = "%d %B %Y"
DEFAULT_PAGINATION = 5

# Same input, same bytes: no build timestamps, stable ordering.
DELETE_OUTPUT_DIRECTORY = True
# Pelican's reader cache: a post whose file is unchanged is not rendered again. The opskb
# plugin files it under a digest of opskb's code, pins, settings and the captures beside the
# posts (a change there starts afresh) and saves it atomically; a cached build gives the same
# bytes as a fresh one. `python -m tools.site build` keeps it beside the output directory.
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CONTENT_CACHING_LAYER = "reader"
CACHE_PATH = ".cache/pelican"
CHECK_MODIFIED_METHOD = "sha256"  # a post's bytes, not its mtime (a checkout restores old ones)
GZIP_CACHE = False  # compressing a thousand posts' HTML costs more than the disk it saves

PLUGIN_PATHS = ["plugins"]
PLUGINS = ["opskb_blocks", "opskb_site"]

# Feeds: one Atom feed for the site; no per-category or per-author feeds.
# A development build's feed links to the address `make serve`/`make devserver` use;
# publishconf.py sets the real domain.
FEED_DOMAIN = "http://127.0.0.1:8000"
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None

ARTICLE_URL = "posts/{slug}/"
ARTICLE_SAVE_AS = "posts/{slug}/index.html"
TAG_URL = "tags/{slug}/"
TAG_SAVE_AS = "tags/{slug}/index.html"
CATEGORY_URL = "categories/{slug}/"
CATEGORY_SAVE_AS = "categories/{slug}/index.html"
AUTHOR_URL = "authors/{slug}/"
AUTHOR_SAVE_AS = "authors/{slug}/index.html"
ARCHIVES_SAVE_AS = "archives/index.html"
TAGS_SAVE_AS = "tags/index.html"
CATEGORIES_SAVE_AS = "categories/index.html"
AUTHORS_SAVE_AS = "authors/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"

RELATIVE_URLS = True
# Directory URLs for the pages after the first: page/2/, tags/x/page/2/.
PAGINATION_PATTERNS = [
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/page/{number}/", "{base_name}/page/{number}/index.html"),
]

# Theme: templates escape every value unless marked safe (post bodies are, being rendered HTML).
JINJA_ENVIRONMENT = {"trim_blocks": True, "lstrip_blocks": True, "autoescape": True}
DIRECT_TEMPLATES = ["index", "tags", "categories", "authors", "archives", "search", "404"]
SEARCH_URL = "search/"
SEARCH_SAVE_AS = "search/index.html"
# Every page links these files of theme/static, in order. A block type appends its own
# file here (e.g. "css/wscale.css", "js/wscale.js"); scripts load with `defer`.
THEME_CSS = [
    "css/site.css",
    "css/pygments-light.css",
    "css/pygments-dark.css",
    "css/wscale.css",
    "css/vcb.css",
    "css/pcap.css",
]
# js/wscale-eras.js is written by the build (the window-scaling calculator's kernel table).
THEME_JS = ["js/theme.js", "js/copy.js", "js/wscale-eras.js", "js/wscale.js"]
# `python -m tools.site devserver` turns this on: pages then load js/livereload.js.
OPSKB_LIVE_RELOAD = False

# Pelican's default Markdown settings, plus admonitions (posts mark corrections with
# `!!! correction "Corrected from the original"`) and heading anchors for the table of contents.
MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.codehilite": {"css_class": "highlight"},
        "markdown.extensions.extra": {},
        "markdown.extensions.meta": {},
        "markdown.extensions.admonition": {},
        "markdown.extensions.toc": {"permalink": True},
    },
    "output_format": "html5",
}
