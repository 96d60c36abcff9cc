"""The development server: build, serve output/, rebuild on change, reload open pages.

Each rebuild runs `python -m tools.site build --live-reload` in a fresh process, so a
change to tools/ or plugins/ takes effect and no state survives between builds. The
built pages load js/livereload.js, which listens on `/__livereload` (Server-Sent
Events); after every successful rebuild the server sends `event: reload` there.
Reached through `python -m tools.site devserver` (`make devserver`).
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

RELOAD_PATH = "/__livereload"
WATCHED = ("content", "theme", "plugins", "tools", "pelicanconf.py", "publishconf.py")
KEEPALIVE_SECONDS = 15.0


class DevServerError(ValueError):
    """The server could not start (address in use, nothing to watch)."""


@dataclass(frozen=True, slots=True)
class DevServerConfig:
    """What to build and where to serve it."""

    settings: Path
    output: Path
    host: str = "127.0.0.1"
    port: int = 8000
    root: Path = Path(".")


class Rebuilds:
    """A counter of finished rebuilds that the event streams wait on."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.count = 0
        self.closed = False

    def announce(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until a rebuild after `seen` finishes (or the timeout); return the count."""
        with self._changed:
            self._changed.wait_for(lambda: self.count != seen or self.closed, timeout)
            return self.count


class LiveReloadHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from the output directory, plus the reload event stream."""

    rebuilds: Rebuilds

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per request drowns the build's own messages

    def end_headers(self):
        # Always fetch the latest build: the browser must not reuse a stale stylesheet.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_error(self, code, message=None, explain=None):
        # A missing page gets the site's own 404.html, as the published site's server does.
        page = Path(self.directory) / "404.html"
        if code != 404 or self.command != "GET" or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404, message)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?", 1)[0] != RELOAD_PATH:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.end_headers()
        seen = self.rebuilds.count
        try:
            self.wfile.write(b"retry: 1000\n: connected\n\n")
            self.wfile.flush()
            while not self.rebuilds.closed:
                count = self.rebuilds.wait(seen, KEEPALIVE_SECONDS)
                if count != seen:
                    seen = count
                    self.wfile.write(f"event: reload\ndata: {count}\n\n".encode())
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away
        return None


def serve(config: DevServerConfig, rebuilds: Rebuilds) -> http.server.ThreadingHTTPServer:
    """Start serving the output directory in a background thread; return the server."""
    handler = type("Handler", (LiveReloadHandler,), {"rebuilds": rebuilds})
    bound = functools.partial(handler, directory=str(config.output.resolve()))
    try:
        server = http.server.ThreadingHTTPServer((config.host, config.port), bound)
    except OSError as error:
        raise DevServerError(f"cannot listen on {config.host}:{config.port}: {error}") from error
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="devserver", daemon=True).start()
    return server


def build_command(config: DevServerConfig) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tools.site",
        "build",
        "--live-reload",
        "-s",
        str(config.settings),
        "-o",
        str(config.output),
    ]


def rebuild(config: DevServerConfig, rebuilds: Rebuilds) -> bool:
    """Build in a fresh process; on success tell every open page to reload."""
    result = subprocess.run(build_command(config), cwd=config.root, check=False)
    if result.returncode == 0:
        rebuilds.announce()
        print(f"rebuilt; pages reloaded ({rebuilds.count})", flush=True)
        return True
    print("build failed; the pages keep the previous build", flush=True)
    return False


def watched_paths(root: Path) -> list[Path]:
    paths = [root / name for name in WATCHED if (root / name).exists()]
    if not paths:
        raise DevServerError(f"{root}: none of {', '.join(WATCHED)} exists")
    return paths


def run(config: DevServerConfig, stop: threading.Event | None = None) -> int:
    """Build, serve, and rebuild on every change until interrupted (or `stop` is set)."""
    import watchfiles

    stop = stop or threading.Event()
    paths = watched_paths(config.root)
    rebuilds = Rebuilds()
    rebuild(config, rebuilds)  # pages opened later start from this count, so no stray reload
    server = serve(config, rebuilds)
    host, port = server.server_address[:2]
    print(f"serving {config.output} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        for changes in watchfiles.watch(
            *paths, stop_event=stop, watch_filter=watchfiles.DefaultFilter(), debounce=300
        ):
            names = sorted({Path(path).name for _, path in changes})
            print(f"changed: {', '.join(names)}", flush=True)
            rebuild(config, rebuilds)
    except KeyboardInterrupt:
        pass
    finally:
        rebuilds.close()
        server.shutdown()
        server.server_close()
    return 0
