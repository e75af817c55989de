"""Where a key may be used from: its ``allowed_cidrs``, read when stored and checked when used.

A key's list holds up to ``MAX_NETWORKS`` IPv4 and IPv6 networks in CIDR form; an empty list lets
the key in from any address. ``networks`` reads what a caller asks to store, refusing (with the
message a 400 shows) what is not a network and naming the entry; ``allows`` decides the address
API Gateway reported for a request. Only that address counts: headers the caller writes
(``X-Forwarded-For`` and the like) never reach this module.

Pure standard library. The verifier imports it only for a restricted key, so an authorizer whose
keys are unrestricted never loads ``ipaddress``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

MAX_NETWORKS = 20
# Longer than the longest network text (``ffff:…:255.255.255.255/128``, 49 characters): an entry
# is quoted whole up to here, cut beyond, so a refusal never echoes a body's worth of text.
_SHOWN_MAX = 60
EXAMPLE = "e.g. 203.0.113.0/24 or 2001:db8::/32"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Sequence[str]) -> list[str]:
    """Each entry in its canonical form (``2001:DB8::/32`` → ``2001:db8::/32``, a bare address →
    ``/32`` or ``/128``), in the order given. ``ValueError`` saying what is wrong with the list,
    or with the first entry that is not a network."""
    if len(entries) > MAX_NETWORKS:
        raise ValueError(f"at most {MAX_NETWORKS} networks, not {len(entries)}")
    canonical: list[str] = []
    for entry in entries:
        network = str(_network(entry))
        if network in canonical:
            raise ValueError(f"{_shown(entry)} repeats {network}")
        canonical.append(network)
    return canonical


def _network(entry: str) -> Network:
    address, slash, prefix = entry.partition("/")
    if slash and not (prefix.isascii() and prefix.isdigit() and len(prefix) <= 3):
        # ipaddress also reads netmasks (/255.255.255.0): one form only, the prefix length.
        raise ValueError(f"{_shown(entry)}: the prefix must be a length in bits, {EXAMPLE}")
    try:
        host = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"{_shown(entry)} is not a network in CIDR form, {EXAMPLE}") from None
    if isinstance(host, ipaddress.IPv6Address) and host.scope_id is not None:
        raise ValueError(f"{_shown(entry)}: a network has no zone (%{host.scope_id})")
    bits = host.max_prefixlen
    if slash and int(prefix) > bits:
        raise ValueError(f"{_shown(entry)}: an IPv{host.version} prefix is at most /{bits}")
    network = ipaddress.ip_network(f"{host}/{prefix if slash else bits}", strict=False)
    if network.network_address != host:
        raise ValueError(f"{_shown(entry)} has host bits set; the network is {network}")
    return network


def _shown(entry: str) -> str:
    return repr(entry if len(entry) <= _SHOWN_MAX else entry[: _SHOWN_MAX - 3] + "...")


def allows(allowed: Sequence[str], address: object) -> bool:
    """Whether a request from ``address`` may use a key restricted to ``allowed``; an empty list
    allows every address. Anything that is not an address (the console's test invoke reports
    ``test-invoke-source-ip``; a TOKEN event reports none) is inside no network. A stored entry
    that does not read as a network matches nothing: it fails closed, never open."""
    if not allowed:
        return True
    if not isinstance(address, str):
        return False
    try:
        source = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(source, ipaddress.IPv6Address) and source.ipv4_mapped is not None:
        source = source.ipv4_mapped  # ::ffff:203.0.113.5 is how a dual-stack socket shows 203.0.113.5
    return any(_contains(network, source) for network in allowed)


def _contains(network: str, source: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return source in ipaddress.ip_network(network)
    except ValueError:
        return False
