"""uvicorn's httptools protocol with a deadline and a size limit on request heads, and a
cap on open sockets.

uvicorn 0.54.0 times out only the idle gap *after* a response (`timeout_keep_alive`); a
socket that sends nothing, or half a head, is never closed, and `limit_concurrency` answers
503 only once a head is complete, so stalled sockets pile up until the process runs out of
file descriptors. httptools buffers a head of any size (h11 has
`h11_max_incomplete_event_size`; httptools nothing). This subclass adds:

- a head deadline: from `connection_made` (the first request) or from the first byte of a
  later request (`on_message_begin`) to `on_headers_complete`; at the deadline the socket
  is closed. Body reads are timed by `http_limits.BodySizeLimit`.
- a head size limit: once more than `max_head_bytes` arrived for an unfinished head (at
  most one read more is buffered), 431 and the socket is closed.
- a cap: a socket accepted while more than `max_connections` are open (HTTP and WebSocket,
  uvicorn's `server_state.connections`) is answered 503 at once; it then lingers (what it
  sends is read and dropped) until the client closes it or for LINGER seconds, so that the
  client reads the 503 instead of a reset. Beyond REFUSING such lingering sockets, new
  ones are reset at once: at most `max_connections` + REFUSING sockets are ever open.

It relies on these uvicorn internals (checked by `tests/test_connections.py` and by
`check_uvicorn_version`): `HttpToolsProtocol.__init__` keyword arguments, its
`connection_made` / `connection_lost` / `data_received` / `on_message_begin` /
`on_headers_complete` callbacks, its `connections`, `cycle`, `loop`, `transport` and
`server_state` attributes, and `Config(http=...)` accepting any protocol factory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .http_limits import error_body

UVICORN_VERSION = "0.54.0"
LINGER = 1.0  # seconds a refused socket stays open for its client to read the 503
REFUSING = 50  # refused sockets lingering at once; more are reset (server.FD_RESERVE counts them)
WARNING_INTERVAL = 10.0  # seconds between two "MAX_CONNECTIONS reached" log lines

log = logging.getLogger(__name__)
_last_warning = 0.0


def check_uvicorn_version() -> None:
    if uvicorn.__version__ != UVICORN_VERSION:
        raise RuntimeError(
            f"graphql_app.connections extends uvicorn {UVICORN_VERSION} internals; "
            f"uvicorn {uvicorn.__version__} is installed"
        )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        *args: Any,
        head_timeout: float,
        max_head_bytes: int,
        max_connections: int,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout
        self.max_head_bytes = max_head_bytes
        self.max_connections = max_connections
        self._deadline: asyncio.TimerHandle | None = None  # set while a head is awaited
        self._head_bytes = 0  # received for the unfinished head, before the last read
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows BaseTransport the same way
        super().connection_made(transport)
        excess = len(self.connections) - self.max_connections
        if excess > 0:
            _warn_at_capacity(self.max_connections)
        if excess > REFUSING:
            transport.abort()
        elif excess > 0:
            body = error_body("Too many connections; retry later", "SERVICE_UNAVAILABLE")
            self._refuse(503, body)
        else:
            self._close_in(self.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._deadline is not None:
            if self._head_bytes > self.max_head_bytes:
                message = f"Request head exceeds {self.max_head_bytes} bytes"
                self._refuse(431, error_body(message, "BAD_REQUEST"))
                return
            self._head_bytes += len(data)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a later request on a kept-alive socket
            self._close_in(self.head_timeout)

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        self._head_bytes = 0
        super().on_headers_complete()

    def _close_in(self, seconds: float) -> None:
        """The head's deadline, or the end of a refused socket's linger."""
        self._deadline = self.loop.call_later(seconds, self.transport.close)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: int, body: bytes) -> None:
        """Answer, then read and drop until the client closes, or for LINGER seconds."""
        self._cancel_deadline()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined head: a response is being written
            return
        head = [STATUS_LINE[status]]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self._refused = True
        self.transport.write(b"".join(head) + body)
        self.transport.write_eof()  # the client's EOF then closes the transport
        self._close_in(LINGER)


def _warn_at_capacity(max_connections: int) -> None:
    global _last_warning  # one rate limit per process, shared by all sockets
    now = time.monotonic()
    if now - _last_warning >= WARNING_INTERVAL:
        _last_warning = now
        log.warning(
            "MAX_CONNECTIONS (%d) reached: refusing new connections with 503", max_connections
        )
