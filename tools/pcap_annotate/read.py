"""Streaming reader of classic pcap and pcapng files: TCP segments, nothing else.

`iter_raw(source)` yields raw tuples in `Segment` field order (frame, time, then what
`tools.pcap_annotate.decode` returns, addresses as packed bytes) for the annotator's hot path;
`read_segments(source)` yields `Segment` records. A source is a path, "-" for stdin
(read as a stream, never seeked) or a binary file object. What is valid is yielded
first; then bad input raises `PcapError` naming the byte offset and the frame.
"""

from __future__ import annotations

import gzip
import io
import socket
import struct
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from tools.pcap_annotate.decode import LINK_DECODERS, LINKTYPE_ETHERNET, ethernet_common
from tools.pcap_annotate.records import Segment

PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
# The first four bytes of a capture file, in either byte order.
CAPTURE_MAGICS = frozenset(
    struct.pack(order, magic)
    for magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAPNG_SHB)
    for order in ("<I", ">I")
)
GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952
# pcapng block types (draft-ietf-opsawg-pcapng §4).
BLOCK_IDB, BLOCK_OPB, BLOCK_SPB, BLOCK_EPB = 1, 2, 3, 6
IDB_OPT_TSRESOL, IDB_OPT_TSOFFSET = 9, 14
# Blocks that are records without a packet: Wireshark numbers them as frames too.
BLOCK_RECORDS = frozenset({0x00000BAD, 0x40000BAD, 9})  # custom blocks, systemd journal

MAX_FRAME = 256 * 1024  # a larger captured length than this is a corrupt length field
MAX_BLOCK = 16 * 1024 * 1024  # other pcapng blocks (names, statistics) stay below this
CHUNK = 1 << 20


class PcapError(ValueError):
    """The capture is not readable from `offset` on; `frame` is the frame being read."""

    def __init__(self, reason: str, offset: int, frame: int) -> None:
        super().__init__(f"frame {frame} at byte {offset}: {reason}")
        self.reason, self.offset, self.frame = reason, offset, frame


class _Stream:
    """A read buffer over a binary stream: callers parse in place with unpack_from."""

    __slots__ = ("file", "buf", "pos", "end", "consumed", "eof", "read", "on_wait")

    def __init__(self, file: BinaryIO, head: bytes, on_wait=None) -> None:
        self.file, self.buf, self.pos, self.end = file, head, 0, len(head)
        self.consumed, self.eof = 0, False  # bytes dropped before buf[0]
        # read1 returns what a pipe holds now: a live `tcpdump -w - -U` is annotated as
        # it arrives instead of a megabyte later; on_wait() runs before each such read
        self.read = getattr(file, "read1", file.read)
        self.on_wait = on_wait

    def offset(self) -> int:
        return self.consumed + self.pos

    def fill(self, need: int, frame: int = 0) -> bool:
        """Make `need` bytes available at pos; False if the stream ends first.

        `frame` is the frame being read, named if the data cannot be read at all
        (a corrupt compressed capture, an I/O error).
        """
        while self.end - self.pos < need:
            if self.eof:
                return False
            if self.on_wait is not None:
                self.on_wait()
            try:
                more = self.read(max(CHUNK, need))
            except (OSError, EOFError, zlib.error) as error:
                raise PcapError(f"cannot read on: {error}", self.offset(), frame) from None
            if not more:
                self.eof = True
                continue
            self.consumed += self.pos
            self.buf = self.buf[self.pos : self.end] + more
            self.pos, self.end = 0, len(self.buf)
        return True


