"""The lab's bounded transfer: a tiny TCP server that sends N bytes and a client that reads them.

`serve` runs in the server namespace, `fetch` in the client namespace (so the client's
sysctls govern the receive window the fault is about). Both stop at the byte count or the
time cap, whichever comes first, and print one JSON line with what they did.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

CHUNK = 64 * 1024


class LabTransferError(ValueError):
    """The transfer could not start (address in use, nobody listening)."""


def serve(address: str, port: int, size: int, seconds: float, ready) -> dict:
    """Accept one connection and send it `size` bytes, stopping after `seconds`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((address, port))
    except OSError as error:
        raise LabTransferError(f"cannot listen on {address}:{port}: {error.strerror}") from error
    listener.listen(1)
    listener.settimeout(seconds)
    ready()
    deadline = time.monotonic() + seconds
    try:
        connection, _ = listener.accept()
    except TimeoutError as error:
        raise LabTransferError(f"no client connected within {seconds:g} s") from error
    finally:
        listener.close()
    sent = 0
    payload = bytes(CHUNK)
    with connection:
        while sent < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            connection.settimeout(remaining)
            try:
                sent += connection.send(payload[: min(CHUNK, size - sent)])
            except (TimeoutError, ConnectionError):
                break
    return {"role": "server", "sent": sent}


def fetch(address: str, port: int, size: int, seconds: float) -> dict:
    """Connect and read up to `size` bytes for at most `seconds`; report bytes and time."""
    started = time.monotonic()
    deadline = started + seconds
    try:
        connection = socket.create_connection((address, port), timeout=seconds)
    except OSError as error:
        raise LabTransferError(f"cannot connect to {address}:{port}: {error}") from error
    connected = time.monotonic()
    received = 0
    last_byte = connected
    with connection:
        while received < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            connection.settimeout(remaining)
            try:
                data = connection.recv(CHUNK)
            except TimeoutError:
                break
            if not data:
                break
            received += len(data)
            last_byte = time.monotonic()
    finished = time.monotonic() if received < size else last_byte
    return {
        "role": "client",
        "received": received,
        "complete": received >= size,
        "connect_seconds": round(connected - started, 6),
        "seconds": round(finished - connected, 6),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.wscale_lab.transfer", description=__doc__
    )
    parser.add_argument("role", choices=["serve", "fetch"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, required=True, help="bytes to transfer")
    parser.add_argument("--seconds", type=float, required=True, help="time cap")
    parser.add_argument("--tag", default="", help="the lab run this process belongs to")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.role == "serve":
            result = serve(
                args.address,
                args.port,
                args.size,
                args.seconds,
                lambda: print(json.dumps({"event": "ready"}), flush=True),
            )
        else:
            result = fetch(args.address, args.port, args.size, args.seconds)
    except LabTransferError as error:
        print(f"wscale_lab.transfer: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
