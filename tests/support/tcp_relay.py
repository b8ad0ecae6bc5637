"""A TCP relay in front of the demo API server that a test can cut and restore: the way to
make a real API server unreachable for one client without stopping it for every other test."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path


class TcpRelay:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        server, self._server = self._server, None
        if server:
            # shutdown() wakes the thread blocked in accept(); close() alone leaves the socket
            # listening until that accept returns.
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)  # a quiet watch may idle for minutes
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # shutdown() first: close() alone does not end a socket another thread is reading,
            # which would leave the far end connected, with no FIN, for good.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass


def relayed_kubeconfig(kubeconfig: Path, relay: TcpRelay, out: Path) -> Path:
    """A copy of `kubeconfig` whose API server address is the relay's (the certificate is for
    127.0.0.1, so only the port changes)."""
    text = re.sub(r"(server: https://127\.0\.0\.1:)\d+", rf"\g<1>{relay.port}", kubeconfig.read_text())
    out.write_text(text)
    return out
