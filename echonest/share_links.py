"""Share links that reach this server: which base URL a link shown to users should carry.

``ECHONEST_DOMAIN`` is only right when this server *is* that domain (the request came in on
it, or the operator says so with ``SHARE_BASE_URL``). Otherwise a link is built from the
address the request used, except that ``localhost`` reaches nobody else: when the server
listens on every interface, a loopback visitor (the host on their laptop) is given the
machine's LAN address instead, which the guests' phones can open.

Pure functions over plain values (host header, scheme, config, an interface list), so every
case is testable with a fake interface list; ``system_interfaces()`` is the one that looks.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

ANY_ADDRESSES = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names of "every interface"
LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "cni", "flannel",
                    "tun", "tap", "wg", "zt")
SIOCGIFADDR = 0x8915


def split_host(host_header: str) -> tuple[str, str]:
    """``"example.org:5000"`` → ("example.org", "5000"); IPv6 in brackets is kept whole."""
    host = (host_header or "").strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[: end + 1], host[end + 1:]
        return name, rest[1:] if rest.startswith(":") else ""
    name, _, port = host.partition(":")
    return name, port


def is_loopback(name: str) -> bool:
    name = name.strip("[]")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def lan_addresses(interfaces: list[tuple[str, str]]) -> list[str]:
    """Private IPv4 addresses guests on the same network can reach, best first.

    ``interfaces`` is ``[(interface name, address), …]``. Loopback, link-local and virtual
    bridges (Docker, VPN tunnels) come last or not at all; home networks (192.168/16) first.
    """
    ranked = []
    for name, address in interfaces:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            continue
        if ip.version != 4 or ip.is_loopback or ip.is_link_local or not ip.is_private:
            continue
        virtual = str(name).startswith(VIRTUAL_PREFIXES)
        home = ip in ipaddress.ip_network("192.168.0.0/16")
        ten = ip in ipaddress.ip_network("10.0.0.0/8")
        ranked.append(((virtual, not home, not ten), address))
    ranked.sort(key=lambda pair: pair[0])
    return list(dict.fromkeys(address for _, address in ranked))


def system_interfaces() -> list[tuple[str, str]]:
    """This machine's (interface, IPv4) pairs; no packet is sent. Empty when unknown."""
    found: list[tuple[str, str]] = []
    try:
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                try:
                    packed = fcntl.ioctl(probe.fileno(), SIOCGIFADDR,
                                         struct.pack("256s", name.encode()[:15]))
                except OSError:
                    continue
                found.append((name, socket.inet_ntoa(packed[20:24])))
    except (ImportError, OSError, AttributeError):
        pass
    if not found:
        try:
            # A UDP "connect" only picks the outgoing interface; nothing is sent.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("10.255.255.255", 1))
                found.append(("default", probe.getsockname()[0]))
        except OSError:
            pass
    return found


def base_url(host_header: str, scheme: str, conf: Any,
             interfaces: list[tuple[str, str]] | None = None) -> str:
    """The scheme://host[:port] a link shown on this request should start with."""
    explicit = str(getattr(conf, "SHARE_BASE_URL", "") or "").strip().rstrip("/")
    if explicit:
        return explicit
    domain = str(getattr(conf, "ECHONEST_DOMAIN", "") or "").strip().strip("/").lower()
    name, port = split_host(host_header)
    if domain and name in (domain, f"www.{domain}"):
        return f"https://{domain}"
    listen = str(getattr(conf, "HOST", "") or "").strip()
    if is_loopback(name) and listen in ANY_ADDRESSES:
        lan = lan_addresses(system_interfaces() if interfaces is None else interfaces)
        if lan:
            port = port or str(getattr(conf, "PORT", "") or "")
            return f"http://{lan[0]}" + (f":{port}" if port else "")
    return f"{scheme or 'http'}://{host_header.strip() or 'localhost'}"


def nest_url(base: str, code: str, *, is_main: bool = False, short: bool = True,
             **params: str) -> str:
    """A nest's link: the short form ``{base}/{code}`` to share, or ``/nest/{code}``."""
    from urllib.parse import urlencode

    path = "/" if is_main else (f"/{code}" if short else f"/nest/{code}")
    query = urlencode({k: v for k, v in params.items() if v})
    return base + path + (f"?{query}" if query else "")


def lan_urls(conf: Any, interfaces: list[tuple[str, str]] | None = None) -> list[str]:
    """What ``make run`` prints: where phones on this network can open the server."""
    listen = str(getattr(conf, "HOST", "") or "").strip()
    port = str(getattr(conf, "PORT", "") or "")
    suffix = f":{port}" if port and port != "80" else ""
    if listen not in ANY_ADDRESSES:
        return [f"http://{listen}{suffix}"]
    lan = lan_addresses(system_interfaces() if interfaces is None else interfaces)
    return [f"http://{address}{suffix}" for address in lan] or [f"http://localhost{suffix}"]


def terminal_qr(text: str) -> str:
    """A QR code for a terminal (half-block characters), or '' when no QR library is there."""
    try:
        import qrcode  # type: ignore[import-not-found]
    except ImportError:
        return ""
    code = qrcode.QRCode(border=1)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    rows = []
    for top, bottom in zip(matrix[::2], matrix[1::2], strict=True):
        rows.append("".join(" " if a and b else "▄" if a else "▀" if b else "█"
                            for a, b in zip(top, bottom, strict=True)))
    return "\n".join(rows)


def announce(conf: Any, interfaces: list[tuple[str, str]] | None = None) -> str:
    """The lines ``make run`` prints: the LAN link(s) and a QR code of the first."""
    urls = lan_urls(conf, interfaces)
    lines = ["Guests on this network can join at: " + "  ".join(urls)]
    qr = terminal_qr(urls[0])
    if qr:
        lines.append(qr)
    return "\n".join(lines)


def print_lan_banner(conf: Any) -> None:
    """``make run``'s one call: print where guests can join, with a terminal QR code."""
    print(announce(conf), flush=True)
