"""Link types the struct decoder does not know (802.11, radiotap, PPP, ...), read with scapy.

Slow (scapy dissects the whole frame) but used only for those link types: the reader
asks `scapy_decoder(linktype)` when `tools.pcap_annotate.decode.LINK_DECODERS` has no entry.
Scapy finds the IP layer; the struct decoder reads from there as for any other frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tools.pcap_annotate.decode import ip_by_version

logger = logging.getLogger(__name__)


def scapy_decoder(linktype: int) -> Callable | None:
    """A decoder with the `LINK_DECODERS` signature, or None if scapy lacks the type too."""
    import scapy.all  # noqa: F401 - loads every layer, so the link-type table is complete
    from scapy.config import conf
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    link_layer = conf.l2types.num2layer.get(linktype)
    if link_layer is None:
        return None
    logger.info("link type %s read with scapy's %s (slower)", linktype, link_layer.__name__)

    def decode(buf, pos: int, end: int, orig_end: int):
        try:
            offset = _ip_offset(link_layer(bytes(buf[pos:end])), (IP, IPv6))
        except Exception:  # noqa: BLE001 - scapy's dissectors raise many kinds on bad frames
            logger.debug("scapy could not dissect a %s frame", link_layer.__name__)
            return None  # a malformed link header: no segment here, as for Wireshark
        return None if offset is None else ip_by_version(buf, pos + offset, end, orig_end)

    return decode


def _ip_offset(layer, ip_layers: tuple) -> int | None:
    """Bytes before the first IP layer of a dissected frame; None if it has none."""
    offset = 0
    while layer and not isinstance(layer, ip_layers):
        header = layer.raw_packet_cache  # the bytes scapy dissected for this header
        if header is None:  # not kept (a post-dissection hook ran): its built length
            offset += len(bytes(layer)) - len(bytes(layer.payload))
        else:
            offset += len(header)
        layer = layer.payload
    return offset if layer else None
