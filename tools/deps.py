"""Print the pinned requirements of pyproject.toml, one per line, for pip."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path


def pinned_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """Return the project's dependencies plus those of the named extras."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return requirements


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.deps", description=__doc__)
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--extra", action="append", default=[], help="include an extra")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print("\n".join(pinned_requirements(args.pyproject, args.extra)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
