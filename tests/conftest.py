"""Shared fixtures: the tool requirement that fails in CI, the built site, a server, a browser."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socketserver
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """Return the tool's path; skip locally when it is missing, fail in CI (CI=true)."""
    path = shutil.which(name) or (
        name if os.path.isabs(name) and os.access(name, os.X_OK) else None
    )
    if path:
        return path
    message = f"{name} is not installed (.ci/run installs it)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_path(path: Path, what: str) -> Path:
    """Like require_tool, for a file the tests need (e.g. the shared captures)."""
    if path.exists():
        return path
    message = f"{what} is missing: {path}"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The real content built with pelicanconf.py into a temporary directory."""
    from tools.site import build

    output = tmp_path_factory.mktemp("site") / "output"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        errors = build(ROOT / "pelicanconf.py", output)
    finally:
        os.chdir(cwd)
    assert errors == [], errors
    return output


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def serve_dir():
    """Serve a directory on a free loopback port; returns a function dir -> base URL."""
    servers = []

    def serve(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (fails in CI when missing)."""
    require_tool(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(browser):
    """A fresh page (own context, clipboard allowed) in the shared browser."""
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    yield page
    context.close()
