"""Pelican settings for the published site: absolute URLs and feeds with a domain."""

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402,F403

SITEURL = os.environ.get("OPSKB_SITEURL", "https://opskb.example.org")
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL
DELETE_OUTPUT_DIRECTORY = True