class Prepended(io.RawIOBase):
    """Bytes already read from a stream (to sniff its format), then the rest of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size], self.head = self.head[:size], self.head[size:]
            return size
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open(source) -> tuple[BinaryIO, bool]:
    if isinstance(source, str) and source == "-":
        return sys.stdin.buffer, False
    if isinstance(source, str | bytes) or hasattr(source, "__fspath__"):
        return open(source, "rb"), True  # noqa: SIM115 - closed by iter_raw
    return source, False


def iter_raw(source, head: bytes = b"", on_wait=None) -> Iterator[tuple]:
    """Raw TCP tuples from a capture; `head` is bytes already read from the stream;
    `on_wait()`, if given, is called before each read that may block.

    The file's magic is checked at once (PcapError here if it is not a capture).
    """
    file, owned = _open(source)
    opened = file
    try:
        if not head:
            head = file.read(2)
        if head[:2] == GZIP_MAGIC:  # a compressed capture, as Wireshark reads them
            file = gzip.GzipFile(fileobj=io.BufferedReader(Prepended(head, file)))
            head = b""
        records = _records(_Stream(file, head, on_wait))
    except BaseException:
        if owned:
            opened.close()
        raise
    return _closing(records, opened) if owned else records


def _closing(records: Iterator[tuple], file: BinaryIO) -> Iterator[tuple]:
    with file:
        yield from records


def _records(stream: _Stream) -> Iterator[tuple]:
    if not stream.fill(4):
        raise PcapError("not a capture file: too short for a magic number", 0, 0)
    magic = struct.unpack_from("<I", stream.buf, 0)[0]
    if magic == PCAPNG_SHB:
        return _pcapng(stream)
    if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        return _classic(stream, "<")
    if struct.unpack_from(">I", stream.buf, 0)[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        return _classic(stream, ">")
    raise PcapError(f"not a pcap or pcapng file (magic 0x{magic:08x})", 0, 0)


def _link_decoder(linktype: int):
    """The struct decoder of a link type, else scapy's dissection of it, else None."""
    decode = LINK_DECODERS.get(linktype)
    if decode is None:
        from tools.pcap_annotate.scapy_links import scapy_decoder

        decode = scapy_decoder(linktype)
    return decode


def _classic(stream: _Stream, order: str) -> Iterator[tuple]:
    if not stream.fill(24):
        raise PcapError("file header cut short (24 bytes needed)", 0, 0)
    magic, _major, _minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from(
        order + "IHHiIII", stream.buf, 0
    )
    frac_scale = 1e-9 if magic == PCAP_MAGIC_NS else 1e-6
    linktype &= 0x0FFFFFFF  # the upper bits carry the FCS length (pcap-linktype(7))
    if _link_decoder(linktype) is None:
        raise PcapError(f"link type {linktype} is not supported", 20, 0)
    stream.pos = 24
    yield from classic_records(stream, order, frac_scale, linktype, snaplen, 0)


def classic_ethernet_header(head: bytes) -> tuple[str, float, int, int] | None:
    """(byte order, seconds per tick, snaplen, link type) of a classic pcap of Ethernet
    frames, else None (the reference path reads everything else)."""
    if len(head) < 24:
        return None
    for order in "<>":
        magic, snaplen, linktype = struct.unpack_from(order + "I12xII", head, 0)
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            if linktype & 0x0FFFFFFF != LINKTYPE_ETHERNET:
                return None
            return order, 1e-9 if magic == PCAP_MAGIC_NS else 1e-6, snaplen, LINKTYPE_ETHERNET
    return None


def record_limit(snaplen: int) -> int:
    """The largest captured length believed in a classic pcap of this snap length."""
    return max(snaplen, MAX_FRAME) if snaplen <= MAX_FRAME * 4 else MAX_FRAME * 4


