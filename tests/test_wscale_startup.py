"""The calculator starts fast: nothing heavy is imported on the way to a simple answer.

The figures are in bench/startup.py; these tests pin down what keeps them low.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools import wscale
from tools.wscale.units import parse_loss, parse_rate, parse_size, parse_time

ROOT = Path(__file__).resolve().parents[1]
# Heavy or needless for `effective`: scapy, the era table, the sysctl records (dataclasses),
# exact fractions (and decimal under them), typing.
NOT_AT_START = (
    "scapy",
    "tools.wscale.kernels",
    "tools.wscale.sysctl",
    "dataclasses",
    "fractions",
    "decimal",
    "typing",
)
SUBCOMMANDS = ("effective", "shift-for", "kernel", "throughput", "bdp", "mathis", "sysctl")


def python(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, check=True
    )


def test_importing_the_calculator_loads_nothing_heavy():
    probe = f"import sys, tools.wscale; print(*sorted(set({NOT_AT_START!r}) & set(sys.modules)))"
    assert python("-c", probe).stdout.split() == []


def test_the_benchmarked_command_loads_nothing_heavy():
    run = python("-X", "importtime", "-m", "tools.wscale", "effective", "92", "6")
    # -X importtime writes one line per module: "import time: SELF | TOTAL | <indent>NAME".
    imported = {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "tools.wscale.arithmetic" in imported  # the probe sees our own modules
    assert imported.isdisjoint(NOT_AT_START), imported & set(NOT_AT_START)
    assert "5,888 bytes" in run.stdout  # 92 << 6


def test_help_lists_every_subcommand(capsys):
    assert wscale.main(["--help"]) == 0
    # argparse lists each subcommand indented by four, its help beside or below it.
    listed = {
        line.split()[0] for line in capsys.readouterr().out.splitlines() if line[4:5].isalpha()
    }
    assert listed >= set(SUBCOMMANDS)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_a_subcommand_help_is_the_same_from_its_own_parser(capsys, name):
    assert wscale.main([name, "--help"]) == 0
    own = capsys.readouterr().out
    with pytest.raises(SystemExit):
        wscale.build_parser().parse_args([name, "--help"])
    assert own == capsys.readouterr().out
    assert own.startswith(f"usage: python -m tools.wscale {name} ")


def test_the_full_parser_accepts_every_subcommand():
    # The snippet checker gives any `python -m tools.wscale ...` line to build_parser().
    parser = wscale.build_parser()
    assert parser.parse_args(["kernel", "--kernel", "4.20"]).command == "kernel"
    assert parser.parse_args(["sysctl", "-"]).command == "sysctl"
    assert parser.parse_args(["effective", "1", "2"]).command == "effective"


def test_an_unknown_subcommand_names_every_known_one(capsys):
    assert wscale.main(["effectiv", "1", "2"]) == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'effectiv'" in error
    assert all(repr(name) in error for name in SUBCOMMANDS)


def test_integers_and_other_spellings_give_the_same_exact_values():
    # Plain integers skip fractions; the arithmetic must not notice.
    assert parse_size("4096") == parse_size("4K") == parse_size("4.096kB") == 4096
    assert parse_rate("1000") == parse_rate("1e3") == parse_rate("1kbit") == 1000
    assert parse_time("1s") == parse_time("1000ms") == parse_time("1.0s") == 1
    assert parse_time("3ms") * 1000 == 3  # exact: 3/1000 s, not a float's 0.003
    assert parse_loss("1") == parse_loss("100%") == parse_loss("1.0") == 1
    assert parse_loss("1%") * 100 == 1  # exact: 1/100
