"""The uvicorn options of the service, built from Settings: `serve` and the tests' live
server run with the same ones."""

from __future__ import annotations

import functools
import resource
from typing import Any

from .connections import GuardedHttpToolsProtocol, check_uvicorn_version
from .settings import ConfigError, Settings

# File descriptors a worker needs besides its MAX_CONNECTIONS client sockets: the sockets
# being refused (connections.REFUSING), the MongoDB pool (100 by default) and its
# monitors, the listening socket, the event loop, logs, pipes.
FD_RESERVE = 200


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` (not the app, host or port)."""
    check_uvicorn_version()
    ensure_fd_headroom(settings.max_connections)
    return {
        "http": functools.partial(
            GuardedHttpToolsProtocol,
            head_timeout=settings.http_header_timeout,
            max_head_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
        ),
        "timeout_keep_alive": settings.http_keepalive_timeout,
        "timeout_graceful_shutdown": 10,
        "proxy_headers": False,  # the app reads X-Forwarded-For itself (TRUSTED_PROXIES)
        "server_header": False,
    }


def ensure_fd_headroom(max_connections: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE (workers inherit it) to fit MAX_CONNECTIONS
    sockets plus FD_RESERVE, or refuse to start if the hard limit is lower."""
    needed = max_connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigError(
            f"MAX_CONNECTIONS={max_connections} needs {needed} file descriptors "
            f"but the limit (ulimit -n) is {hard}: lower MAX_CONNECTIONS"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
