"""A keyring backend for tests, kept in one JSON file per test.

Stands in for the OS keyring (Secret Service needs a D-Bus session and an unlocked
collection; Keychain and Credential Manager do not exist here). The app's code still
goes through the real `keyring` API to reach it, in its own process and in the helper
process that reads keys for the window (`PYTHON_KEYRING_BACKEND` names this class, and
`DESKTOP_CHAT_TEST_KEYRING` the file, for both).

A gate file makes reads wait, as a real keyring does behind an unlock prompt.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend

FILE_ENV = "DESKTOP_CHAT_TEST_KEYRING"


def _file() -> Path:
    return Path(os.environ[FILE_ENV])


def _gate() -> Path:
    return _file().with_suffix(".gate")


def _load() -> dict[str, str]:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, str]) -> None:
    partial = _file().with_suffix(".partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(_file())


def _key(service: str, username: str) -> str:
    return f"{service}\n{username}"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        deadline = time.monotonic() + 30
        while _gate().exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return _load().get(_key(service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        data = _load()
        data[_key(service, username)] = password
        _save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = _load()
        data.pop(_key(service, username), None)
        _save(data)


def put(username: str, password: str, service: str = "desktop-chat") -> None:
    MemoryKeyring().set_password(service, username, password)


def remove(username: str, service: str = "desktop-chat") -> None:
    MemoryKeyring().delete_password(service, username)


def close_gate() -> None:
    """Reads wait from now on (in every process) until open_gate()."""
    _gate().touch()


def open_gate() -> None:
    _gate().unlink(missing_ok=True)


def clear() -> None:
    open_gate()
    _file().unlink(missing_ok=True)
