"""The binary capture reader: fields as crafted, every container and link type, bad input."""

from __future__ import annotations

import io
import struct

import pytest
from pcap_captures import (
    LINKS,
    MSS,
    T0_NS,
    conversation,
    epb,
    frames,
    pcap,
    pcapng_section,
)

from tools.pcap_annotate import main
from tools.pcap_annotate.read import PcapError, iter_raw, read_segments
from tools.pcap_annotate.records import ACK, FIN, PSH, SYN

# What conversation() crafts, packet by packet: (flags, seq, ack, window, payload, wscale).
CRAFTED = [
    (SYN, 1000, 0, 64240, 0, 6),
    (SYN | ACK, 5000, 1001, 65160, 0, 2),
    (ACK, 1001, 5001, 502, 0, None),
    (PSH | ACK, 1001, 5001, 502, 18, None),
    (ACK, 5001, 1019, 509, MSS, None),
    (PSH | ACK, 5001 + MSS, 1019, 509, MSS, None),
    (ACK, 1019, 5001 + 2 * MSS, 0, 0, None),
    (ACK, 1019, 5001 + 2 * MSS, 1400, 0, None),
    (FIN | ACK, 5001 + 2 * MSS, 1019, 509, 0, None),
    (FIN | ACK, 1019, 5002 + 2 * MSS, 1400, 0, None),
    (ACK, 5002 + 2 * MSS, 1020, 509, 0, None),
]


def _fields(segment) -> tuple:
    return (
        segment.flags,
        segment.seq,
        segment.ack,
        segment.window,
        segment.payload_len,
        segment.wscale,
    )


def _capture(**kwargs) -> bytes:
    return pcap(frames(conversation()), 1, **kwargs)


def test_segments_carry_the_crafted_values():
    segments = list(read_segments(io.BytesIO(_capture())))
    assert [_fields(s) for s in segments] == CRAFTED
    syn = segments[0]
    assert (syn.src, syn.sport, syn.dst, syn.dport) == ("10.0.0.1", 40000, "10.0.0.2", 80)
    assert (syn.mss, syn.ip_version, syn.frame) == (1460, 4, 1)
    assert not syn.truncated and syn.options_complete and syn.length_known


LINK_RUNS = [
    (link, v6)
    for link in sorted(LINKS)
    for v6 in (False, True)
    if (link, v6) not in (("ipv4", True), ("ipv6", False))  # one IP version only
]


@pytest.mark.parametrize(("link", "v6"), LINK_RUNS)
def test_every_link_type_gives_the_same_segments(link, v6):
    linktype = LINKS[link][0]
    data = pcap(frames(conversation(v6=v6), link), linktype)
    segments = list(read_segments(io.BytesIO(data)))
    assert [_fields(s) for s in segments] == CRAFTED
    assert segments[0].src == ("2001:db8::1" if v6 else "10.0.0.1")


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(order, nano):
    segments = list(read_segments(io.BytesIO(_capture(order=order, nano=nano))))
    assert [_fields(s) for s in segments] == CRAFTED
    assert [round(s.time * 1000) for s in segments] == [
        T0_NS // 1_000_000 + n for n in range(len(CRAFTED))
    ]


