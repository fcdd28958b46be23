"""A server that speaks PostgreSQL's start-up and asks for the password in clear text.

It is what an attacker points a datasource at to collect the stored secret: it answers an
SSL request with "no", reads the start-up message, sends AuthenticationCleartextPassword and
records every byte the client sends, so a test can assert the password never arrived.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CLEARTEXT_PASSWORD = 3


class FakePostgres:
    def __init__(self) -> None:
        self.received = bytearray()
        self.startups: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakePostgres:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()

    def url(self, user: str = "reader", database: str = "shop") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(3)
                with contextlib.suppress(OSError, struct.error):
                    self._talk(client)

    def _talk(self, client: socket.socket) -> None:
        while True:
            message = self._read_startup(client)
            code = struct.unpack("!i", message[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                client.sendall(b"N")
                continue
            self.startups.append(message)
            client.sendall(b"R" + struct.pack("!ii", 8, CLEARTEXT_PASSWORD))
            break
        while chunk := client.recv(4096):
            self.received += chunk

    def _read_startup(self, client: socket.socket) -> bytes:
        length = struct.unpack("!i", self._exactly(client, 4))[0]
        return self._exactly(client, length - 4)

    def _exactly(self, client: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = client.recv(size - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        self.received += data
        return data
