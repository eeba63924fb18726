"""Daphne with the limits a proxy would otherwise give: the embedded demo has none in front.

- A body larger than `SERVER_MAX_BODY_BYTES` is refused with 413 from its `Content-Length`,
  before a byte of it is read; a chunked body is counted while it arrives and refused the
  same way once over. The rest of the body is read and thrown away for a moment (so the
  client sees the 413 rather than a reset), then the connection is closed.
- A request's line and headers must arrive within `SERVER_HEADER_TIMEOUT` seconds of its
  first byte (of the connection, for the first request): a client sending one header byte
  every few seconds is answered 408 and dropped.
- At most `SERVER_MAX_CONNECTIONS_PER_ADDRESS` connections, of them at most
  `SERVER_MAX_WEBSOCKETS_PER_ADDRESS` WebSockets, per client address at once: a connection
  over the cap is closed as it is accepted, a WebSocket over it gets 429. Off behind a proxy
  (`TRUSTED_PROXY_COUNT` > 0: every peer is the proxy, which limits by client itself).

- Twisted does not parse a POST's form or multipart body into `request.args` on the event
  loop, as it would for any site: Daphne never reads them (Django parses the body itself).

Refusals are logged at most one line per kind per 10 s (`payments.quietlog`).

`GuardedServer` is Daphne's `Server`; `python -m payments.serving` is Daphne's command line
with it (the Procfile), and `demo` runs it in process.
"""

import logging
from collections import Counter
from dataclasses import dataclass

from daphne.cli import CommandLineInterface
from daphne.http_protocol import WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from twisted.internet import reactor
from twisted.web import http

from payments.quietlog import QuietLog

logger = logging.getLogger("payments.server")
quiet = QuietLog(logger, every=10.0)
DRAIN_SECONDS = 2.0  # reading (and dropping) a refused body, so the client reads its 413


@dataclass(frozen=True)
class Limits:
    max_body: int
    header_timeout: float
    max_connections: int  # 0: no cap
    max_websockets: int

    @classmethod
    def from_settings(cls) -> "Limits":
        behind_proxy = settings.TRUSTED_PROXY_COUNT > 0
        return cls(
            max_body=settings.SERVER_MAX_BODY_BYTES,
            header_timeout=settings.SERVER_HEADER_TIMEOUT,
            max_connections=0 if behind_proxy else settings.SERVER_MAX_CONNECTIONS_PER_ADDRESS,
            max_websockets=0 if behind_proxy else settings.SERVER_MAX_WEBSOCKETS_PER_ADDRESS,
        )


