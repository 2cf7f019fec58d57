"""A tiny loopback TCP proxy in front of one sandbox server, one listening port per fault:

- `drop_request`: the connection is accepted and closed at once (reset), nothing forwarded: the
  server never sees the request;
- `cut_request`: the headers and half the body are forwarded, then both sides are reset (a
  client that died while sending);
- `drop_response`: the request is forwarded, the server's whole answer is read (so it has
  committed and answered) and the client's connection is then reset without a byte of it;
- `delay_response`: the answer is relayed `delay_s` late (a client with a shorter timeout has
  given up by then; the server did everything).

The upstream is looked up per connection (`upstream()` -> (host, port)): a server killed and
restarted on another port is followed. Also `refused_port()`: a port bound but never listening,
so connecting to it is refused (the request is never sent).
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable

MODES = ("drop_request", "cut_request", "drop_response", "delay_response")


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees a dead connection, not a clean end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Client -> upstream, until the client stops sending."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except OSError:
        pass
    return b"".join(chunks)


class FaultProxy:
    def __init__(self, upstream: Callable[[], tuple[str, int]]):
        self.upstream = upstream
        self.delay_s = 1.0
        self._listeners: dict[str, socket.socket] = {}
        self._stopped = threading.Event()
        for mode in MODES:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)
            sock.settimeout(0.5)
            self._listeners[mode] = sock
            threading.Thread(target=self._accept, args=(mode, sock), daemon=True).start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self._listeners[mode].getsockname()[1]}"

    def close(self) -> None:
        self._stopped.set()
        for sock in self._listeners.values():
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self, mode, listener):
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=self._serve, args=(mode, client), daemon=True).start()

    def _serve(self, mode, client):
        if mode == "drop_request":
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.upstream(), timeout=60)
        except OSError:
            _reset(client)
            return
        if mode == "cut_request":
            _cut(client, upstream)
            return
        pump = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        try:
            pump.start()
            # The server answers once and closes (the client sends Connection: close).
            answer = _read_all(upstream)
            if mode == "delay_response":
                time.sleep(self.delay_s)
                with contextlib.suppress(OSError):
                    client.sendall(answer)
        finally:
            # A close() does not end a socket another thread is in recv() on: wake that
            # thread first (SHUT_RD sends nothing); a dropped answer ends in a reset.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RD)
            pump.join(timeout=5)
            if mode == "drop_response":
                _reset(client)
            else:
                with contextlib.suppress(OSError):
                    client.close()
            with contextlib.suppress(OSError):
                upstream.close()


def _cut(client, upstream) -> None:
    data = b""
    client.settimeout(5)
    try:
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)) // 2:
            chunk = client.recv(65536)
            if not chunk:
                break
            body += chunk
        cut = max(len(body) // 2, 1) if body else 0
        upstream.sendall(head + b"\r\n\r\n" + body[:cut])
        time.sleep(0.05)  # the server reads what came, then meets the dead connection
    except OSError:
        pass
    finally:
        _reset(upstream)
        _reset(client)


def refused_port() -> socket.socket:
    """A socket bound to a loopback port that never listens: a connection to it is refused.
    Keep the socket open for as long as the port must stay refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock
