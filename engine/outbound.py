"""Which URLs and addresses a crawl or a webhook may reach (API.md sections 3, 5 and 6).

Only http and https URLs with a host, always (`scheme_problem`).

Link-local and cloud-metadata addresses are refused always (they hand out credentials to
whoever asks from inside the machine); loopback and private ranges only when private targets
are allowed. Hostnames are resolved, so `http://2852039166/` or a name that points at
169.254.169.254 is caught like the literal address. `resolve` and the checks that call it
block on DNS: run them in a thread.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services, by name and by address (the link-local range covers most).
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.com", "metadata.tencentyun.com",
    "metadata.platformequinix.com",
})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
WEB_SCHEMES = frozenset({"http", "https"})
PRIVATE_HINT = "set CRAWLPLANE_ALLOW_PRIVATE_TARGETS=1 to allow loopback and private targets"

# Behind the guard's http(s)-only rule, a second wall: a stored run (and a preview) has no
# download handler for these at all (merged over DOWNLOAD_HANDLERS, so a render handler stays).
NO_LOCAL_SCHEMES: dict[str, None] = {"file": None, "data": None, "ftp": None, "s3": None}


class Refused(ValueError):
    """An outbound URL that may not be reached; the message says why."""


def _embedded_v4(ip: IPAddress) -> IPAddress:
    # ::ffff:169.254.169.254 and 64:ff9b::a9fe:a9fe reach the IPv4 address inside them.
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_kind(address: str, allow_private: bool) -> str | None:
    """What kind of forbidden address `address` (an IP literal) is, or None when allowed."""
    ip = _embedded_v4(ipaddress.ip_address(address.split("%", 1)[0]))
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or (ip.is_reserved and not ip.is_private):
        return "not a unicast address"
    if not allow_private and (ip.is_loopback or ip.is_unspecified):
        return f"a loopback address ({PRIVATE_HINT})"
    if not allow_private and not ip.is_global:
        return f"a private address ({PRIVATE_HINT})"
    return None


def is_literal(host: str) -> bool:
    """Whether `host` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def resolve(host: str, port: int | None) -> list[str]:
    """The addresses `host` resolves to; empty when it does not resolve (the request itself
    will then fail with a DNS error, which is the clearer message)."""
    try:
        infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


Resolve = Callable[[str, int | None], list[str]]


class Unresolved(ValueError):
    """A host name that does not resolve."""


def checked_address(host: str, port: int | None, allow_private: bool,
                    resolver: Resolve = resolve) -> str:
    """The address to connect to for `host`, once every address it resolves to passed the
    rules: connecting to this one instead of resolving again keeps a second DNS answer (a
    rebinding) out. Raises Refused, or Unresolved."""
    name = host.lower().rstrip(".").strip("[]")
    if name in METADATA_HOSTS:
        raise Refused(f"{host} is a cloud metadata host")
    addresses = [name] if is_literal(name) else resolver(name, port)
    if not addresses:
        raise Unresolved(f"{host} does not resolve")
    for address in addresses:
        kind = address_kind(address, allow_private)
        if kind is not None:
            raise Refused(f"{host} is {kind}" if address == name
                          else f"{host} resolves to {address}, {kind}")
    return min(addresses, key=lambda a: ":" in a)  # IPv4 first, as Scrapy's resolver


def host_problem(host: str, port: int | None, allow_private: bool,
                 resolver: Resolve = resolve) -> str | None:
    try:
        checked_address(host, port, allow_private, resolver)
    except Refused as exc:
        return str(exc)
    except Unresolved:
        return None  # the request itself fails with the clearer DNS error
    return None


def scheme_problem(url: str) -> str | None:
    """Why `url` is not an http or https URL with a host, or None. Any other scheme reads the
    machine's files (`file:`), hands back its own text (`data:`) or reaches other services
    (`ftp:`, `s3:`); an http URL without a host (`http:///etc/passwd`) is no web page."""
    parts = urlsplit(url)  # lower-cases the scheme, as Scrapy's download handlers do
    if parts.scheme not in WEB_SCHEMES:
        shown = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        return f"{url!r} is not an http or https URL ({shown})"
    if not parts.hostname:
        return f"{url!r} has no host"
    return None


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why `url` may not be reached, or None."""
    problem = scheme_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    assert parts.hostname is not None
    try:
        port = parts.port
    except ValueError:
        return f"{url!r} has an invalid port"
    return host_problem(parts.hostname, port, allow_private)


def check_url(url: str, allow_private: bool) -> None:
    problem = url_problem(url, allow_private)
    if problem is not None:
        raise Refused(f"refused: {problem}")
