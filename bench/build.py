"""Build benchmark: plain Pelican against opskb's full build on the same synthetic posts.

    python bench/build.py [--posts N] [--repeat R]

Generates N posts shaped like opskb's (prose, headings, console/sh/sysctl/cmd snippets with
tcpdump, sysctl, ip route and VCB commands, an explained-unchecked listing, and every tool
block whose renderer is registered in fences.RENDERERS), then times in one run, each build
in a fresh interpreter:
  1. plain Pelican with its default settings (codehilite guesses the lexer of a block in a
     language Pygments lacks), and the same with guessing off: the faster of the two is the
     baseline of every ratio;
  2. opskb as `make html` builds it (`tools.site.build` with pelicanconf.py: the shipping
     settings, reader cache included), both caches empty;
  3. the same with the snippet verdicts cached but an empty reader cache: every post is
     rendered again, no checker runs;
  4. the build after touching one post, with the caches the first build left (what
     `make html` or the devserver does on an edit).
Prints the times and the ratios the project targets: 2/1 and 3/1 (≤ 1.15), 4/2 (≤ 0.40).
Pelican's reader cache is filed by the opskb plugin under a digest of opskb's code, pins,
settings and content files (plugins/opskb_blocks/content_cache.py), so a cached build
never serves HTML rendered by other code.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "build"
sys.path.insert(0, str(ROOT))

PROSE = (
    "The window a host advertises is a 16-bit field, scaled by the shift it announced in "
    "its SYN. When something in the path rewrites that shift, transfers crawl while every "
    "counter on the switch looks clean. Post {n} walks through one such case on host {host}."
)
# Tool-block bodies for the synthetic posts, used when the real posts hold no example.
TOOL_EXAMPLES = {"wscale": "effective: {raw} 6"}


def snippets(n: int) -> list[tuple[str, str]]:
    """The code blocks of synthetic post n (info string, body), distinct per post."""
    port, host = 1000 + n, f"10.{n // 250}.{n % 250}.1"
    return [
        ("console", f"root@lab{n}:~# tcpdump -ni eth{n % 4} -c {n + 1} 'tcp port {port}'\n"
         f"tcpdump: listening on eth{n % 4}\n{host}.{port} > 10.0.0.2.80: S 0:0 win 5840"),
        ("sh", f'echo "4096 87380 {174760 + n}" > /proc/sys/net/ipv4/tcp_rmem\n'
         "echo 1 > /proc/sys/net/ipv4/tcp_window_scaling"),
        ("sh", f"ip route change {host}/32 via 192.0.2.1 dev eth0 window {65535 + n}"),
        ("bat", f"vcbMounter.exe -h vc{n} -u backup -a name:vm{n} -r E:\\mnt\\vm{n} -t fullvm"),
        ('text unchecked="a file listing, not a command"', f"catalog\nvm{n}.vmx\nvm{n}.vmdk"),
    ]  # fmt: skip


def tool_blocks(n: int) -> list[tuple[str, str]]:
    """One block per registered tool renderer, taken from the real posts when they have one."""
    from plugins.opskb_blocks.fences import RENDERERS
    from tools.snippets.fences import read_fences

    found = {}
    for post in sorted((ROOT / "content" / "posts").glob("*.md")):
        for fence in read_fences(post):
            if fence.language in RENDERERS and not fence.options:
                found.setdefault(fence.language, fence.source)
    blocks = []
    for language in sorted(RENDERERS):
        body = found.get(language) or TOOL_EXAMPLES.get(language, "").format(n=n, raw=92 + n)
        if body:
            blocks.append((language, body))
    return blocks


def generate(directory: Path, count: int) -> None:
    # The files the real posts' tool blocks read (captures, lab results), beside the posts.
    shutil.copytree(ROOT / "content", directory, ignore=shutil.ignore_patterns("*.md"))
    posts = directory / "posts"
    for n in range(count):
        parts = [
            f"Title: Synthetic note {n}\nDate: 2020-01-01 {n // 60 % 24:02d}:{n % 60:02d}\n"
            f"Category: {['networking', 'backup', 'meta'][n % 3]}\nTags: tcp, bench{n % 10}\n"
            f"Summary: Synthetic post {n}.\n"
        ]
        for index, (info, body) in enumerate(snippets(n) + tool_blocks(n)):
            parts.append(f"## Step {index}\n\n{PROSE.format(n=n, host=n % 97)}\n")
            parts.append(f"```{info}\n{body}\n```\n")
        (posts / f"note-{n:04d}.md").write_text("\n".join(parts), encoding="utf-8")


def child(kind: str, content: str, output: str, cache: str) -> None:
    """Run one build in this interpreter and print its CPU and wall time as JSON."""
    import logging
    import os

    os.chdir(ROOT)
    # One index page in both builds (the theme's pagination is not what is measured).
    base = {"PATH": content, "ARTICLE_PATHS": ["posts"], "DEFAULT_PAGINATION": False}
    if kind in PLAIN:
        from pelican import Pelican
        from pelican.settings import read_settings

        logging.getLogger().handlers[:] = [logging.NullHandler()]
        settings = read_settings(
            None, override={**base, "OUTPUT_PATH": output, "THEME": "simple", "PLUGINS": []}
        )
        if kind == "plain-noguess":  # a block in a language Pygments lacks stays plain text
            codehilite = "markdown.extensions.codehilite"
            settings["MARKDOWN"]["extension_configs"][codehilite]["guess_lang"] = False
        build = Pelican(settings).run
    else:
        from tools.site import build as site_build

        # The shipping settings; only where the caches live is the benchmark's own.
        reader_cache = Path(cache) / ("pelican-empty" if kind == "warm" else "pelican")
        overrides = {**base, "CACHE_PATH": str(reader_cache),
                     "OPSKB_SNIPPETS": {"cache": str(Path(cache) / "snippets")}}  # fmt: skip
        shutil.rmtree(Path(cache) / "pelican-empty", ignore_errors=True)
        sink = io.StringIO()

        def build():
            if site_build(ROOT / "pelicanconf.py", Path(output), overrides, stream=sink):
                # A build that skipped posts would look fast: refuse to time it.
                raise SystemExit(f"errors, first: {sink.getvalue().splitlines()[0]}")

    start, cpu = time.perf_counter(), cpu_seconds()
    build()
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    print(json.dumps({"wall": wall, "cpu": cpu}))


def cpu_seconds() -> float:
    """CPU time of this process and of the programs it ran (bash -n, tcpdump -d)."""
    import resource

    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


LABELS = {
    "plain": "plain Pelican (default settings, no plugins)",
    "plain-noguess": "plain Pelican, codehilite guess_lang off",
    "cold": "opskb make html, empty caches",
    "warm": "opskb, verdicts cached, every post rendered",
    "rebuild": "opskb make html after touching one post",
}
# Plain Pelican as installed (codehilite guesses the lexer of a block in a language Pygments
# does not know: slow), and the same with guessing off (the faster, fairer baseline).
PLAIN = ("plain", "plain-noguess")


def snapshot() -> Path:
    """A copy of opskb's code for one round, so edits made meanwhile change nothing measured.

    The copy is compiled to bytecode once, as Python does on a module's first import (and pip
    did for Pelican's): every build then starts from bytecode, even where
    PYTHONDONTWRITEBYTECODE would have each one compile opskb's modules again.
    """
    import compileall

    copy = OUT / "repo"
    for name in ("tools", "plugins", "theme", "bench"):
        shutil.copytree(
            ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "out")
        )
    for name in ("pelicanconf.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("tools", "plugins"):
        compileall.compile_dir(copy / name, quiet=1)
    return copy


def timed(kind: str, content: Path, output: Path, cache: Path) -> dict[str, float]:
    """Run one build in a fresh interpreter, from the round's copy of the code."""
    copy = OUT / "repo"
    done = subprocess.run(
        [sys.executable, str(copy / "bench" / "build.py"), "--child", kind, str(content),
         str(output), str(cache)],
        capture_output=True, text=True, check=False, cwd=copy,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{kind} build failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/build.py", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="synthetic posts (1000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best time counts")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    return parser


def one_round(posts: int) -> dict[str, dict[str, float]]:
    """Times of the four builds on freshly generated posts with empty caches."""
    shutil.rmtree(OUT, ignore_errors=True)
    content, cache = OUT / "content", OUT / "cache"
    snapshot()
    generate(content, posts)
    times = {
        "plain": timed("plain", content, OUT / "plain", cache),
        "plain-noguess": timed("plain-noguess", content, OUT / "plain", cache),
        "cold": timed("cold", content, OUT / "full", cache),
        "warm": timed("warm", content, OUT / "full", cache),
    }
    touched = content / "posts" / "note-0000.md"
    touched.write_text(touched.read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
    times["rebuild"] = timed("rebuild", content, OUT / "full", cache)
    return times


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    blocks = len(snippets(0)) + len(tool_blocks(0))
    print(f"{args.posts} synthetic posts, {blocks} code blocks each, best of {args.repeat}")
    rounds = [one_round(args.posts) for _ in range(args.repeat)]
    for measure in ("cpu", "wall"):
        best = {kind: min(times[kind][measure] for times in rounds) for kind in rounds[0]}
        # Ratios against the faster plain build, so the comparison never flatters opskb.
        base = min(best["plain"], best["plain-noguess"])
        print(f"-- {measure} time (cpu: the build and the programs it ran; wall: elapsed)")
        for kind, label in LABELS.items():
            ratios = f"{best[kind] / base:5.2f}× plain"
            if kind == "rebuild":
                ratios += f"  {best[kind] / best['cold']:5.2f}× first build"
            print(f"{label:<50} {best[kind]:7.2f} s  {ratios}")
    print("targets: opskb full ≤ 1.15× plain; rebuild ≤ 0.40× first build (the cold one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
