"""The window scale and SYN window a Linux kernel chooses: one table of eras, one algorithm.

Each `Era` row holds what changed in `tcp_select_initial_window` and `tcp_win_from_space`
(net/ipv4/tcp_output.c, include/net/tcp.h) and that era's default sysctls; `choose()` is
the algorithm of every era, parameterised by the row:

    full    = tcp_win_from_space(tcp_rmem[1])       # adv_win_scale or scaling_ratio
    space   = min(clamp, full), rounded down to a multiple of the MSS when above it
    shift   = clamp(floor(log2(min(max(tcp_rmem[2], rmem_max), clamp))) - 15, 0, 14)
    syn     = min(space, the era's cap on the initial window, 65535)
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from .units import MAX_RAW_WINDOW, MAX_SHIFT, MAX_WINDOW, WscaleError

TIMESTAMP_OPTION = 12  # TCPOLEN_TSTAMP_ALIGNED: the MSS a window is counted in shrinks by it
SIGNED_WINDOW = 32767  # MAX_TCP_WINDOW: 2.6.11 never offered more (signed 16-bit stacks)


class Era(NamedTuple):
    """One stretch of Linux history with the same initial-window arithmetic and defaults."""

    version: str  # first kernel of the era
    rmem: tuple[int, int, int]  # default net.ipv4.tcp_rmem (max: the usual value, RAM allowing)
    rmem_max: int  # typical default net.core.rmem_max; below tcp_rmem max, so it sets no shift
    adv_win_scale: int | None  # tcp_win_from_space: space - (space >> adv_win_scale)
    scaling_ratio: int | None  # tcp_win_from_space: (space * ratio) >> 8 (6.6 onwards)
    syn_rule: str  # key of SYN_CAPS: how the initial window is capped
    syn_segments: int  # the segment count that rule uses
    clamp_limits_shift: bool  # the route `window` metric lowers the shift too
    signed_window_cap: bool  # the initial window never exceeds 32767
    change: str  # what this era changed, with the commit or source
    note: str = ""


def _cap_rfc2414(era: Era, window: int, mss: int, shift: int) -> int:
    """2.6.x: 4, 3 or 2 segments by MSS (RFC 2414), only while 2^shift < MSS."""
    if mss <= 1 << shift:
        return window
    segments = 2 if mss > 3 * 1460 else 3 if mss > 1460 else era.syn_segments
    return min(window, segments * mss)


def _cap_init_rwnd(era: Era, window: int, mss: int, shift: int) -> int:
    """2.6.39-4.19: N segments of 1460 bytes' worth (at least 2), while 2^shift < MSS."""
    if mss <= 1 << shift:
        return window
    segments = max(1460 * era.syn_segments // mss, 2) if mss > 1460 else era.syn_segments
    return min(window, segments * mss)


def _cap_none(era: Era, window: int, mss: int, shift: int) -> int:
    """4.20 onwards: only a route's `initrwnd` caps it, and the 16-bit field."""
    return window


SYN_CAPS = {"rfc2414": _cap_rfc2414, "init-rwnd": _cap_init_rwnd, "none": _cap_none}

ERAS: tuple[Era, ...] = (
    Era(
        version="2.6.11",
        rmem=(4096, 87380, 174760),
        rmem_max=131071,
        adv_win_scale=2,
        scaling_ratio=None,
        syn_rule="rfc2414",
        syn_segments=4,
        clamp_limits_shift=False,
        signed_window_cap=True,
        change="tcp_rmem max 174760; the shift ignores the route's window clamp",
        note="before 2.6.17: the defaults that the post's workaround restores",
    ),
    Era(
        version="2.6.17",
        rmem=(4096, 87380, 4194304),
        rmem_max=131071,
        adv_win_scale=2,
        scaling_ratio=None,
        syn_rule="rfc2414",
        syn_segments=4,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="tcp_rmem max up to 4 MiB (RAM-dependent); per-route window clamp "
        "also limits the shift (2.6.17.x stable)",
        note="also 2.6.18",
    ),
    Era(
        version="2.6.39",
        rmem=(4096, 87380, 4194304),
        rmem_max=131071,
        adv_win_scale=2,
        scaling_ratio=None,
        syn_rule="init-rwnd",
        syn_segments=10,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="initial receive window 10 segments (TCP_DEFAULT_INIT_RCVWND)",
    ),
    Era(
        version="3.4",
        rmem=(4096, 87380, 6291456),
        rmem_max=212992,
        adv_win_scale=1,
        scaling_ratio=None,
        syn_rule="init-rwnd",
        syn_segments=10,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="tcp_adv_win_scale 2 -> 1, tcp_rmem max 4 -> 6 MiB (b49960a05e32)",
    ),
    Era(
        version="3.11",
        rmem=(4096, 87380, 6291456),
        rmem_max=212992,
        adv_win_scale=1,
        scaling_ratio=None,
        syn_rule="init-rwnd",
        syn_segments=20,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="initial receive window 20 segments, twice TCP_INIT_CWND (85f16525a2eb)",
    ),
    Era(
        version="4.20",
        rmem=(4096, 131072, 6291456),
        rmem_max=212992,
        adv_win_scale=1,
        scaling_ratio=None,
        syn_rule="none",
        syn_segments=0,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="tcp_rmem default 131072, no segment cap on the SYN window (a337531b942b)",
    ),
    Era(
        version="6.6",
        rmem=(4096, 131072, 6291456),
        rmem_max=212992,
        adv_win_scale=None,
        scaling_ratio=65,
        syn_rule="none",
        syn_segments=0,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="tcp_adv_win_scale replaced by scaling_ratio, initially "
        "1200*256/SKB_TRUESIZE(4096) = 65 on x86_64 (dfa2f0483360)",
    ),
    Era(
        version="6.10",
        rmem=(4096, 131072, 6291456),
        rmem_max=212992,
        adv_win_scale=None,
        scaling_ratio=128,
        syn_rule="none",
        syn_segments=0,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="initial scaling_ratio 128/256 (TCP_DEFAULT_SCALING_RATIO)",
    ),
    Era(
        version="6.16",
        rmem=(4096, 131072, 33554432),
        rmem_max=212992,
        adv_win_scale=None,
        scaling_ratio=128,
        syn_rule="none",
        syn_segments=0,
        clamp_limits_shift=True,
        signed_window_cap=False,
        change="tcp_rmem max 6 -> 32 MiB (net-next, May 2025)",
        note="today's defaults",
    ),
)
ALIASES = {"today": ERAS[-1].version, "latest": ERAS[-1].version}


class KernelChoice(NamedTuple):
    """What `tcp_select_initial_window` returns, and the numbers that led there."""

    kernel: str
    rmem: tuple[int, int, int]
    rmem_max: int
    mss: int  # the MSS the window is counted in (less 12 with timestamps)
    window_clamp: int | None  # the route's `window` metric, if any
    window_scaling: bool
    full_space: int  # tcp_win_from_space(tcp_rmem[1])
    shift: int | None  # None: window scaling is off, no option is sent
    syn_window: int  # the unscaled window of the SYN or SYN-ACK
    first_ack_raw: int  # the SYN window rounded up to 2^shift units, as the first ACK shows it
    max_window: int  # 65535 << shift, within the route clamp
    buffer_window: int  # tcp_win_from_space(tcp_rmem[2]): what autotuning can reach


# `uname -r` output is accepted: 5.15.0-91-generic, 6.18.44-fc-v669, 2.6.18-8.el5.
VERSION = re.compile(r"(?P<numbers>\d+(?:\.\d+){1,3})(?:[-+~_].*)?")


@functools.lru_cache(maxsize=64)
def version_key(version: str) -> tuple[int, ...]:
    """(2, 6, 17) for "2.6.17": remembered, as every check of a snippet asks again."""
    match = VERSION.fullmatch(version)
    if not match:
        raise WscaleError(f"unknown kernel version {version!r} (e.g. 2.6.17, 4.20, 6.10, today)")
    return tuple(int(part) for part in match["numbers"].split("."))


def find_era(version: str) -> Era:
    """The era a kernel version belongs to: the last row whose version is not above it."""
    return _era_of(str(version).strip())


# The era table is fixed for the life of the process: remember the era of each version asked
# (a bounded memo; an unknown version raises and is not remembered).
@functools.lru_cache(maxsize=64)
def _era_of(version: str) -> Era:
    version = ALIASES.get(version.lower(), version)
    wanted = version_key(version)
    rows = [era for era in ERAS if version_key(era.version) <= wanted]
    if not rows:
        raise WscaleError(
            f"unknown kernel version {version!r}: the table starts at {ERAS[0].version}"
        )
    return rows[-1]


def win_from_space(era: Era, space: int) -> int:
    """tcp_win_from_space: the part of a buffer offered as window."""
    if era.scaling_ratio is not None:
        return (space * era.scaling_ratio) >> 8
    return space - (space >> era.adv_win_scale)


def choose(
    kernel: str = "2.6.17",
    rmem: tuple[int, int, int] | None = None,
    rmem_max: int | None = None,
    mss: int = 1460,
    timestamps: bool = False,
    window_clamp: int | None = None,
    window_scaling: bool = True,
) -> KernelChoice:
    """The shift and SYN window of a connection, as `tcp_select_initial_window` computes them."""
    era = find_era(kernel)
    rmem = tuple(rmem) if rmem is not None else era.rmem
    rmem_max = era.rmem_max if rmem_max is None else rmem_max
    if not rmem[0] <= rmem[1] <= rmem[2]:
        raise WscaleError(f"tcp_rmem must satisfy min <= default <= max: {rmem}")
    counted_mss = mss - TIMESTAMP_OPTION if timestamps else mss
    if counted_mss < 1:
        raise WscaleError(f"MSS {mss} leaves no room for data")
    clamp = window_clamp or MAX_WINDOW
    full = win_from_space(era, rmem[1])
    space = min(clamp, full)
    if space > counted_mss:
        space -= space % counted_mss
    shift = 0
    if window_scaling:
        ceiling = max(space, rmem[2], rmem_max)
        if era.clamp_limits_shift:
            ceiling = min(ceiling, clamp)
        shift = min(max(ceiling.bit_length() - 1 - 15, 0), MAX_SHIFT)
    window = min(space, SIGNED_WINDOW) if era.signed_window_cap else space
    window = min(SYN_CAPS[era.syn_rule](era, window, counted_mss, shift), MAX_RAW_WINDOW)
    return KernelChoice(
        kernel=era.version,
        rmem=rmem,
        rmem_max=rmem_max,
        mss=counted_mss,
        window_clamp=window_clamp,
        window_scaling=window_scaling,
        full_space=full,
        shift=shift if window_scaling else None,
        syn_window=window,
        first_ack_raw=-(-window >> shift),
        max_window=min(MAX_RAW_WINDOW << shift, clamp),
        buffer_window=win_from_space(era, rmem[2]),
    )


def eras_table() -> list[dict]:
    """The era table as plain data, for JSON (the in-page calculator reads it)."""
    return [{**era._asdict(), "rmem": list(era.rmem)} for era in ERAS]