def classic_records(
    stream: _Stream, order: str, frac_scale: float, linktype: int, snaplen: int, frame: int
) -> Iterator[tuple]:
    """Raw tuples of classic pcap records from the stream's position on; `frame` records
    came before it."""
    decode = _link_decoder(linktype)
    limit = record_limit(snaplen)
    record = struct.Struct(order + "IIII").unpack_from
    ethernet = linktype == LINKTYPE_ETHERNET
    buf, pos, end = stream.buf, stream.pos, stream.end
    while True:
        if end - pos < 16:  # refill only at a chunk's edge; parse in place otherwise
            stream.pos = pos
            if not stream.fill(16, frame + 1):
                if stream.end > stream.pos:
                    raise PcapError(
                        f"record header cut short ({stream.end - stream.pos} of 16 bytes)",
                        stream.offset(),
                        frame + 1,
                    )
                return
            buf, pos, end = stream.buf, stream.pos, stream.end
        frame += 1
        sec, frac, caplen, origlen = record(buf, pos)
        if caplen > limit:
            stream.pos = pos
            raise PcapError(
                f"captured length {caplen} is absurd (snaplen {snaplen})", stream.offset(), frame
            )
        start = pos + 16
        pos = start + caplen
        if pos > end:
            stream.pos = start - 16
            if not stream.fill(16 + caplen, frame):
                raise PcapError(
                    f"record cut short: {caplen} bytes announced, "
                    f"{stream.end - stream.pos - 16} left",
                    stream.offset(),
                    frame,
                )
            buf, end = stream.buf, stream.end
            start = stream.pos + 16
            pos = start + caplen
        when = sec + frac * frac_scale
        if ethernet:
            common = ethernet_common(buf, start, caplen, origlen > caplen, frame, when)
            if common is not None:
                yield common
                continue
        decoded = decode(buf, start, pos, start + (origlen if origlen > caplen else caplen))
        if decoded is not None:
            yield (frame, when, *decoded)


class _Interface:
    __slots__ = ("decode", "linktype", "tick", "offset", "snaplen")

    def __init__(self, linktype: int, snaplen: int, tick: float, offset: int) -> None:
        self.linktype, self.snaplen, self.tick, self.offset = linktype, snaplen, tick, offset
        self.decode = _link_decoder(linktype)


def _idb_options(buf, pos: int, end: int, order: str) -> tuple[float, int]:
    """if_tsresol as seconds per tick and if_tsoffset in seconds (defaults 1e-6, 0)."""
    tick, offset = 1e-6, 0
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", buf, pos)
        if code == 0:
            break
        value = pos + 4
        if value + length > end:
            break
        if code == IDB_OPT_TSRESOL and length >= 1:
            resol = buf[value]
            tick = 2.0 ** -(resol & 0x7F) if resol & 0x80 else 10.0**-resol
        elif code == IDB_OPT_TSOFFSET and length == 8:
            offset = struct.unpack_from(order + "q", buf, value)[0]
        pos = value + (length + 3) // 4 * 4
    return tick, offset


def _pcapng(stream: _Stream) -> Iterator[tuple]:
    order = "<"
    interfaces: list[_Interface] = []
    frame = 0
    while True:
        if not stream.fill(12, frame + 1):
            if stream.end > stream.pos:
                raise PcapError("block header cut short", stream.offset(), frame + 1)
            return
        buf, pos = stream.buf, stream.pos
        block_type = struct.unpack_from(order + "I", buf, pos)[0]
        if block_type == PCAPNG_SHB:  # a new section: its own byte order and interfaces
            bom = struct.unpack_from("<I", buf, pos + 8)[0]
            if bom == PCAPNG_BYTE_ORDER_MAGIC:
                order = "<"
            elif struct.unpack_from(">I", buf, pos + 8)[0] == PCAPNG_BYTE_ORDER_MAGIC:
                order = ">"
            else:
                raise PcapError(
                    "section header with a bad byte-order magic", stream.offset(), frame + 1
                )
            interfaces = []
        block_len = struct.unpack_from(order + "I", buf, pos + 4)[0]
        is_packet = block_type in (BLOCK_EPB, BLOCK_SPB, BLOCK_OPB)
        if is_packet or block_type in BLOCK_RECORDS:
            frame += 1
        current = frame if is_packet else frame + 1  # the frame an error is reported at
        if block_len < 12 or block_len % 4:
            raise PcapError(f"block length {block_len} is invalid", stream.offset(), current)
        if block_len > (MAX_FRAME + 64 if is_packet else MAX_BLOCK):
            raise PcapError(f"block length {block_len} is absurd", stream.offset(), current)
        if not stream.fill(block_len, current):
            raise PcapError(
                f"block cut short: {block_len} bytes announced, {stream.end - stream.pos} left",
                stream.offset(),
                current,
            )
        buf, pos = stream.buf, stream.pos
        end = pos + block_len - 4
        if struct.unpack_from(order + "I", buf, end)[0] != block_len:
            raise PcapError("block lengths disagree (corrupt block)", stream.offset(), current)
        if is_packet:
            decoded = _packet_block(block_type, buf, pos, end, order, interfaces, stream, frame)
            if decoded is not None:
                yield decoded
        elif block_type == BLOCK_IDB:
            if end - pos < 16:
                raise PcapError("interface block cut short", stream.offset(), current)
            linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", buf, pos + 8)
            tick, offset = _idb_options(buf, pos + 16, end, order)
            interfaces.append(_Interface(linktype, snaplen, tick, offset))
        stream.pos = pos + block_len


