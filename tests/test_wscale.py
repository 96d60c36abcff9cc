"""tools.wscale: the vectors through the core and the command line, bad input, the JSON keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import wscale
from tools.wscale.kernels import ERAS, choose, find_era
from tools.wscale.units import WscaleError, parse_rate, parse_size, parse_time

ROOT = Path(__file__).resolve().parents[1]
VECTORS = json.loads((ROOT / "tests" / "data" / "wscale_vectors.json").read_text())["vectors"]


def argv_of(vector: dict) -> list[str]:
    """The command line a vector stands for: positionals in the table's order, then options."""
    argv = [vector["command"]]
    for option in wscale.COMMANDS[vector["command"]].options:
        value = vector["input"].get(option.name)
        if value is None or value is False:
            continue
        if option.positional:
            argv.append(value)
        elif option.flag:
            argv.append(f"--{option.name}")
        else:
            argv += [f"--{option.name}", value]
    return argv


def assert_expected(vector: dict, result: dict) -> None:
    for key, expected in vector["expected"].items():
        if expected is None:  # e.g. no shift when window scaling is off
            assert result[key] is None, (vector["id"], key)
            continue
        tolerance = vector.get("tolerance", 0)
        assert result[key] == pytest.approx(expected, abs=tolerance), (vector["id"], key)


def test_vectors_are_well_formed():
    ids = [vector["id"] for vector in VECTORS]
    assert len(ids) == len(set(ids))
    for vector in VECTORS:
        assert vector["command"] in wscale.COMMANDS
        assert vector["source"] and vector["working"] and vector["expected"]
        names = {option.name for option in wscale.COMMANDS[vector["command"]].options}
        assert set(vector["input"]) <= names, vector["id"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_through_core(vector):
    result = wscale.as_json(wscale.compute(vector["command"], vector["input"]))
    assert_expected(vector, result)
    assert bool(result.get("warnings")) == vector.get("expect_warning", False)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_through_main_json(vector, capsys):
    assert wscale.main([*argv_of(vector), "--json"]) == 0
    assert_expected(vector, json.loads(capsys.readouterr().out))


def test_human_output_effective(capsys):
    assert wscale.main(["effective", "92", "6"]) == 0
    out = capsys.readouterr().out
    assert "5,888 bytes" in out and "92 × 2^6" in out


def test_human_output_warns_above_14(capsys):
    assert wscale.main(["effective", "65535", "15"]) == 0
    out = capsys.readouterr().out
    assert "1,073,725,440" in out and "warning: shift 15 is above 14" in out


def test_human_output_mathis_states_constant(capsys):
    argv = ["mathis", "--mss", "1460", "--rtt", "100ms", "--loss", "1e-4", "--constant", "1"]
    assert wscale.main(argv) == 0
    out = capsys.readouterr().out
    assert "11.68 Mbit/s" in out and "constant C:" in out


@pytest.mark.parametrize(
    ("argv", "keys"),
    [
        (["effective", "92", "6"], {"effective_window", "shift", "shift_used", "warnings"}),
        (["shift-for", "4MiB"], {"shift", "max_window"}),
        (["kernel", "--kernel", "2.6.17"], {"shift", "syn_window", "max_window", "rmem"}),
        (["throughput", "--window", "64KiB", "--rtt", "50ms"], {"throughput_bps"}),
        (["bdp", "--bandwidth", "1G", "--rtt", "0.05s"], {"bdp_bytes", "shift", "max_window"}),
        (["mathis", "--rtt", "50ms", "--loss", "0.01%"], {"throughput_bps", "constant"}),
    ],
)
def test_json_keys(argv, keys, capsys):
    assert wscale.main([*argv, "--json"]) == 0
    assert keys <= set(json.loads(capsys.readouterr().out))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["effective", "-1", "6"], "negative"),
        (["effective", "65536", "6"], "raw window"),
        (["effective", "92", "x"], "shift"),
        (["shift-for", "2GiB"], "no shift expresses"),
        (["shift-for", "-4096"], "negative"),
        (["throughput", "--window", "64Q", "--rtt", "1ms"], "unknown unit"),
        (["throughput", "--window", "65535", "--rtt", "100"], "needs a unit"),
        (["throughput", "--window", "65535"], "missing rtt"),
        (["bdp", "--bandwidth", "fast", "--rtt", "1ms"], "not a number"),
        (["kernel", "--kernel", "2.4.20"], "unknown kernel version"),
        (["kernel", "--kernel", "banana"], "unknown kernel version"),
        (["kernel", "--rmem", "4096 87380"], "three values"),
        (["kernel", "--rmem", "9000 87380 4096"], "min <= default <= max"),
        (["mathis", "--rtt", "1ms", "--loss", "2"], "at most 1"),
        (["mathis", "--rtt", "1ms", "--loss", "1e-4", "--constant", "pi"], "constant"),
        (["sysctl", "/nonexistent/snippet.sh"], "cannot read"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert wscale.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and needle in lines[0], captured.err


def test_sysctl_file_that_is_not_text_is_one_line_exit_2(tmp_path, capsys):
    binary = tmp_path / "snippet.bin"
    binary.write_bytes(b"\xff\xfe\x00net.ipv4.tcp_rmem = 1 2 3")
    assert wscale.main(["sysctl", str(binary)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not UTF-8" in err


def test_units():
    assert parse_size("16MiB") == parse_size("16M") == 16 * 1024 * 1024
    assert parse_size("1.25MB") == 1_250_000
    assert parse_rate("100Mbit") == parse_rate("100Mbps") == 100_000_000
    assert parse_rate("12.5MB/s") == 100_000_000
    assert parse_time("50ms") == parse_time("0.05s")
    with pytest.raises(WscaleError):
        parse_size("0.5")


def test_every_era_row_is_reachable_and_ordered():
    versions = [era.version for era in ERAS]
    assert [find_era(version).version for version in versions] == versions
    assert find_era("2.6.18").version == "2.6.17"
    assert find_era("5.4").version == "4.20"
    assert find_era("6.8").version == "6.6"


def test_the_remembered_era_follows_the_kernel_asked():
    # Eras remembered per version must not leak from one kernel to the next (table above).
    assert [find_era(v).version for v in ("2.6.17", "6.16", "2.6.17", " today ", "3.10")] == [
        "2.6.17", "6.16", "2.6.17", "6.16", "3.4",
    ]  # fmt: skip
    # floor(log2(174760)) - 15 = 2 (2.6.11's tcp_rmem max); floor(log2(4 MiB)) - 15 = 7.
    assert [choose(v).shift for v in ("2.6.11", "2.6.17", "2.6.11")] == [2, 7, 2]
    for bad in ("1.0", "x", "1.0"):  # an unknown version raises every time it is asked
        with pytest.raises(WscaleError):
            find_era(bad)


def test_window_scaling_off_sends_no_shift():
    choice = choose("2.6.17", window_scaling=False)
    assert choice.shift is None and choice.max_window == 65535


def test_smoke_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "tools.wscale", "effective", "16022", "6", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["effective_window"] == 1025408
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, tools.wscale; print('scapy' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "False"
