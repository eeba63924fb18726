"""The embedded server's own limits (`manage.py demo`, no proxy in front), from outside:
an oversized body is refused from its Content-Length before it is read, a chunked one
while it arrives; slow headers are dropped; one address cannot hold every connection
or socket while another address still gets in.

One demo server for the module (its own SQLite file), with small limits so the tests are quick.
"""

import asyncio
import socket
import time
from pathlib import Path

import pytest

from tests.support import ServerProcess, child_env, free_port, http_json, wait_for

pytestmark = pytest.mark.slow

HEADER_TIMEOUT = 2.0
MAX_CONNECTIONS = 12
MAX_SOCKETS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir: Path = tmp_path_factory.mktemp("limits")
    port = free_port()
    demo = ServerProcess(
        "manage.py", "demo", "--port", str(port), "--interval", "1",
        env=child_env(
            DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}", DEMO_OPERATOR_PASSWORD="op-pass-123",
            SERVER_HEADER_TIMEOUT=str(HEADER_TIMEOUT), SERVER_MAX_CONNECTIONS_PER_ADDRESS=str(MAX_CONNECTIONS),
            SERVER_MAX_WEBSOCKETS_PER_ADDRESS=str(MAX_SOCKETS),
        ),
        log=workdir / "demo.log", port=port,
    )
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def socket_path(server) -> str:
    """A checkout socket anyone may open: the one of a payment made over the API."""
    status, payment = http_json(
        "POST", f"{server.base_url}/api/payments/", {"amount": "5.00", "currency": "EUR", "phone_number": "46733123499"}
    )
    assert status == 201, payment
    return f"/ws/payments/{payment['reference']}/"


def rss_kib(server: ServerProcess) -> int:
    status = Path(f"/proc/{server.process.popen.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def connect(server: ServerProcess, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0))
    sock.settimeout(10)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def status_of(server: ServerProcess, source: str = "127.0.0.1") -> int:
    with connect(server, source) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return int(read_answer(sock).split(b" ", 2)[1])


def test_it_refuses_a_200_mb_body_with_413_from_its_content_length_without_reading_it(server):
    before = rss_kib(server)
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/payments/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 209715200\r\n\r\n"
        )
        chunk, sent = b"x" * 1024 * 1024, 0
        try:
            while sent < 200 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed after answering: it did not want the rest
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"larger than 1048576 bytes" in answer
    grown = rss_kib(server) - before
    print(f"RSS growth after a 200 MB body: {grown} KiB (sent {sent // 2**20} MiB before the close)")
    assert grown < 10 * 1024
    assert status_of(server) == 200  # and it serves on


def test_it_refuses_a_chunked_body_once_it_grows_past_the_limit(server):
    before = rss_kib(server)
    with connect(server) as sock:
        sock.sendall(b"POST /api/payments/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"x" * 65536
        try:
            for _ in range(400):  # 25 MiB, if nobody stops it
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert rss_kib(server) - before < 10 * 1024


def test_it_drops_a_client_whose_headers_trickle_in(server):
    with connect(server) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            sock.settimeout(0.5)
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                continue
            closed_after = time.monotonic() - started
            break
    assert closed_after is not None, "the slow client was never dropped"
    assert HEADER_TIMEOUT - 0.2 < closed_after < HEADER_TIMEOUT + 1.5, closed_after
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b""


def test_it_caps_connections_and_sockets_per_address_while_another_address_gets_in(server, socket_path):
    held = [connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        wait_for(lambda: refused_now(server), timeout=5, what="the 13th connection from 127.0.0.1 refused")
        assert status_of(server, source="127.0.0.2") == 200
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: not refused_now(server), timeout=5, what="127.0.0.1 let in again once its connections closed")

    path = socket_path
    opened, refused = asyncio.run(open_sockets(server, path, MAX_SOCKETS + 2))
    assert (opened, refused) == (MAX_SOCKETS, [429, 429])
    assert asyncio.run(open_sockets(server, path, 1, source="127.0.0.2")) == (1, [])


def refused_now(server: ServerProcess) -> bool:
    """A new connection is closed without an answer to a request."""
    try:
        with connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return read_answer(sock) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


async def open_sockets(server: ServerProcess, path: str, count: int, source: str = "127.0.0.1") -> tuple[int, list[int]]:
    """Open `count` sockets on `path` and hold them all; (opened, refusal statuses)."""
    import websockets

    held, refused = [], []
    try:
        for _ in range(count):
            sock = connect(server, source)
            sock.setblocking(False)
            try:
                held.append(await websockets.connect(
                    server.ws_url + path,
                    origin=server.base_url, sock=sock, open_timeout=10,
                ))
            except websockets.InvalidStatus as exc:
                refused.append(exc.response.status_code)
    finally:
        for ws in held:
            await ws.close()
    return len(held), refused


def test_it_closes_on_refused_frames_with_codes_a_server_may_send_and_logs_one_line(server, socket_path):
    import websockets

    async def close_code_after(frame: bytes | str) -> int:
        async with websockets.connect(server.ws_url + socket_path, origin=server.base_url, open_timeout=10) as ws:
            await ws.recv()  # the snapshot
            await ws.send(frame)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=5)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code

    async def probe() -> list[int]:
        codes = [await close_code_after(b"\x00" * 10) for _ in range(100)]
        return codes + [await close_code_after("x" * 5000) for _ in range(100)]

    codes = asyncio.run(probe())
    assert codes == [4003] * 100 + [4009] * 100
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert 1 <= log.count("closed a socket") <= 4  # one line per kind per 10 s, not 200


def test_the_procfile_server_refuses_the_same_body_and_logs_it_once(tmp_path):
    """`python -m payments.serving` (the Procfile's web process): its guards, and each log
    line once (Daphne's command line also logs on the root logger)."""
    port = free_port()
    server = ServerProcess(
        "-m", "payments.serving", "-e", f"tcp:port={port}:interface=127.0.0.1", "dashboard.asgi:application",
        env=child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"), log=tmp_path / "web.log", port=port,
    )
    server.start()
    try:
        with connect(server) as sock:
            sock.sendall(b"POST /api/payments/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 209715200\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 413 ")
        line = "refused a request body over 1048576 bytes from 127.0.0.1"
        wait_for(lambda: line in server.log.read_text(), timeout=10, what="the refusal in the log")
    finally:
        server.stop()
    assert server.log.read_text().count(line) == 1, server.log.read_text()
