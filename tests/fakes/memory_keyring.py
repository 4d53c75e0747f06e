"""An in-memory keyring backend for tests.

Stands in for the OS keyring (Secret Service needs a D-Bus session and an unlocked
collection; Keychain and Credential Manager do not exist here). The app's code
still goes through the real `keyring` API to reach it.
"""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend

_STORE: dict[tuple[str, str], str] = {}
# When set, reads wait for it, as a real keyring does behind an unlock prompt.
GATE: threading.Event | None = None


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        if GATE is not None:
            GATE.wait(30)
        return _STORE.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        _STORE[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        _STORE.pop((service, username), None)


def clear() -> None:
    global GATE
    _STORE.clear()
    if GATE is not None:
        GATE.set()  # nothing stays blocked on a gate a finished test left closed
    GATE = None