def _packet_block(block_type, buf, pos, end, order, interfaces, stream, frame):
    if block_type == BLOCK_SPB:
        if not interfaces:
            raise PcapError("packet before any interface block", stream.offset(), frame)
        iface = interfaces[0]
        origlen = struct.unpack_from(order + "I", buf, pos + 8)[0]
        data = pos + 12
        caplen = min(origlen, end - data, iface.snaplen or origlen)
        when = 0.0  # a simple packet block carries no timestamp
    else:
        if block_type == BLOCK_EPB:
            if_id, ts_high, ts_low, caplen, origlen = struct.unpack_from(
                order + "IIIII", buf, pos + 8
            )
        else:
            if_id, _drops, ts_high, ts_low, caplen, origlen = struct.unpack_from(
                order + "HHIIII", buf, pos + 8
            )
        data = pos + 28
        if if_id >= len(interfaces):
            raise PcapError(f"packet names interface {if_id}, not defined", stream.offset(), frame)
        iface = interfaces[if_id]
        if data + caplen > end:
            raise PcapError(f"captured length {caplen} overruns its block", stream.offset(), frame)
        when = ((ts_high << 32) | ts_low) * iface.tick + iface.offset
    if iface.decode is None:
        raise PcapError(f"link type {iface.linktype} is not supported", stream.offset(), frame)
    if iface.linktype == LINKTYPE_ETHERNET:
        common = ethernet_common(buf, data, caplen, origlen > caplen, frame, when)
        if common is not None:
            return common
    decoded = iface.decode(buf, data, data + caplen, data + max(caplen, origlen))
    if decoded is None:
        return None
    return (frame, when, *decoded)


_NTOP = {4: socket.AF_INET, 6: socket.AF_INET6}


def segment_from_raw(raw: tuple, names: dict[bytes, str] | None = None) -> Segment:
    """A `Segment` from a raw tuple (addresses to text; `names` caches them)."""
    names = {} if names is None else names
    ipver, src, dst = raw[2], raw[3], raw[5]
    src_text = names.get(src) or names.setdefault(src, socket.inet_ntop(_NTOP[ipver], src))
    dst_text = names.get(dst) or names.setdefault(dst, socket.inet_ntop(_NTOP[ipver], dst))
    return Segment(raw[0], raw[1], ipver, src_text, raw[4], dst_text, *raw[6:])


def read_segments(source, head: bytes = b"") -> Iterator[Segment]:
    """`Segment`s of every TCP packet in a capture (path, "-" or binary file object)."""
    names: dict[bytes, str] = {}
    for raw in iter_raw(source, head):
        yield segment_from_raw(raw, names)
