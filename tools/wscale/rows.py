"""How window-scaling results read: labelled rows for people (the CLI and a block's table),
plain data for `--json`."""

from __future__ import annotations

from .units import format_bytes, format_rate, format_time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .arithmetic import Bdp, Effective, Mathis, ShiftFor, Throughput
    from .kernels import KernelChoice
    from .sysctl import SysctlReport


def _rows_effective(r: Effective) -> list[tuple[str, str]]:
    rows = [("raw window", f"{r.raw_window:,}"), ("shift", str(r.shift))]
    if r.shift != r.shift_used:
        rows.append(("shift used", str(r.shift_used)))
    formula = "SYN: not scaled" if r.syn else f"{r.raw_window:,} × 2^{r.shift_used}"
    rows.append(("effective window", f"{format_bytes(r.effective_window)} = {formula}"))
    return rows


def _rows_shift_for(r: ShiftFor) -> list[tuple[str, str]]:
    return [
        ("window", format_bytes(r.window)),
        ("smallest shift", str(r.shift)),
        ("largest window at that shift", f"{format_bytes(r.max_window)} = 65,535 × 2^{r.shift}"),
    ]


def _rows_kernel(r: KernelChoice) -> list[tuple[str, str]]:
    from .kernels import find_era  # the era table is loaded only by the commands that use it

    era = find_era(r.kernel)
    clamp = "none" if r.window_clamp is None else f"{r.window_clamp:,}"
    return [
        ("kernel era", f"Linux {r.kernel}+: {era.change}"),
        ("tcp_rmem", " ".join(str(v) for v in r.rmem)),
        ("rmem_max", f"{r.rmem_max:,}"),
        ("route window clamp", clamp),
        ("window scale (shift)", "off: no option sent" if r.shift is None else str(r.shift)),
        ("SYN window", f"{r.syn_window:,} bytes (counted in {r.mss}-byte segments)"),
        ("first ACK's raw window", f"{r.first_ack_raw:,} (the SYN window in 2^shift units)"),
        ("largest window at that shift", format_bytes(r.max_window)),
        ("largest window tcp_rmem max allows", format_bytes(r.buffer_window)),
    ]


def _rows_throughput(r: Throughput) -> list[tuple[str, str]]:
    return [
        ("window", format_bytes(r.window)),
        ("RTT", format_time(r.rtt)),
        ("throughput ceiling", f"{format_rate(r.throughput_bps)} = window × 8 / RTT"),
    ]


def _rows_bdp(r: Bdp) -> list[tuple[str, str]]:
    return [
        ("bandwidth", format_rate(r.bandwidth_bps)),
        ("RTT", format_time(r.rtt)),
        ("bandwidth-delay product", format_bytes(r.bdp_bytes)),
        (
            "shift needed",
            f"{r.shift} (65,535 × 2^{r.shift} = {r.max_window:,} bytes)"
            if r.shift is not None
            else f"none suffices: the largest window is {r.max_window:,} bytes (RFC 7323 §2.3)",
        ),
    ]


def _rows_mathis(r: Mathis) -> list[tuple[str, str]]:
    return [
        ("MSS", f"{r.mss:,} bytes"),
        ("RTT", format_time(r.rtt)),
        ("loss", f"{float(r.loss):g}"),
        ("constant C", f"{r.constant} = {r.constant_value:.4f}"),
        ("throughput ceiling", f"{format_rate(r.throughput_bps)} = (MSS × 8 / RTT) × C / √p"),
    ]


def _rows_sysctl(r: SysctlReport) -> list[tuple[str, str]]:
    rows = [(f"line {x.line}", f"{x.verdict}: {x.message}") for x in r.lines if x.key]
    if r.max_window is not None:
        shift = "off" if r.shift is None else str(r.shift)
        rows.append((f"on Linux {r.kernel}", f"shift {shift}, largest window {r.max_window:,}"))
    return rows


# By record name, so that kernels and the sysctl records need not be imported to build it.
ROWS: dict[str, Callable[[Any], list[tuple[str, str]]]] = {
    "Effective": _rows_effective,
    "ShiftFor": _rows_shift_for,
    "KernelChoice": _rows_kernel,
    "Throughput": _rows_throughput,
    "Bdp": _rows_bdp,
    "Mathis": _rows_mathis,
    "SysctlReport": _rows_sysctl,
}


def rows(result: Any) -> list[tuple[str, str]]:
    """A result as (label, value) lines: the CLI's output and a block's table."""
    return ROWS[type(result).__name__](result)


def warnings_of(result: Any) -> tuple[str, ...]:
    return getattr(result, "warnings", ())


def _plain(value: Any) -> Any:
    from fractions import Fraction  # --json only: the text output needs no fractions

    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if hasattr(value, "_asdict"):  # the NamedTuple records
        return {name: _plain(item) for name, item in value._asdict().items()}
    if hasattr(value, "__dataclass_fields__"):  # the sysctl records
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def as_json(result: Any) -> dict:
    """A result as JSON-ready data (fractions become numbers)."""
    return _plain(result)
