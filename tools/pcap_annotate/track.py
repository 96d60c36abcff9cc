"""TCP connection tracking with Wireshark's window-scaling semantics.

`Tracker.step(raw)` takes one raw segment tuple (`tools.pcap_annotate.read.iter_raw` order, or
a `Segment`'s fields) and returns what the annotator prints for it. The rules follow
RFC 7323 and, where the RFC leaves the display open, Wireshark's packet-tcp.c exactly,
so that `window_size_value`, `window_size_scalefactor` and `window_size` equal tshark's
fields of those names:

- a direction's shift is the Window Scale option of its own SYN (above 14: used as 14);
  Wireshark also takes the option from a non-SYN segment, for the segments after it;
- a SYN or SYN-ACK without the option sets both directions to "no scaling" (-2);
  a SYN-ACK with the option after a SYN without it leaves its own direction at -2;
- without a handshake the scale is unknown (-1); `assume_shift` (Wireshark's
  tcp.default_window_scaling) then applies to those directions only, never to -2;
- SYN windows are never scaled, nor windows of segments whose TCP length is unknown;
- a SYN (without ACK) whose sequence number differs from its direction's first one
  starts a new connection on the same ports (Wireshark's "TCP port numbers reused").
"""

from __future__ import annotations

from collections import OrderedDict

from tools.pcap_annotate.records import ACK, FIN, RST, SCALE_NONE, SCALE_UNKNOWN, SYN

MAX_SHIFT = 14  # RFC 7323 §2.3
# Bounds on remembered connections, so memory stays flat whatever the capture's size.
# About 1.4 KB each: 15,000 open and 5,000 closed connections stay under 30 MB.
LIVE_LIMIT = 15_000
CLOSED_LIMIT = 5_000

# Indexes into a direction's state list (lists, not objects: this runs per packet).
D_SCALE, D_BASE, D_NEXT, D_ACKED, D_WINDOW, D_FIN, D_NOTED = range(7)
# Indexes into a connection's state list.
C_ID, C_DIRS, C_KEYS, C_CLOSED, C_SIDES = range(5)


def _new_direction() -> list:
    return [SCALE_UNKNOWN, None, None, None, None, False, False]


