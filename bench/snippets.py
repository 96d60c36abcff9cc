"""Snippet-check benchmark: the code blocks of bench/build.py's synthetic posts, checked cold.

    python bench/snippets.py [--posts N] [--repeat R] [--against REV]

The blocks are those bench/build.py puts in N posts (5 per post: a tcpdump console session,
two sysctl echo lines, an `ip route … window` line, a vcbMounter.exe line, an unchecked
listing). Each measurement runs in a fresh interpreter with the checkers' tools already
imported, so every memo starts empty as in a build's first pass over new posts. CPU seconds
of the process and of the programs it ran (bash -n), best of R:
  none  `check_block` on every block without a verdict cache: the checks alone;
  cold  the same through a VerdictCache over an empty directory, then `flush()`: what a
        build with empty caches pays for its snippets;
  warm  the same blocks again through a new VerdictCache over the file just written.
Prints cold/none (the cache's share of a cold build) and, with `--against REV`, this tree's
times against REV's (its tools/ extracted with `git archive`), measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("none", "cold")


def blocks(posts: int) -> list[tuple[str, str]]:
    """(info string, body) of every code block bench/build.py writes into the posts."""
    spec = importlib.util.spec_from_file_location("bench_build", ROOT / "bench" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return [block for n in range(posts) for block in build.snippets(n)]


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def child(mode: str, root: Path, posts: int) -> None:
    """Time one mode over the blocks with the tools of `root`; print the seconds as JSON."""
    written = blocks(posts)  # before `root` goes first on sys.path (build.py inserts ROOT)
    sys.path.insert(0, str(root))
    import tools.snippets
    import tools.vcb  # noqa: F401  (the checkers import their tools on first use)
    import tools.wscale.sysctl  # noqa: F401
    from tools.snippets.cache import VerdictCache
    from tools.snippets.checkers import bash_parser
    from tools.snippets.fences import parse_info

    parsed = [(*parse_info(info), body) for info, body in written]
    check = tools.snippets.check_block
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        cache = VerdictCache(Path(scratch), root=root) if mode == "cold" else None
        start = cpu_seconds()
        for language, options, body in parsed:
            check(language, body, options, cache=cache)
        if cache is not None:
            cache.flush()
        bash_parser.close_all()
        times[mode] = cpu_seconds() - start
        if cache is not None:
            again = VerdictCache(Path(scratch), root=root)
            start = cpu_seconds()
            for language, options, body in parsed:
                check(language, body, options, cache=again)
            times["warm"] = cpu_seconds() - start
            if again.misses:  # a tool's source edited while the benchmark ran
                print(f"warm pass checked again: {again.misses}", file=sys.stderr)
    print(json.dumps(times))


def measure(root: Path, posts: int, repeat: int) -> dict[str, float]:
    """The best time of each mode (and of the warm pass) over `repeat` fresh interpreters."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        for mode in MODES:
            done = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--root", str(root),
                 "--posts", str(posts)],
                capture_output=True, text=True, check=False, cwd=ROOT,
            )  # fmt: skip
            if done.returncode != 0:
                lines = done.stderr.strip().splitlines() or ["no message"]
                raise SystemExit(f"{mode} run with the tools of {root} failed: {lines[-1]}")
            for name, seconds in json.loads(done.stdout).items():
                best[name] = min(seconds, best.get(name, seconds))
    return best


def extract(revision: str, directory: Path) -> Path:
    """tools/ as it was at `revision`, under `directory`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "tools"],
        capture_output=True, check=True, cwd=ROOT,
    )  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="synthetic posts (5 blocks each)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh interpreters per mode")
    parser.add_argument("--against", metavar="REV", help="also time the tools of this commit")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    return parser


def row(label: str, times: dict[str, float]) -> str:
    return f"{label:<14}" + "".join(f"{times[name]:>9.3f}" for name in (*MODES, "warm"))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        child(args.child, args.root, args.posts)
        return 0
    count = len(blocks(args.posts))
    print(f"{count} code blocks ({args.posts} posts), CPU seconds, best of {args.repeat}, "
          "each in a fresh interpreter")  # fmt: skip
    print(f"{'':<14}" + "".join(f"{name:>9}" for name in (*MODES, "warm")))
    this = measure(ROOT, args.posts, args.repeat)
    print(row("this tree", this))
    if args.against:
        with tempfile.TemporaryDirectory() as scratch:
            before = measure(extract(args.against, Path(scratch)), args.posts, args.repeat)
        print(row(args.against[:12], before))
    print(f"cold / none, this tree: {this['cold'] / this['none']:.2f} (the verdict cache's share)")
    if args.against:
        for name in (*MODES, "warm"):
            print(f"{name}, this tree / {args.against[:12]}: {this[name] / before[name]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
