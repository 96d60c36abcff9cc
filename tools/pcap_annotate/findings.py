"""The record every pcap diagnosis is: a stable code, its frames, what it means, what to do."""

from __future__ import annotations

from dataclasses import dataclass

MAX_FRAMES = 12  # frames named per diagnosis
SEVERITY_ORDER = {"fault": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One finding about a connection, with the frames it rests on and what to do."""

    code: str
    severity: str  # "fault", "warning" or "info"
    frames: tuple[int, ...]
    message: str
    advice: str = ""
    estimated_shift: int | None = None  # peer-ignores-shift: the shift the capture does not show
    announced_shift: int | None = None  # the receiver's shift (from its SYN, or estimated)
    applied_shift: int | None = None  # the shift the data sender applies (seen or estimated)
    workarounds: tuple[tuple[str, str], ...] = ()  # (command, what it does and if it helps)
