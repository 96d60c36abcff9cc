"""Compile a libpcap capture filter in-process, as `tcpdump -d` does, without a subprocess.

`tcpdump -d -y LINKTYPE FILTER` opens a "dead" handle for the link type and calls
`pcap_compile`; this module calls the same two libpcap functions through ctypes, which
costs microseconds instead of a program start. `compile_filter` returns None when
libpcap cannot be loaded, so the caller can fall back to running tcpdump.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
SNAPLEN = 262144


class BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.c_void_p)]


@functools.cache
def _library() -> ctypes.CDLL | None:
    """libpcap with the signatures this module uses, or None when it is not installed."""
    name = ctypes.util.find_library("pcap")
    if name is None:
        return None
    try:
        pcap = ctypes.CDLL(name)
    except OSError:
        return None
    pcap.pcap_open_dead.restype = ctypes.c_void_p
    pcap.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    pcap.pcap_datalink_name_to_val.restype = ctypes.c_int
    pcap.pcap_datalink_name_to_val.argtypes = [ctypes.c_char_p]
    pcap.pcap_compile.restype = ctypes.c_int
    pcap.pcap_compile.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(BpfProgram), ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
    ]  # fmt: skip
    pcap.pcap_geterr.restype = ctypes.c_char_p
    pcap.pcap_geterr.argtypes = [ctypes.c_void_p]
    pcap.pcap_freecode.argtypes = [ctypes.POINTER(BpfProgram)]
    pcap.pcap_close.argtypes = [ctypes.c_void_p]
    return pcap


def compile_filter(expression: str, linktype: str) -> tuple[bool, str] | None:
    """(compiles?, libpcap's reason when not), or None when libpcap is unavailable."""
    pcap = _library()
    if pcap is None:
        return None
    dlt = pcap.pcap_datalink_name_to_val(linktype.encode())
    if dlt < 0:
        return False, f"invalid data link type {linktype}"
    handle = pcap.pcap_open_dead(dlt, SNAPLEN)
    if not handle:
        return None
    program = BpfProgram()
    try:
        status = pcap.pcap_compile(
            handle, ctypes.byref(program), expression.encode(), 1, PCAP_NETMASK_UNKNOWN
        )
        if status != 0:
            return False, (pcap.pcap_geterr(handle) or b"").decode(errors="replace")
        pcap.pcap_freecode(ctypes.byref(program))
        return True, ""
    finally:
        pcap.pcap_close(handle)
