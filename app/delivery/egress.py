"""Where webhooks may go: the egress policy, checked when a URL is saved and at every connection.

A webhook URL is ``http://`` or ``https://`` with a host. Every address it reaches must be
globally routable (:attr:`ipaddress.IPv4Address.is_global`): loopback, private, link-local
(the cloud metadata address 169.254.169.254), unique-local, multicast, reserved, unspecified
and CGNAT 100.64.0.0/10 (Alibaba Cloud's metadata 100.100.100.200) are refused, and so are IPv6
forms that carry such an IPv4 address: IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``
and 6to4 ``2002::/16``. An address inside ``ONEEXAM_WEBHOOK_ALLOWED_NETWORKS`` is allowed
whatever it is (tests and the demo allow ``127.0.0.0/8``).

Any notation of an address (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) and any name
is resolved with the system resolver first, so the check is always made on the addresses a
connection would use. A name that does not resolve when saved is accepted (a department may
register before its DNS is live); it is refused at connect time until it resolves to allowed
addresses. At connect time :class:`GuardedTransport` resolves the host again, checks
every address, and connects to the checked address itself (the request keeps its ``Host`` header
and TLS server name), so a DNS answer that changes after the URL was saved is caught and cannot
slip a second, different answer in between check and connect.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import httpx

from app.i18n import _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
REFUSED = "refused by the egress policy"
"""The error recorded for a refused attempt: the same whatever address or reason."""


class EgressRefused(httpx.ConnectError):
    """A webhook URL or address that the egress policy does not allow."""


def parse_networks(value: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1/128"`` → networks; raises ValueError naming a bad entry."""
    networks = []
    for part in value.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not a CIDR network: {entry!r}") from None
    return tuple(networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv4-mapped, NAT64 or 6to4 IPv6 address stands for."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_allowed(address: IPAddress, allowed: Sequence[Network] = ()) -> bool:
    """Whether a connection to ``address`` is allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        inner = _embedded_ipv4(address)
        if inner is not None:
            return address_allowed(inner, allowed)
    if any(address.version == net.version and address in net for net in allowed):
        return True
    special = (
        address.is_multicast  # is_global alone lets 224.0.0.0/4 through
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )
    return address.is_global and not special


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (a name or any address notation)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _addresses(host: str, port: int) -> list[str]:
    """A literal address as it is, a name (or other notation) resolved; OSError if it fails."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
        return [bare]
    except ValueError:
        pass
    name = bare.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return ["127.0.0.1"]  # loopback by definition (RFC 6761), whatever DNS says
    try:
        return resolve_host(bare, port)
    except UnicodeError:
        raise OSError("not a resolvable name") from None


def checked_addresses(host: str, port: int, allowed: Sequence[Network]) -> list[str]:
    """The addresses ``host`` resolves to, all allowed; else :class:`EgressRefused`."""
    try:
        addresses = _addresses(host, port)
    except OSError:
        raise EgressRefused(REFUSED) from None
    if not addresses or not all(_allowed_text(a, allowed) for a in addresses):
        raise EgressRefused(REFUSED)
    return addresses


def _allowed_text(text: str, allowed: Sequence[Network]) -> bool:
    try:
        return address_allowed(ipaddress.ip_address(text.split("%", 1)[0]), allowed)
    except ValueError:
        return False


def url_problem(url: str, allowed: Sequence[Network]) -> str | None:
    """Why ``url`` may not be a webhook URL, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("must be an http:// or https:// URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return _("the port is not valid")
    try:
        addresses = _addresses(parts.hostname, port)
    except OSError:
        return None  # a name that does not resolve yet: every connection checks it again
    if not all(_allowed_text(a, allowed) for a in addresses):
        return _(
            "the host must resolve to globally routable addresses only (loopback, private, "
            "link-local, unique-local, multicast, reserved, unspecified and CGNAT addresses are "
            "refused unless ONEEXAM_WEBHOOK_ALLOWED_NETWORKS allows them)"
        )
    return None


class GuardedTransport(httpx.BaseTransport):
    """An HTTP transport that connects only to addresses the policy allows, checked each time."""

    def __init__(
        self,
        allowed: Iterable[Network],
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.allowed = tuple(allowed)
        self._inner = httpx.HTTPTransport(verify=verify, limits=limits or httpx.Limits())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise EgressRefused(REFUSED, request=request)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = checked_addresses(url.host, port, self.allowed)[0]
        if address != url.host:
            request.url = url.copy_with(host=address)
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": url.host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def attempt_error(exc: Exception, timeout: float) -> str:
    """What a failed attempt records: a fixed kind, never connection-level detail (which
    would make a department's own endpoint a port scanner for the addresses behind it)."""
    if isinstance(exc, EgressRefused):
        return REFUSED
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.HTTPError):
        return "request failed"
    return "unexpected error"
