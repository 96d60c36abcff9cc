"""`python -m tools.site devserver`: serves, rebuilds on a change, tells pages to reload."""

from __future__ import annotations

import http.client
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tools.site import devserver

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 90  # seconds for any one step; a rebuild of one post takes about one

POST = """Title: Live reload check
Date: 2006-07-20 10:00
Category: Meta
Tags: meta
Summary: A post the devserver test edits.

First version of the text.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of opskb's code and theme with a single small post."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("tools", "plugins", "theme"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=ignore)
    shutil.copy(ROOT / "pelicanconf.py", tmp_path)
    (tmp_path / "content" / "posts").mkdir(parents=True)
    (tmp_path / "content" / "posts" / "live.md").write_text(POST, encoding="utf-8")
    return tmp_path


def lines_of(stream) -> queue.Queue:
    """The stream's lines, read by a thread so that waiting on them can time out."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue, pattern: str, seen: list[str]) -> re.Match:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=end - time.monotonic())
        except queue.Empty:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    pytest.fail(f"no line matching {pattern!r} within {DEADLINE}s; got:\n{''.join(seen)}")


@pytest.fixture
def running(project: Path):
    """`python -m tools.site devserver --port 0` in the project copy; yields (host, port)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tools.site", "devserver", "--port", "0", "-o", "output"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        address = wait_for_line(lines_of(server.stdout), r"at http://(127\.0\.0\.1):(\d+)/", [])
        yield address[1], int(address[2])
    finally:
        server.send_signal(signal.SIGINT)  # as Ctrl-C does
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_devserver_serves_rebuilds_and_announces_the_reload(project: Path, running):
    host, port = running
    base = f"http://{host}:{port}"

    page = urllib.request.urlopen(f"{base}/posts/live-reload-check/", timeout=DEADLINE)
    html = page.read().decode()
    assert "First version of the text." in html
    assert "js/livereload.js" in html  # devserver builds load the reload script
    assert page.headers["Cache-Control"] == "no-store"

    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/no/such/page/", timeout=DEADLINE)
    assert missing.value.code == 404
    assert "Page not found" in missing.value.read().decode()

    events = http.client.HTTPConnection(host, port, timeout=DEADLINE)
    events.request("GET", devserver.RELOAD_PATH)
    stream = events.getresponse()
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.readline() == b"retry: 1000\n"

    post = project / "content" / "posts" / "live.md"
    post.write_text(POST.replace("First version", "Second version"), encoding="utf-8")

    end = time.monotonic() + DEADLINE
    received = []
    while time.monotonic() < end:
        line = stream.readline()
        received.append(line)
        if line == b"event: reload\n":
            break
    else:
        pytest.fail(f"no reload event within {DEADLINE}s: {received}")
    assert stream.readline().startswith(b"data: ")
    events.close()

    html = urllib.request.urlopen(f"{base}/posts/live-reload-check/", timeout=30).read()
    assert "Second version of the text." in html.decode()


@pytest.mark.browser
def test_an_open_page_reloads_itself_after_a_rebuild(project: Path, running, browser):
    host, port = running
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://{host}:{port}/posts/live-reload-check/")
        assert "First version" in page.locator("main").inner_text()
        page.wait_for_timeout(500)  # let the page open its event stream
        post = project / "content" / "posts" / "live.md"
        with page.expect_event("load", timeout=DEADLINE * 1000):
            post.write_text(POST.replace("First version", "Third version"), encoding="utf-8")
        assert "Third version" in page.locator("main").inner_text()
    finally:
        context.close()


def test_a_normal_build_does_not_load_the_reload_script(built_site: Path):
    html = (built_site / "index.html").read_text(encoding="utf-8")
    assert "livereload.js" not in html


def test_devserver_refuses_a_directory_with_nothing_to_watch(tmp_path, capsys):
    config = devserver.DevServerConfig(Path("pelicanconf.py"), tmp_path / "out", root=tmp_path)
    with pytest.raises(devserver.DevServerError, match="none of"):
        devserver.run(config)


def test_rebuilds_wake_every_waiting_stream():
    rebuilds = devserver.Rebuilds()
    results = []
    waiters = [
        threading.Thread(target=lambda: results.append(rebuilds.wait(0, DEADLINE)))
        for _ in range(3)
    ]
    for waiter in waiters:
        waiter.start()
    rebuilds.announce()
    for waiter in waiters:
        waiter.join(DEADLINE)
    assert results == [1, 1, 1]
    assert rebuilds.wait(1, 0.01) == 1  # nothing new: the timeout returns the same count
