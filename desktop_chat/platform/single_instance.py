"""One running copy per user and profile: a second launch hands its request to the first.

QLocalServer/QLocalSocket (a Unix socket, or a named pipe on Windows). The name is
derived from the user and the profile folder, so separate --home profiles run side by
side. A socket left by a crashed copy is removed when nothing answers on it.
"""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 500
COMMANDS = {"show", "quick-ask"}


def server_name(profile: str) -> str:
    digest = hashlib.sha256(f"{getpass.getuser()}\0{profile}".encode()).hexdigest()[:16]
    return f"desktop-chat-{digest}"


def send_to_running(name: str, command: str) -> bool:
    """Hand `command` to a running copy; False when none answers (then this one runs)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(command.encode() + b"\n")
    socket.flush()  # (waitForBytesWritten would report False once flush has sent it all)
    # Wait for the acknowledgement so the running copy has acted before this one exits.
    acknowledged = socket.waitForReadyRead(2000) and bytes(socket.readAll().data()).startswith(b"ok")
    socket.disconnectFromServer()
    return acknowledged


class InstanceServer(QObject):
    """Listens for commands from later launches; `received` carries each one."""

    received = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        # A socket file with nobody behind it, left by a crash: take its place.
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            self._read(socket)  # what arrived before the signal was connected

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            command = bytes(socket.readLine().data()).decode(errors="replace").strip()
            if command in COMMANDS:
                self.received.emit(command)
                socket.write(b"ok\n")
            else:
                socket.write(b"unknown\n")
            socket.flush()

    def close(self) -> None:
        self.server.close()
