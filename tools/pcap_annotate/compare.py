"""Compare two captures of the same connections (one at each end): a rewritten Window Scale.

The proof the one-sided heuristics can only suggest (reference §4, heuristic 3): the
same SYN or SYN-ACK, recognised by its ports and initial sequence number, carries a
different Window Scale option in the two copies. Which copy is the original follows
from where each capture was taken: the host that answers at once sits beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tools.pcap_annotate.findings import Diagnosis
from tools.pcap_annotate.flight import handshake
from tools.pcap_annotate.records import ACK, SYN, AnnotatedSegment
from tools.pcap_annotate.wording import advice_for_shift, endpoint, workarounds_for_shift

KIND = {SYN: "SYN", SYN | ACK: "SYN-ACK"}


def _syns(rows: Sequence[AnnotatedSegment]) -> dict[tuple, AnnotatedSegment]:
    """The first copy of each SYN and SYN-ACK, keyed by kind, ports and ISN."""
    found: dict[tuple, AnnotatedSegment] = {}
    for row in rows:
        s = row.segment
        if s.flags & SYN and s.options_complete:
            found.setdefault((s.flags & (SYN | ACK), s.sport, s.dport, s.seq), row)
    return found


def _beside(rows: Sequence[AnnotatedSegment], connection: int) -> str | None:
    """The direction whose host is beside this capture, by the handshake's reaction times."""
    _, reaction = handshake([row for row in rows if row.connection == connection])
    if len(reaction) < 2:
        return None
    return min(reaction, key=reaction.get)


def _option(shift: int | None) -> str:
    return "no Window Scale option" if shift is None else f"window scale {shift}"


def compare(
    first: Sequence[AnnotatedSegment], second: Sequence[AnnotatedSegment]
) -> list[tuple[int, Diagnosis]]:
    """(connection in `first`, diagnosis) for each SYN whose option differs between captures."""
    theirs = _syns(second)
    found = []
    for key, mine in _syns(first).items():
        other = theirs.get(key)
        if other is None or other.segment.wscale == mine.segment.wscale:
            continue
        # The copy taken beside the SYN's sender is the original; by default this capture's.
        second_is_original = (
            _beside(second, other.connection) == mine.direction
            and _beside(first, mine.connection) != mine.direction
        )
        sent, received = (other, mine) if second_is_original else (mine, other)
        before, after = sent.segment.wscale, received.segment.wscale
        s = mine.segment
        sender = endpoint(s.ip_version, s.src, s.sport)
        lowered = before is not None and after is not None and after < before
        found.append(
            (
                mine.connection,
                Diagnosis(
                    "shift-rewritten",
                    "fault",
                    (s.frame,),
                    f"The {KIND[key[0]]} from {sender} carries {_option(before)} as sent and"
                    f" {_option(after)} as received (frame {s.frame} of the first capture, frame"
                    f" {other.segment.frame} of the second): something in the path"
                    f" {'removed' if after is None else 'rewrote'} the option.",
                    advice_for_shift(sender, before, after)
                    if lowered
                    else "Find the box between the two capture points: RFC 7323 options must"
                    " pass unchanged.",
                    announced_shift=before,
                    applied_shift=after,
                    workarounds=workarounds_for_shift(after) if lowered else (),
                ),
            )
        )
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pcap_annotate.compare",
        description="Compare two captures of the same connections (one at each end) and say "
        "which SYN or SYN-ACK had its Window Scale option rewritten or removed on the way.",
    )
    parser.add_argument("first", help="a capture (pcap, pcapng or tcpdump text)")
    parser.add_argument("second", help="a capture of the same connections at the other end")
    parser.add_argument("--json", action="store_true", help="one JSON object per finding")
    return parser


def main(argv: list[str] | None = None) -> int:
    from tools.pcap_annotate import annotate_file

    args = build_parser().parse_args(argv)
    rows = []
    for path in (args.first, args.second):
        try:
            rows.append(list(annotate_file(path)))
        except (OSError, ValueError) as error:
            print(f"pcap_compare: {path}: {error}", file=sys.stderr)
            return 2
    findings = compare(*rows)
    for connection, diagnosis in findings:
        if args.json:
            record = {"connection": connection, "code": diagnosis.code}
            record |= {"frames": list(diagnosis.frames), "message": diagnosis.message}
            record |= {"announced_shift": diagnosis.announced_shift}
            record |= {"applied_shift": diagnosis.applied_shift}
            print(json.dumps(record))
        else:
            print(f"connection {connection}: {diagnosis.severity} {diagnosis.code}:")
            print(f"  {diagnosis.message}")
            if diagnosis.advice:
                print(f"  what to do: {diagnosis.advice}")
            for command, effect in diagnosis.workarounds:
                print(f"    {command}: {effect}")
    if not findings:
        print("no SYN or SYN-ACK differs between the two captures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
