"""API keys: the OS keyring, the SDK's environment variable for OpenAI, or — only where
there is no keyring and the user chose it — a file readable by them alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_private
from .settings import OPENAI_NAME, ProviderConfig

SERVICE = "desktop-chat"
# `desktop-chat --read-keys`: the helper process that reads keys for the window.
READ_KEYS_FLAG = "--read-keys"
# How long the window's helper may take (an unlock prompt waits for the user).
READ_KEYS_TIMEOUT_S = 120.0


class KeyringUnavailable(RuntimeError):
    """No usable keyring on this system; the message says so for the user."""


@dataclass
class KeyStore:
    """Looks up and stores provider keys.

    Keys entered while no keyring works are kept in memory for this session only,
    so the user can still chat; they are told the key will not be remembered.
    """

    session_keys: dict[str, str] = field(default_factory=dict)
    # Set when the user chose to keep keys in a private file (no keyring on this system).
    key_file: Path | None = None
    # What the keyring answered, per provider: asking it again (D-Bus) costs tens of ms.
    _looked_up: dict[str, str | None] = field(default_factory=dict)

    def _file_keys(self) -> dict[str, str]:
        if self.key_file is None or not self.key_file.exists():
            return {}
        try:
            data = json.loads(self.key_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(data, dict)
            else {}
        )

    def forget_lookups(self) -> None:
        """Ask the keyring again next time (after settings change, say)."""
        self._looked_up.clear()

    def use_file(self, path: Path) -> None:
        """Keep keys in `path` (0600) from now on, starting with the ones held for this session."""
        self.key_file = path
        keys = self._file_keys()
        keys.update(self.session_keys)
        write_private(path, json.dumps(keys, indent=1))
        self.session_keys.clear()

    def get(self, provider: ProviderConfig) -> str | None:
        if provider.name in self.session_keys:
            return self.session_keys[provider.name]
        if self.key_file is not None:
            found = self._file_keys().get(provider.name)
            if found:
                return found
        stored = self._ask_keyring(provider.name)
        if stored:
            return stored
        return _environment_key(provider)

    def _ask_keyring(self, name: str) -> str | None:
        if name in self._looked_up:
            return self._looked_up[name]
        try:
            import keyring
            from keyring.errors import KeyringError

            try:
                stored = keyring.get_password(SERVICE, name)
            except KeyringError:
                stored = None
        except Exception:  # a broken keyring backend must not stop the app
            stored = None
        self._looked_up[name] = stored
        return stored

    def presence_known(self, provider: ProviderConfig) -> bool:
        """Whether `get` can tell if there is a key without asking the keyring (which may
        take long: a D-Bus round trip, its backends' imports, an unlock prompt)."""
        name = provider.name
        return (
            name in self.session_keys
            or name in self._looked_up
            or _environment_key(provider) is not None
            or bool(self.key_file is not None and self._file_keys().get(name))
        )

    def look_up(self, providers: list[ProviderConfig], elsewhere: bool = False) -> frozenset[str]:
        """Ask the keyring for these providers' keys now (blocking; safe in a worker thread)
        and return the names whose key it holds.

        With `elsewhere`, a short-lived helper process asks it: the keyring library and its
        backends (~15 MB, measured) stay out of this process, and a keyring that hangs can
        be given up on. If the helper cannot run, this process asks.
        """
        wanted = [p.name for p in providers if p.name not in self._looked_up]
        if elsewhere and wanted:
            found = read_keys_in_helper(wanted)
            if found is not None:
                for name in wanted:
                    self._looked_up.setdefault(name, found.get(name))
        for provider in providers:
            self._ask_keyring(provider.name)
        return frozenset(p.name for p in providers if self._looked_up.get(p.name))

    def set(self, provider_name: str, key: str) -> None:
        """Store in the keyring; raise KeyringUnavailable (keeping it for the session) if none works."""
        self._looked_up.pop(provider_name, None)
        if self.key_file is not None:
            keys = self._file_keys()
            keys[provider_name] = key
            write_private(self.key_file, json.dumps(keys, indent=1))
            return
        self.session_keys[provider_name] = key
        try:
            import keyring

            keyring.set_password(SERVICE, provider_name, key)
        except Exception as exc:
            raise KeyringUnavailable(
                f"No system keyring is available ({type(exc).__name__}); the key is used for this session only."
            ) from exc
        del self.session_keys[provider_name]

    def delete(self, provider_name: str) -> None:
        self.session_keys.pop(provider_name, None)
        self._looked_up.pop(provider_name, None)
        if self.key_file is not None and provider_name in (keys := self._file_keys()):
            del keys[provider_name]
            write_private(self.key_file, json.dumps(keys, indent=1))
        try:
            import keyring

            keyring.delete_password(SERVICE, provider_name)
        except Exception:
            pass


def read_keys_in_helper(names: list[str], timeout: float = READ_KEYS_TIMEOUT_S) -> dict[str, str | None] | None:
    """The keyring's answer for each name, read by `desktop-chat --read-keys`; None if the
    helper could not run or answer (the caller then asks in-process)."""
    if getattr(sys, "frozen", False):
        command = [sys.executable, READ_KEYS_FLAG]  # the installed app is its own helper
    else:
        command = [sys.executable, "-m", "desktop_chat.core.secrets"]
    try:
        out = subprocess.run(
            command, input=json.dumps(names), capture_output=True, text=True, timeout=timeout, check=False
        )
        answer = json.loads(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(answer, dict):
        return None
    return {
        name: value if isinstance(value, str) and value else None for name, value in answer.items() if name in names
    }


def serve_read_keys() -> int:
    """The helper's side: provider names as JSON on stdin, their keys as JSON on stdout."""
    try:
        names = json.loads(sys.stdin.read())
    except ValueError:
        return 2
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return 2
    keys = KeyStore()
    print(json.dumps({name: keys._ask_keyring(name) for name in names}))
    return 0


def endpoint_for(provider: ProviderConfig, keys: KeyStore):  # type: ignore[no-untyped-def]
    """The endpoint to call for a provider, or NoEndpoint with what the user must do."""
    from .providers import Endpoint
    from .session import NoEndpoint

    base_url = provider.base_url
    if provider.name == OPENAI_NAME and os.environ.get("OPENAI_BASE_URL"):
        # Honour the variable the openai SDK reads, as scripts using it expect.
        base_url = os.environ["OPENAI_BASE_URL"]
    key = keys.get(provider)
    if provider.needs_key and not key:
        raise NoEndpoint(missing_key(provider))
    return Endpoint(base_url.rstrip("/"), key)


def missing_key(provider: ProviderConfig) -> str:
    hint = " or set OPENAI_API_KEY" if provider.name == OPENAI_NAME else ""
    return f"No API key for {provider.name}. Add one under File → Providers{hint}, or choose another provider."


def _environment_key(provider: ProviderConfig) -> str | None:
    # The same variable the openai SDK reads, so scripts and the app agree.
    return (os.environ.get("OPENAI_API_KEY") or None) if provider.name == OPENAI_NAME else None


if __name__ == "__main__":
    sys.exit(serve_read_keys())
