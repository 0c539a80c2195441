"""The client's address, believing X-Forwarded-For only from TRUSTED_PROXIES."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from starlette.requests import HTTPConnection

USER_AGENT_MAX = 256  # characters of a User-Agent that are recorded


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


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is on the other end of a request, as recorded on sessions and security events."""

    address: str
    user_agent: str | None = None

    @classmethod
    def of(cls, connection: HTTPConnection, trusted_proxies: list[str]) -> ClientInfo:
        agent = connection.headers.get("user-agent")
        return cls(
            client_address(connection, trusted_proxies), agent[:USER_AGENT_MAX] if agent else None
        )