def test_pcapng_interfaces_with_their_own_resolution_and_link_type():
    captured = frames(conversation(), "ethernet")
    raw = frames(conversation(v6=True), "raw")
    data = pcapng_section("<", [(1, None), (101, 9), (113, 0x80 | 10)])
    data += epb("<", 0, T0_NS // 1000, captured[0])  # microseconds (default)
    data += epb("<", 1, T0_NS + 2_000_000_000, raw[0])  # 10^-9
    data += epb("<", 2, (T0_NS // 1_000_000_000 + 4) << 10, frames(conversation(), "sll")[0])
    segments = list(read_segments(io.BytesIO(data)))
    assert [s.frame for s in segments] == [1, 2, 3]
    assert [s.ip_version for s in segments] == [4, 6, 4]
    start = T0_NS / 1e9
    assert [s.time - start for s in segments] == pytest.approx([0, 2, 4], abs=1e-6)


def test_pcapng_time_offset_and_obsolete_packet_blocks():
    from pcap_captures import _block, _option, opb

    section = pcapng_section("<", [])
    options = _option("<", 14, struct.pack("<q", 1000)) + _option("<", 0, b"")
    section += _block("<", 1, struct.pack("<HHI", 1, 0, 0) + options)  # if_tsoffset 1000 s
    data = section + opb("<", 0, 5_000_000, frames(conversation())[0])
    (segment,) = read_segments(io.BytesIO(data))
    assert segment.time == pytest.approx(1005.0) and segment.wscale == 6


def test_stream_that_cannot_seek_is_read_to_the_end():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):  # a pipe hands over small pieces
            piece = self.data.read(min(len(buffer), 7))
            buffer[: len(piece)] = piece
            return len(piece)

    segments = list(read_segments(io.BufferedReader(Pipe(_capture()), buffer_size=16)))
    assert [_fields(s) for s in segments] == CRAFTED


def test_snap_length_cuts_are_marked():
    captured = frames(conversation(), "ethernet", snaplen=60)  # SYN options cut
    header_cut = frames(conversation()[2:3], "ethernet", snaplen=14 + 20 + 18)
    no_window = frames(conversation()[2:3], "ethernet", snaplen=14 + 20 + 12)
    segments = list(read_segments(io.BytesIO(pcap(captured + header_cut + no_window, 1))))
    syn = segments[0]
    assert syn.truncated and not syn.options_complete and syn.wscale is None
    assert syn.mss == 1460  # the option before the cut is still read
    assert segments[4].payload_len == MSS and segments[4].truncated  # length from IP
    cut = segments[len(captured)]
    assert cut.window == 502 and cut.truncated and not cut.options_complete
    assert len(segments) == len(captured) + 1  # the frame cut before its window is skipped


def test_first_fragment_has_unknown_length_and_later_ones_are_skipped():
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Raw

    tcp = bytes(conversation()[4][TCP])
    head = IP(src="10.0.0.2", dst="10.0.0.1", proto=6, flags="MF", id=9) / Raw(tcp[:504])
    tail = IP(src="10.0.0.2", dst="10.0.0.1", proto=6, frag=63, id=9) / Raw(tcp[504:])
    segments = list(read_segments(io.BytesIO(pcap(frames([head, tail], "raw"), 101))))
    assert len(segments) == 1
    assert segments[0].seq == 5001 and not segments[0].length_known


def _offsets(captured) -> list[int]:
    """Byte offset of each record header in a classic pcap file."""
    offsets, at = [], 24
    for data, _ in captured:
        offsets.append(at)
        at += 16 + len(data)
    return offsets


def _run_bad(tmp_path, capsys, data: bytes):
    path = tmp_path / "bad.pcap"
    path.write_bytes(data)
    status = main(["--json", str(path)])
    captured = capsys.readouterr()
    return path, status, captured.out.splitlines(), captured.err


BAD_CASES = {
    "empty": lambda c: (b"", 0, 0, "not a capture file"),
    "not a capture": lambda c: (b"hello, this is not a capture\n", 0, 0, "not a pcap"),
    "cut file header": lambda c: (_capture()[:20], 0, 0, "file header cut short"),
    "cut record": lambda c: (_capture()[: _offsets(c)[4] + 30], 5, 4, "record cut short"),
    "cut record header": lambda c: (_capture()[: _offsets(c)[6] + 9], 7, 6, "header cut short"),
    "absurd length": lambda c: (_absurd(c), 3, 2, "captured length 2147483647 is absurd"),
    "unsupported link type": lambda c: (pcap(c, 147), 0, 0, "link type 147"),
}


def _absurd(captured) -> bytes:
    data = bytearray(_capture())
    struct.pack_into("<I", data, _offsets(captured)[2] + 8, 0x7FFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_one_line_with_offset_and_frame(case, tmp_path, capsys):
    captured = frames(conversation())
    data, frame, valid, reason = BAD_CASES[case](captured)
    offset = _offsets(captured)[frame - 1] if frame else (20 if "link" in reason else 0)
    path, status, out, err = _run_bad(tmp_path, capsys, data)
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"{path}: frame {frame} at byte {offset}: ")
    assert reason in err
    assert len(out) == valid  # what was valid was annotated first


def test_pcapng_garbage_between_blocks(tmp_path, capsys):
    captured = frames(conversation())
    head = pcapng_section("<", [(1, None)])
    blocks = [epb("<", 0, n, frame) for n, frame in enumerate(captured)]
    garbage_at = len(head) + sum(len(block) for block in blocks[:3])
    data = head + b"".join(blocks[:3]) + b"\xde\xad\xbe\xef\x10\0\0\0" + b"".join(blocks[3:])
    path, status, out, err = _run_bad(tmp_path, capsys, data)
    assert status == 2 and len(out) == 3
    assert err == f"{path}: frame 4 at byte {garbage_at}: block lengths disagree (corrupt block)\n"


def test_pcapng_packet_of_an_undefined_interface(tmp_path, capsys):
    captured = frames(conversation())
    head = pcapng_section("<", [(1, None)])
    data = head + epb("<", 0, 0, captured[0]) + epb("<", 3, 1, captured[1])
    path, status, out, err = _run_bad(tmp_path, capsys, data)
    offset = len(head) + len(epb("<", 0, 0, captured[0]))
    assert (status, len(out)) == (2, 1)
    assert err == f"{path}: frame 2 at byte {offset}: packet names interface 3, not defined\n"


def test_gzipped_capture_and_its_corruption(tmp_path, capsys):
    import gzip

    data = gzip.compress(_capture(), mtime=0)
    assert [_fields(s) for s in read_segments(io.BytesIO(data))] == CRAFTED
    path, status, out, err = _run_bad(tmp_path, capsys, data[: len(data) // 2])
    assert status == 2 and 0 < len(out) < len(CRAFTED)
    assert err.startswith(f"{path}: frame {len(out) + 1} at byte ")
    assert "cannot read on: Compressed file ended" in err and err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "absent.pcap")]) == 2
    err = capsys.readouterr().err
    assert err == f"{tmp_path / 'absent.pcap'}: cannot read: No such file or directory\n"


def test_reader_raises_after_yielding_what_is_valid():
    data = _capture()[:-5]
    reader = iter_raw(io.BytesIO(data))
    got = [next(reader) for _ in range(len(CRAFTED) - 1)]
    assert len(got) == len(CRAFTED) - 1
    with pytest.raises(PcapError) as error:
        next(reader)
    assert error.value.frame == len(CRAFTED)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("snaplen", [65535, 60, 80])
def test_common_frame_shortcut_agrees_with_the_generic_decoder(v6, snaplen):
    from tools.pcap_annotate.decode import ethernet, ethernet_common

    taken = 0
    for number, (data, orig_len) in enumerate(frames(conversation(v6=v6), snaplen=snaplen)):
        common = ethernet_common(data, 0, len(data), orig_len > len(data), number, 0.5)
        generic = ethernet(data, 0, len(data), orig_len)
        if common is not None:
            taken += 1
            assert common == (number, 0.5, *generic)
    assert taken == 0 if (v6 and snaplen == 60) else taken >= 5  # IPv6 headers need 74 bytes


def test_mutated_captures_raise_only_pcap_errors():
    """Flipped, cut and inserted bytes: every outcome is segments, then at most a PcapError."""
    import random

    from pcap_captures import CASES

    from tools.pcap_annotate.track import Tracker

    rng = random.Random(4)
    originals = [build() for build in CASES.values()]
    outcomes = {"read to the end": 0, "PcapError": 0}
    for _ in range(400):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.6:
                data[at] = rng.randrange(256)
            elif choice < 0.8:
                del data[at : at + rng.randint(1, 40)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 40))
        tracker = Tracker()
        try:
            for raw in iter_raw(io.BytesIO(bytes(data))):
                tracker.step(raw)
            outcomes["read to the end"] += 1
        except PcapError:
            outcomes["PcapError"] += 1
    assert min(outcomes.values()) > 20  # both outcomes exercised
