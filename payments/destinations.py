"""Where callbacks may go: the destination policy, checked at send time on the resolved address.

A callback URL's host is an API user's word, and API users are free to make: without a
policy the sender would POST payer data to cloud metadata services, routers and anything
on this machine. So every attempt is checked, in order:

1. the URL itself: http(s), no userinfo (`http://u:p@host/` would send `Authorization: Basic`),
   no metadata service name, no legacy numeric IPv4 form (`0x7f000001`, `2130706433`, `127.1`);
2. each address the host resolves to *now* (not when the URL was accepted): never
   unspecified, link-local, multicast, broadcast, reserved or a metadata address; loopback
   and private ranges only when the policy in force allows them;
3. the connection goes to exactly the addresses that were checked: the check runs inside
   the HTTP client's resolver (`CheckedResolver`), one lookup per connection, no DNS cache,
   so there is no second lookup a rebinding DNS server could answer differently.

Policies (the `destinations` callback setting): `public` (public addresses only),
`loopback` (public + this machine), `private` (public + this machine + private ranges:
a receiver on the LAN), `auto` (the default: `loopback` while this server listens on
loopback only, `public` otherwise).
"""

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

AUTO, PUBLIC, LOOPBACK, PRIVATE = "auto", "public", "loopback", "private"
POLICIES = (AUTO, PUBLIC, LOOPBACK, PRIVATE)
ALLOWS = {PUBLIC: {"public"}, LOOPBACK: {"public", "loopback"}, PRIVATE: {"public", "loopback", "private"}}

# Cloud instance-metadata services by name (their addresses are link-local or listed below).
METADATA_NAMES = {
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.com", "metadata.tencentyun.com",
}
METADATA_ADDRESSES = {
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6 (a ULA: "private" otherwise)
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud (shared address space otherwise)
}
# What `private` lets in: RFC 1918, carrier-grade NAT (RFC 6598) and IPv6 unique local.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
BROADCAST = ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("255.255.255.255/32")  # and "this network"
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], Awaitable[list[tuple[str, int]]]]  # host, port -> [(address, family)]


class Refused(Exception):
    """A destination the policy does not allow; the message says why, in one line."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final  # True: no policy ever allows it (retrying cannot help)


def in_force(policy: str, *, loopback_only: bool | None = None) -> str:
    """The policy `auto` stands for, given whether this server listens on loopback only."""
    if policy != AUTO:
        return policy
    if loopback_only is None:
        from django.conf import settings

        loopback_only = settings.SERVES_LOOPBACK_ONLY
    return LOOPBACK if loopback_only else PUBLIC


def kind(address: Address) -> str:
    """`never`, `loopback`, `private` or `public`."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return kind(address.ipv4_mapped)
        if address in NAT64:  # a NAT64 gateway would carry it to the embedded IPv4 address
            return kind(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour or address.teredo or (int(address) >> 32 == 0 and int(address) > 1):
            return "never"  # tunnelled or IPv4-compatible: the real target is hidden inside
    if address.is_loopback:  # before "reserved": ::1 lies in IPv6's reserved ::/8
        return "loopback"
    if address in METADATA_ADDRESSES or address.is_unspecified or address.is_link_local:
        return "never"
    if address.is_multicast or address.is_reserved or any(address in network for network in BROADCAST):
        return "never"
    if any(address in network for network in PRIVATE_NETWORKS):
        return "private"
    return "public" if address.is_global else "never"  # documentation, benchmarking, ...


def check_address(address: Address, policy: str, host: str) -> None:
    what = kind(address)
    if what == "never":
        raise Refused(f"refused: {host} is {_describe(address)}, never a callback destination", final=True)
    if what not in ALLOWS[in_force(policy)]:
        raise Refused(
            f"refused: {host} is a {what} address ({address}); callbacks to {what} addresses are "
            f"off (callback setting destinations={in_force(policy)})",
            final=False,
        )


def _describe(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for flag, words in (
        ("is_unspecified", "unspecified"), ("is_link_local", "link-local"), ("is_multicast", "multicast"),
    ):
        if getattr(address, flag):
            return f"{words} ({address})"
    if address in METADATA_ADDRESSES:
        return f"a metadata service address ({address})"
    return f"a reserved or non-routable address ({address})"


def check_url(url: str, policy: str) -> None:
    """Everything that can be judged without a lookup; an IP literal is judged here."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname or ""
    except ValueError:
        raise Refused("refused: not a valid URL", final=True) from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise Refused("refused: not an http(s) URL with a host", final=True)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Refused("refused: the URL carries a user name or password", final=True)
    name = hostname.rstrip(".").lower()
    if name in METADATA_NAMES:
        raise Refused(f"refused: {name} is a metadata service name", final=True)
    literal = _literal(name)
    if literal is not None:
        check_address(literal, policy, name)
    elif _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        raise Refused(f"refused: {name} is not a canonical IP address (write a.b.c.d)", final=True)


def never_problem(host: str) -> str | None:
    """Why a providerCallbackHost can never receive callbacks (whatever the policy), or None:
    refused when the API user is made, not only at every send."""
    name = host.strip().lower()
    bracketed = f"[{name}]" if name.count(":") > 1 and not name.startswith("[") else name
    try:
        check_url(f"http://{bracketed}/", PRIVATE)
    except Refused as exc:
        return str(exc).removeprefix("refused: ") if exc.final else None
    return None


def _literal(name: str) -> Address | None:
    try:
        return ipaddress.ip_address(name.split("%")[0])  # strict: no hex, octal or short forms
    except ValueError:
        return None


async def system_lookup(host: str, port: int) -> list[tuple[str, int]]:
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(info[4][0], info[0]) for info in infos]


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver: looks the host up once and hands the connector only addresses that
    pass the policy; any forbidden address refuses the whole name (no partial connects)."""

    def __init__(self, policy: str, lookup: Lookup | None = None) -> None:
        self.policy = policy
        self.lookup = lookup or system_lookup

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        try:
            found = await self.lookup(host, port)
        except OSError as exc:
            raise Refused(f"{host}: name lookup failed ({exc.strerror or exc})", final=False) from None
        if not found:
            raise Refused(f"{host}: the name resolves to no address", final=False)
        results = []
        for text, address_family in dict.fromkeys(found):
            check_address(ipaddress.ip_address(text.split("%")[0]), self.policy, host)
            results.append(
                ResolveResult(hostname=host, host=text, port=port, family=address_family, proto=0, flags=socket.AI_NUMERICHOST)
            )
        return results

    async def close(self) -> None:
        pass
