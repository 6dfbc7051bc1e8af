"""Is this request from the local network? Used to open /search/v2 to desktop clients on the LAN.

The client address is ``request.remote_addr``: the socket peer, or — only when
TRUSTED_PROXY_HOPS > 0 — the address werkzeug's ProxyFix takes from X-Forwarded-For, counting
that many hops from the right (the part our own proxies appended, which a client cannot forge).
With TRUSTED_PROXY_HOPS = 0 a forwarded request means a proxy we were not told about: its peer
address is the proxy's own (often 127.0.0.1), so such a request is never taken as local.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import request

FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
# Loopback, RFC 1918, link-local, IPv6 unique-local: spelled out, because Python's is_private
# also counts documentation and reserved ranges a LAN never hands out.
LOCAL_NETWORKS = tuple(ipaddress.ip_network(net) for net in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))
PUBLIC_SEARCH_MODES = ("lan", "all", "off")


def public_search_mode(conf: Any) -> str:
    """CONF.PUBLIC_SEARCH as one of "lan" (default), "all", "off"; true/false mean all/off."""
    value = conf.PUBLIC_SEARCH
    if value is True:
        return "all"
    if value is False:
        return "off"
    text = str(value if value is not None else "lan").strip().lower()
    if text in ("true", "yes", "on", "1"):
        return "all"
    if text in ("false", "no", "0", ""):
        return "off"
    return text if text in PUBLIC_SEARCH_MODES else "lan"


def is_local_client(conf: Any) -> bool:
    """The request's client is on loopback, a private LAN range or link-local."""
    if int(conf.TRUSTED_PROXY_HOPS or 0) <= 0 and any(
            request.headers.get(name) for name in FORWARDED_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return any(address in net for net in LOCAL_NETWORKS if net.version == address.version)


def anonymous_search_allowed(conf: Any) -> bool:
    mode = public_search_mode(conf)
    return mode == "all" or (mode == "lan" and is_local_client(conf))