class Tally:
    """Open connections and WebSockets per client address."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.connections: Counter[str] = Counter()
        self.sockets: Counter[str] = Counter()

    def admit(self, host: str) -> bool:
        if self.limits.max_connections and self.connections[host] >= self.limits.max_connections:
            quiet.warning(f"connections-{host}", "refused connections from %s: %d open (the cap)", host, self.connections[host])
            return False
        self.connections[host] += 1
        return True

    def admit_socket(self, host: str) -> bool:
        if self.limits.max_websockets and self.sockets[host] >= self.limits.max_websockets:
            quiet.warning(f"sockets-{host}", "refused WebSockets from %s: %d open (the cap)", host, self.sockets[host])
            return False
        self.sockets[host] += 1
        return True

    def release(self, host: str, *, connection: bool = True, socket: bool = False) -> None:
        for counter, released in ((self.connections, connection), (self.sockets, socket)):
            if not released:
                continue
            counter[host] -= 1
            if counter[host] <= 0:
                del counter[host]


class GuardedChannel(http.HTTPChannel):
    """HTTPChannel with a header deadline and a body-size refusal."""

    def __init__(self, limits: Limits, tally: Tally) -> None:
        super().__init__()
        self.limits, self.tally = limits, tally
        self.host = ""
        self.header_call = None
        self.refused = False
        self.upgraded = False  # a WebSocket now owns the connection (and its release)

    def connectionMade(self) -> None:
        self.host = getattr(self.transport.getPeer(), "host", "")
        super().connectionMade()
        self._start_header_clock()

    def dataReceived(self, data: bytes) -> None:
        if self.refused:
            return  # a refused request's body: read and dropped
        if self.header_call is None and self.line_mode and not self._handlingRequest:
            self._start_header_clock()  # the first byte of the next request on a kept-alive connection
        super().dataReceived(data)

    def _start_header_clock(self) -> None:
        if self.limits.header_timeout > 0:
            self.header_call = reactor.callLater(self.limits.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self.header_call is not None and self.header_call.active():
            self.header_call.cancel()
        self.header_call = None

    def _headers_too_slow(self) -> None:
        self.header_call = None
        quiet.info(f"slow-{self.host}", "dropped a client (%s) whose headers took over %g s", self.host, self.limits.header_timeout)
        self.refuse(408, b"Request Timeout", b"The request headers took too long.\n")

    def rawDataReceived(self, data: bytes) -> None:
        if not self.refused:  # the rest of a buffer whose headers were just refused
            super().rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        self._stop_header_clock()
        if self.length is not None and self.limits.max_body and self.length > self.limits.max_body:
            self.refuse_too_large()
            return
        super().allHeadersReceived()

    def refuse_too_large(self) -> None:
        quiet.info(f"large-{self.host}", "refused a request body over %d bytes from %s", self.limits.max_body, self.host)
        body = f"The request body is larger than {self.limits.max_body} bytes.\n".encode()
        self.refuse(413, b"Payload Too Large", body)

    def refuse(self, code: int, phrase: bytes, body: bytes) -> None:
        """Answer, then close: read and drop what the client still sends for a moment first."""
        if self.refused or self.transport is None:
            return
        self.refused = True
        self._stop_header_clock()
        head = b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        self.transport.write(head % (code, phrase, len(body)) + body)
        self.setTimeout(None)
        self._networkProducer.resumeProducing()
        reactor.callLater(DRAIN_SECONDS, self.transport.loseConnection)

    def connectionLost(self, reason) -> None:
        self._stop_header_clock()
        if not self.upgraded:
            self.tally.release(self.host)
        super().connectionLost(reason)


class GuardedRequest(WebRequest):
    def __init__(self, *args, **kwargs) -> None:
        # Twisted parses every POST's Content-Type with the `email` package, and a form or
        # multipart body into `request.args`, on the event loop; Daphne never reads them
        # (Django parses the body itself): 0.19 ms of CPU per request to pay in a profile.
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

    def handleContentChunk(self, data: bytes) -> None:
        if self.channel.refused:
            return
        self.body_received = getattr(self, "body_received", 0) + len(data)
        limit = self.channel.limits.max_body
        if limit and self.body_received > limit:  # a chunked body (or one longer than it said)
            self.channel.refuse_too_large()
            return
        super().handleContentChunk(data)

    def process(self):
        channel = self.channel
        if channel.refused:
            return None  # refused while its body arrived: the application never sees it
        upgrade = (self.requestHeaders.getRawHeaders(b"Upgrade") or [b""])[0].lower() == b"websocket"
        if upgrade and not channel.tally.admit_socket(channel.host):
            self.basic_error(429, b"Too Many Requests", "Too many WebSockets from this address.")
            return None
        processing = super().process()  # an upgrade hands the transport over before returning
        if upgrade:
            if self.transport is None:
                channel.upgraded = True  # the WebSocket protocol releases both counts on close
            else:
                channel.tally.release(channel.host, connection=False, socket=True)
        return processing


class GuardedWebSocketProtocol(WebSocketProtocol):
    tally: Tally  # set on the class made per server
    peer_host = ""

    def connectionMade(self) -> None:
        self.peer_host = getattr(self.transport.getPeer(), "host", "")
        super().connectionMade()

    def connectionLost(self, reason) -> None:
        try:
            super().connectionLost(reason)
        finally:
            self.tally.release(self.peer_host, socket=True)


def install(server: Server, limits: Limits) -> None:
    """Put the guards on a running Server's factories (before it accepts a connection)."""
    tally = Tally(limits)
    factory = server.http_factory
    build = factory.buildProtocol
    factory.protocol = lambda: http._GenericHTTPChannelProtocol(GuardedChannel(limits, tally))

    def guarded_build(addr):
        host = getattr(addr, "host", "")
        if not tally.admit(host):
            return None  # Twisted closes the accepted socket at once
        protocol = build(addr)
        protocol.requestFactory = GuardedRequest
        return protocol

    factory.buildProtocol = guarded_build
    server.ws_factory.protocol = type("WebSocketProtocolWithTally", (GuardedWebSocketProtocol,), {"tally": tally})


class GuardedServer(Server):
    """Daphne's Server with `install` run once its factories exist, before it serves."""

    def __init__(self, *args, limits: Limits | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        ready = self.ready_callable

        def install_then_ready() -> None:
            install(self, self.limits or Limits.from_settings())
            if ready:
                ready()

        self.ready_callable = install_then_ready


class GuardedCommandLine(CommandLineInterface):
    server_class = GuardedServer

    def run(self, args) -> None:
        # Daphne's command line puts a handler on the root logger; the project's loggers
        # (settings.LOGGING) print their own lines, so they stop there: each line once.
        for name, config in settings.LOGGING.get("loggers", {}).items():
            if config.get("handlers"):
                logging.getLogger(name).propagate = False
        super().run(args)


def main() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    django.setup()
    GuardedCommandLine.entrypoint()


if __name__ == "__main__":
    main()
