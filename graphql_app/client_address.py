"""The client's address, believing X-Forwarded-For only from TRUSTED_PROXIES."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection, trusted_proxies: list[str]) -> str:
    peer = connection.client.host if connection.client else "unknown"
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    forwarded = [
        hop.strip()
        for header in connection.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    # Walk from the nearest hop back; the first address that is not a proxy is the client.
    for hop in reversed(forwarded):
        if not _trusted(hop, trusted_proxies):
            return hop
    return forwarded[0] if forwarded else peer


def _trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in ip_network(entry, strict=False) for entry in trusted)