class Tracker:
    """Connections of one capture, in order of first appearance (ids from 1)."""

    def __init__(self, assume_shift: int | None = None) -> None:
        if assume_shift is not None and not 0 <= assume_shift <= MAX_SHIFT:
            raise ValueError(f"an assumed shift must be 0..{MAX_SHIFT}, not {assume_shift}")
        self.assume_shift = -1 if assume_shift is None else assume_shift
        # Per direction state: (tcp.window_size_scalefactor, shift applied to the window).
        self.factors = {shift: (1 << shift, shift) for shift in range(MAX_SHIFT + 1)}
        self.factors[SCALE_NONE] = (SCALE_NONE, 0)
        self.factors[SCALE_UNKNOWN] = (
            (1 << assume_shift, assume_shift) if assume_shift is not None else (SCALE_UNKNOWN, 0)
        )
        self.unknown_note = (
            "handshake not captured: window scale unknown"
            if assume_shift is None
            else f"handshake not captured: shift {assume_shift} assumed"
        )
        # Ordered, so the oldest entry goes first in O(1) when a table is full.
        self.live: OrderedDict[tuple, tuple] = OrderedDict()
        self.live_get = self.live.get  # bound once: this runs per packet
        self.closed: OrderedDict[tuple, tuple] = OrderedDict()
        self.count = 0

    def _open(self, key: tuple, reverse: tuple, flags: int) -> tuple:
        """A new connection; a SYN-ACK seen first comes from the server (direction 1)."""
        self.count += 1
        if flags & (SYN | ACK) == SYN | ACK:
            key, reverse = reverse, key
        client, server = _new_direction(), _new_direction()
        conn = [self.count, (client, server), (key, reverse), False]
        # What a key finds: (connection, direction, sender's state, receiver's state).
        conn.append(((conn, 0, client, server), (conn, 1, server, client)))
        if len(self.live) >= 2 * LIVE_LIMIT:  # forget the oldest connection still open
            self._drop(self.live.popitem(last=False)[1][0], self.live)
        self.live[key], self.live[reverse] = conn[C_SIDES]
        return conn[C_SIDES][1 if flags & (SYN | ACK) == SYN | ACK else 0]

    def _forget(self, conn: list, table: dict) -> None:
        for key in conn[C_KEYS]:
            table.pop(key, None)

    def _drop(self, conn: list, table: dict) -> None:
        """Forget a connection for good. Its record and its sides refer to each other:
        unlinked here, it is freed at once instead of waiting for the cyclic garbage
        collector, which lets thousands pile up (megabytes on captures with many)."""
        self._forget(conn, table)
        conn[C_SIDES] = None

    def _close(self, conn: list) -> None:
        """Move a finished connection to the bounded table of closed ones."""
        conn[C_CLOSED] = True
        key, reverse = conn[C_KEYS]
        self._forget(conn, self.live)
        if len(self.closed) >= 2 * CLOSED_LIMIT:
            self._drop(self.closed.popitem(last=False)[1][0], self.closed)
        self.closed[key], self.closed[reverse] = conn[C_SIDES]

    def step(self, raw) -> tuple:
        """(connection, direction 0|1, scalefactor|None, window_size, rel seq, rel ack,
        bytes in flight|None, notes list) for one segment.

        The scale factor is None for SYN segments, whose window is never scaled
        (tshark leaves tcp.window_size_scalefactor empty there). Sequence arithmetic
        is modulo 2**32 (`& 0xFFFFFFFF`, RFC 9293 §3.4).
        """
        if len(raw) == 19:  # from the binary reader
            (_, _, _, src, sport, dst, dport, flags, seq, ack, window, payload_len, wscale,
             _, _, _, _, options_complete, length_known) = raw  # fmt: skip
            given_relative = not length_known
        else:  # a Segment's fields: a text trace may print seq/ack relative already
            (_, _, _, src, sport, dst, dport, flags, seq, ack, window, payload_len, wscale,
             _, _, _, _, options_complete, length_known, relative) = raw  # fmt: skip
            given_relative = relative or not length_known
        key = (src, sport, dst, dport)
        found = self.live_get(key)
        if found is None:
            found = self.closed.get(key)
        notes: list[str] = []
        syn = flags & SYN
        if found is None or syn:
            found = self._find_or_open(found, key, flags, seq, notes)
        conn, direction, fwd, rev = found
        if length_known:  # Wireshark's relative-sequence bases (tcp_analyze_sequence_number)
            if fwd[D_BASE] is None:
                fwd[D_BASE] = seq if syn else (seq - 1) & 0xFFFFFFFF
            if rev[D_BASE] is None and flags & ACK:
                rev[D_BASE] = (ack - 1) & 0xFFFFFFFF
        if syn:
            self._handshake(fwd, rev, flags, wscale, options_complete, notes)
            scalefactor = None
            window_size = window
            end = (seq + payload_len + 1 + (flags & FIN)) & 0xFFFFFFFF
        else:
            shift = fwd[D_SCALE]
            scalefactor, applied = self.factors[shift]
            if applied and length_known:
                window_size = window << applied
            else:
                window_size = window
                if not length_known:
                    notes.append("TCP length unknown (IP fragment or short): window not scaled")
            if shift == SCALE_UNKNOWN and not fwd[D_NOTED]:
                fwd[D_NOTED] = True
                notes.append(self.unknown_note)
            if not window and not flags & (FIN | RST):
                notes.append("zero window")
            end = (seq + payload_len + (flags & FIN)) & 0xFFFFFFFF
        # Sequence space: the sender's highest next byte and the peer's latest ack.
        high = fwd[D_NEXT]
        if high is None or 0 < ((end - high) & 0xFFFFFFFF) < 0x80000000:
            fwd[D_NEXT] = high = end
        if flags & ACK:
            rev_acked = rev[D_ACKED]
            if rev_acked is None or ((ack - rev_acked) & 0xFFFFFFFF) < 0x80000000:
                rev[D_ACKED] = ack
        acked = fwd[D_ACKED]
        if acked is None:
            in_flight = None
        else:
            in_flight = (high - acked) & 0xFFFFFFFF
            if payload_len and rev[D_WINDOW] is not None and rev[D_SCALE] >= 0:
                if ((seq + payload_len - acked) & 0xFFFFFFFF) == rev[D_WINDOW]:
                    notes.append("window full: the receiver's window is completely used")
        if syn:
            fwd[D_WINDOW] = None
        else:
            fwd[D_WINDOW] = window_size
            if wscale is not None:  # Wireshark applies it from the next segment on
                fwd[D_SCALE] = min(wscale, MAX_SHIFT)
                notes.append("window scale option outside a SYN: RFC 7323 ignores it")
        base = fwd[D_BASE]
        rel_seq = seq if base is None or given_relative else (seq - base) & 0xFFFFFFFF
        base = rev[D_BASE]
        if flags & ACK and base is not None and not given_relative:
            rel_ack = (ack - base) & 0xFFFFFFFF
        else:
            rel_ack = ack
        if flags & (RST | FIN):
            self._finish(conn, fwd, rev, flags)
        return conn[C_ID], direction, scalefactor, window_size, rel_seq, rel_ack, in_flight, notes

    def _find_or_open(self, found, key: tuple, flags: int, seq: int, notes: list) -> tuple:
        """The segment's connection; a SYN with a new ISN on known ports opens a new one."""
        reverse = (key[2], key[3], key[0], key[1])
        if found is None:
            return self._open(key, reverse, flags)
        conn, _direction, fwd, _rev = found
        base = fwd[D_BASE]
        if flags & (SYN | ACK) == SYN and base is not None and seq != base:
            if not conn[C_CLOSED]:
                self._forget(conn, self.live)
            self._drop(conn, self.closed)
            notes.append("new SYN on the same ports: a new connection")
            return self._open(key, reverse, flags)
        return found

    def _handshake(self, fwd: list, rev: list, flags: int, wscale, complete: bool, notes) -> None:
        """Wireshark's handling of the WS option and its verify_tcp_window_scaling()."""
        if not flags & SYN:  # RFC 7323 §2.2: a WS option without SYN MUST be ignored
            return
        if wscale is not None:
            if wscale > MAX_SHIFT:
                notes.append(f"window scale shift {wscale} > {MAX_SHIFT}: used as {MAX_SHIFT}")
            fwd[D_SCALE] = min(wscale, MAX_SHIFT)
        if not complete:  # the options were cut: Wireshark stops before verifying
            notes.append("options cut short by the snap length")
        elif fwd[D_SCALE] == SCALE_UNKNOWN:
            fwd[D_SCALE] = rev[D_SCALE] = SCALE_NONE
            notes.append("no window scale option: scaling off in both directions")
        elif flags & ACK and rev[D_SCALE] == SCALE_NONE:
            fwd[D_SCALE] = SCALE_NONE
            notes.append("SYN-ACK scales but the SYN did not: scaling off")

    def _finish(self, conn: list, fwd: list, rev: list, flags: int) -> None:
        if flags & RST:
            self._close(conn)
        else:
            fwd[D_FIN] = True
            if rev[D_FIN]:
                self._close(conn)
