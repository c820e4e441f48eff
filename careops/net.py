"""Addresses the server may call when an owner types a URL (a provider's API, a webhook target).

The server would otherwise call whatever address it is given: the cloud's metadata service,
the database, Redis (request forgery). Production refuses hosts that are, or resolve to, an
address off the public internet; development and tests allow them for local stand-ins.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator


def address_is_internal(address: str) -> bool:
    """Not a public unicast address: loopback, private ranges, link-local (a cloud's metadata
    service at 169.254.169.254), shared, reserved, unspecified or multicast."""
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not ip.is_global or ip.is_multicast


def host_is_internal(host: str) -> bool:
    """The host is, or resolves to, an internal address (any of its addresses). A name that
    does not resolve now is let through: calling it fails on its own."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return False
    return any(address_is_internal(info[4][0]) for info in infos)


def url_problem(value: str, *, allow_internal: bool, what: str = "the address") -> str | None:
    """Why the server should not call this URL, or None. Plain http and internal hosts only
    where `allow_internal` (development, tests); credentials in the URL never."""
    schemes = ["https", "http"] if allow_internal else ["https"]
    try:
        URLValidator(schemes=schemes)(value)
    except ValidationError:
        return f"Enter a URL starting with {' or '.join(s + '://' for s in schemes)}."
    parts = urlsplit(value)
    if parts.username or parts.password:
        return "Leave the user name and password out of the URL."
    if not allow_internal and host_is_internal(parts.hostname or ""):
        return f"Enter {what}'s public address: this one is inside a private network."
    return None
