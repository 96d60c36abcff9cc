"""The lab's middlebox: a bump in the wire on raw AF_PACKET sockets, in its own namespace.

It forwards every frame between the client-side and the server-side interface (the
namespace's kernel does not forward: IP forwarding stays off), applies the configured
action to the client's SYN (`tools.wscale_lab.packet`), and holds each frame for half the chosen
round-trip time before passing it on, since netem is not available: a timer heap, one
thread. Run by `tools.wscale_lab` inside the middle namespace; prints one JSON line per
SYN it saw and one with its counters when it stops.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass

from tools.wscale_lab.packet import Action, apply_action

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent, looped back to packet taps
RECEIVE_BATCH = 64  # frames drained per wakeup before looking at the timer heap again
SOCKET_BUFFER = 8 << 20
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # asm-generic/socket.h; not in the socket module


class LabMiddleboxError(ValueError):
    """The middlebox cannot start (a missing interface, a bad action)."""


@dataclass(slots=True)
class Counters:
    forwarded: int = 0
    dropped: int = 0
    syns: int = 0


def open_tap(interface: str) -> socket.socket:
    """A raw packet socket that sees and sends every frame of one interface."""
    tap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        tap.bind((interface, 0))
    except OSError as error:
        tap.close()
        raise LabMiddleboxError(f"cannot open interface {interface}: {error.strerror}") from error
    tap.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER)
    tap.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, SOCKET_BUFFER)
    tap.setblocking(False)
    return tap


def forward(
    client_tap: socket.socket,
    server_tap: socket.socket,
    action: Action,
    one_way_delay: float,
    deadline: float,
    running: list[bool],
    report,
) -> Counters:
    """Forward frames both ways until `deadline` or until `running[0]` turns false."""
    counters = Counters()
    order = itertools.count()  # equal due times leave in arrival order
    held: list[tuple[float, int, socket.socket, bytes]] = []
    routes = {
        client_tap.fileno(): (client_tap, server_tap),
        server_tap.fileno(): (server_tap, client_tap),
    }
    client_fd = client_tap.fileno()
    while running[0]:
        now = time.monotonic()
        if now >= deadline:
            break
        timeout = min(deadline - now, 0.2)
        if held:
            timeout = max(0.0, min(timeout, held[0][0] - now))
        readable, _, _ = select.select(list(routes), [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            source, target = routes[fd]
            for _ in range(RECEIVE_BATCH):
                try:
                    frame, address = source.recvfrom(65536)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:
                    continue
                if fd == client_fd:
                    frame, rewrite = apply_action(frame, action)
                    if rewrite is not None:
                        counters.syns += 1
                        report(
                            {
                                "event": "syn",
                                "shift_in": rewrite.shift_in,
                                "shift_out": rewrite.shift_out,
                            }
                        )
                heapq.heappush(held, (now + one_way_delay, next(order), target, frame))
        while held and held[0][0] <= now:
            _, _, target, frame = heapq.heappop(held)
            try:
                target.send(frame)
                counters.forwarded += 1
            except OSError:  # a full queue drops the frame, as a router would
                counters.dropped += 1
    return counters


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.wscale_lab.middlebox", description=__doc__
    )
    parser.add_argument("--client-if", required=True, help="interface towards the client")
    parser.add_argument("--server-if", required=True, help="interface towards the server")
    parser.add_argument("--action", choices=["pass", "rewrite", "strip"], default="pass")
    parser.add_argument("--to", type=int, default=0, help="the shift a rewrite writes")
    parser.add_argument("--above", type=int, help="rewrite only shifts above this one")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="round-trip delay to add")
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long")
    parser.add_argument("--tag", default="", help="the lab run this middlebox belongs to")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    running = [True]

    def stop(signum, frame):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def report(event: dict) -> None:
        print(json.dumps(event, sort_keys=True), flush=True)

    try:
        if not 0 <= args.to <= 255:
            raise LabMiddleboxError(f"--to {args.to}: a shift is one byte (0-255)")
        client_tap, server_tap = open_tap(args.client_if), open_tap(args.server_if)
    except LabMiddleboxError as error:
        print(f"wscale_lab.middlebox: {error}", file=sys.stderr)
        return 2
    action = Action(args.action, args.to, args.above)
    report({"event": "ready", "action": action.describe(), "rtt_ms": args.rtt_ms})
    counters = forward(
        client_tap,
        server_tap,
        action,
        args.rtt_ms / 2000.0,
        time.monotonic() + args.seconds,
        running,
        report,
    )
    report(
        {
            "event": "stats",
            "forwarded": counters.forwarded,
            "dropped": counters.dropped,
            "syns": counters.syns,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
