"""API keys: the OS keyring, the SDK's environment variable for OpenAI, or — only where
there is no keyring and the user chose it — a file readable by them alone.

A key is stored under its provider's id (`provider:<id>`), so it follows a rename and
leaves with the provider. Keys stored by an older version under a provider's display
name are moved the first time they are read: the new entry is written first, then the
old one deleted, so a move cut short is finished by the next read.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from desktop_chat.errors import DesktopChatError

from .files import write_private
from .providers import Endpoint, NoEndpoint
from .settings import OPENAI_NAME, ProviderConfig

SERVICE = "desktop-chat"
# `desktop-chat --read-keys`: the helper process that reads keys for the window.
READ_KEYS_FLAG = "--read-keys"
# How long the window's helper may take (an unlock prompt waits for the user).
READ_KEYS_TIMEOUT_S = 120.0


class KeyringUnavailable(DesktopChatError):
    """No usable keyring on this system; the message says so for the user."""


def key_account(provider: ProviderConfig) -> str:
    """The user name of the keyring entry that holds this provider's key."""
    return f"provider:{provider.id}"


def _keyring_read(account: str) -> str | None:
    """The key, or None when there is none; raises when the keyring could not be asked."""
    import keyring

    return keyring.get_password(SERVICE, account) or None


def _keyring_get(account: str) -> str | None:
    try:
        return _keyring_read(account)
    except Exception:  # a broken or locked keyring must not stop the app
        return None


def _keyring_set(account: str, key: str) -> None:
    import keyring

    keyring.set_password(SERVICE, account, key)


def _keyring_delete(account: str) -> None:
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, account)
    except PasswordDeleteError:
        if _keyring_read(account) is not None:
            raise  # (otherwise there was nothing to delete)


def read_or_move(account: str, legacy: str | None) -> tuple[str | None, bool]:
    """The keyring's key for `account`, and whether nothing is left under `legacy`.

    An older version stored keys under the provider's display name (`legacy`): such a key
    is moved to `account` first (written, then the old entry deleted). When the keyring
    refuses a step, the key is used all the same and the move is left for another time
    (False)."""
    stored = _keyring_get(account)
    if not legacy:
        return stored, True
    try:
        old = _keyring_read(legacy)
        if old is None:
            return stored, True
        if stored is None:
            _keyring_set(account, old)
            stored = old
        _keyring_delete(legacy)
    except Exception:
        return stored or _keyring_get(legacy), False
    return stored, True


@dataclass
class KeyStore:
    """Looks up and stores provider keys.

    Keys entered while no keyring works are kept in memory for this session only,
    so the user can still chat; they are told the key will not be remembered.
    """

    # Set when the user chose to keep keys in a private file (no keyring on this system).
    key_file: Path | None = None
    # Provider id -> the display name its key was stored under by an older version, for
    # providers whose key may still wait to be moved.
    legacy_names: dict[str, str] = field(default_factory=dict)
    # Until the keyring has answered (the window asks it after the first paint): the ids of
    # providers taken to have a key, because they had one last time.
    assumed: frozenset[str] | None = None
    session_keys: dict[str, str] = field(default_factory=dict)
    # What the keyring answered, per account: asking it again (D-Bus) costs tens of ms.
    _looked_up: dict[str, str | None] = field(default_factory=dict)

    # Reading

    def get(self, provider: ProviderConfig) -> str | None:
        """The key to use: one the app keeps, else (OpenAI) the SDK's environment variable."""
        return self.stored_key(provider) or _environment_key(provider)

    def stored_key(self, provider: ProviderConfig) -> str | None:
        """The key the app keeps (this session, the private file, the keyring), if any."""
        account = key_account(provider)
        if account in self.session_keys:
            return self.session_keys[account]
        return self._file_key(provider) or self._ask_keyring(provider)

    @staticmethod
    def environment_key(provider: ProviderConfig) -> str | None:
        return _environment_key(provider)

    def has_key(self, provider: ProviderConfig) -> bool:
        """Whether there is a key, without waiting for the keyring while it has not answered yet."""
        if self.assumed is not None and not self.presence_known(provider):
            return provider.id in self.assumed
        return bool(self.get(provider))

    def presence_known(self, provider: ProviderConfig) -> bool:
        """Whether `get` can tell if there is a key without asking the keyring (which may
        take long: a D-Bus round trip, its backends' imports, an unlock prompt)."""
        account = key_account(provider)
        return (
            account in self.session_keys
            or account in self._looked_up
            or _environment_key(provider) is not None
            or bool(self._file_key(provider))
        )

    @property
    def answered(self) -> bool:
        return self.assumed is None

    def _ask_keyring(self, provider: ProviderConfig) -> str | None:
        account = key_account(provider)
        if account not in self._looked_up:
            key, moved = read_or_move(account, self.legacy_names.get(provider.id))
            self._answered(provider, key, moved)
        return self._looked_up[account]

    def _answered(self, provider: ProviderConfig, key: str | None, moved: bool) -> None:
        self._looked_up[key_account(provider)] = key
        if moved:
            self.legacy_names.pop(provider.id, None)

    def look_up(self, providers: Iterable[ProviderConfig], elsewhere: bool = False) -> frozenset[str]:
        """Ask the keyring for these providers' keys now (blocking; safe in a worker thread)
        and return the ids of those whose key it holds.

        With `elsewhere`, a short-lived helper process asks it: the keyring library and its
        backends (~15 MB, measured) stay out of this process, and a keyring that hangs can
        be given up on. If the helper cannot run, this process asks.
        """
        providers = list(providers)
        wanted = [p for p in providers if key_account(p) not in self._looked_up]
        if elsewhere and wanted:
            found = read_keys_in_helper([(key_account(p), self.legacy_names.get(p.id)) for p in wanted])
            if found is not None:
                keys, moved = found
                for provider in wanted:
                    account = key_account(provider)
                    self._answered(provider, keys.get(account), account in moved)
        for provider in providers:
            self._ask_keyring(provider)
        return frozenset(p.id for p in providers if self._looked_up.get(key_account(p)))

    async def look_up_in_background(self, providers: Iterable[ProviderConfig]) -> frozenset[str]:
        """look_up(elsewhere=True) in a worker thread: the event loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[frozenset[str]] = loop.create_future()
        wanted = list(providers)

        def settle(held: frozenset[str] | None, error: BaseException | None) -> None:
            if answer.done():
                return
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(held or frozenset())

        def work() -> None:
            try:
                held, error = self.look_up(wanted, elsewhere=True), None
            except Exception as exc:  # the answer must come, whatever the keyring did
                held, error = None, exc
            try:
                loop.call_soon_threadsafe(settle, held, error)
            except RuntimeError:
                pass  # the app closed meanwhile

        # A daemon thread: a keyring that never answers must not hold up quitting.
        threading.Thread(target=work, name="keyring", daemon=True).start()
        held = await answer
        self.assumed = None
        return held

    def settle(self, providers: Iterable[ProviderConfig]) -> frozenset[str] | None:
        """Wait for the keyring now, when its answer is needed before it came; None if it had
        answered already."""
        if self.answered:
            return None
        held = self.look_up(providers)
        self.assumed = None
        return held

    # The private file

    def _file_keys(self) -> dict[str, str]:
        if self.key_file is None or not self.key_file.exists():
            return {}
        try:
            data = json.loads(self.key_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def _write_file_keys(self, keys: dict[str, str]) -> None:
        assert self.key_file is not None
        write_private(self.key_file, json.dumps(keys, indent=1))

    def _file_key(self, provider: ProviderConfig) -> str | None:
        if self.key_file is None:
            return None
        keys = self._file_keys()
        account, legacy = key_account(provider), self.legacy_names.get(provider.id)
        if legacy and legacy in keys:
            # An older version's entry, under the display name: move it.
            key = keys.setdefault(account, keys[legacy])
            del keys[legacy]
            try:
                self._write_file_keys(keys)
            except OSError:
                return key  # read as it is; moved another time
        return keys.get(account) or None

    def use_file(self, path: Path) -> None:
        """Keep keys in `path` (0600) from now on, starting with the ones held for this session."""
        self.key_file = path
        keys = self._file_keys()
        keys.update(self.session_keys)
        self._write_file_keys(keys)
        self.session_keys.clear()

    # Writing

    def set(self, provider: ProviderConfig, key: str) -> None:
        """Store the key; raise KeyringUnavailable (keeping it for the session) if no keyring works."""
        self.set_secret(key_account(provider), key)

    def set_secret(self, account: str, key: str) -> None:
        """Store a secret under `account` (a provider's key, a tool server's token) where
        keys are kept; raise KeyringUnavailable (keeping it for the session) if no keyring works."""
        self._looked_up.pop(account, None)
        if self.key_file is not None:
            keys = self._file_keys()
            keys[account] = key
            self._write_file_keys(keys)
            return
        self.session_keys[account] = key
        try:
            _keyring_set(account, key)
        except Exception as exc:
            raise KeyringUnavailable(
                f"No system keyring is available ({type(exc).__name__}); the key is used for this session only."
            ) from exc
        del self.session_keys[account]

    def delete(self, provider: ProviderConfig) -> None:
        """Forget the provider's key everywhere the app keeps keys."""
        self.delete_secret(key_account(provider))

    def secret(self, account: str) -> str | None:
        """A secret stored with set_secret (this session's, the private file's, the keyring's)."""
        if account in self.session_keys:
            return self.session_keys[account]
        if self.key_file is not None:
            return self._file_keys().get(account) or None
        return _keyring_get(account)

    def delete_secret(self, account: str) -> None:
        """Forget a secret everywhere the app keeps keys."""
        self.session_keys.pop(account, None)
        self._looked_up.pop(account, None)
        if self.key_file is not None and account in (keys := self._file_keys()):
            del keys[account]
            self._write_file_keys(keys)
        try:
            _keyring_delete(account)
        except Exception:
            pass  # no keyring, or one that refuses: the entry stays where the user can see it


def read_keys_in_helper(
    wanted: list[tuple[str, str | None]], timeout: float = READ_KEYS_TIMEOUT_S
) -> tuple[dict[str, str | None], set[str]] | None:
    """The keyring's answer for each (account, legacy name), read (and moved) by
    `desktop-chat --read-keys`: each account's key, and the accounts with nothing left
    under their legacy name. None if the helper could not run or answer (the caller then
    asks in-process)."""
    if getattr(sys, "frozen", False):
        command = [sys.executable, READ_KEYS_FLAG]  # the installed app is its own helper
    else:
        command = [sys.executable, "-m", "desktop_chat.core.secrets"]
    try:
        out = subprocess.run(
            command, input=json.dumps(wanted), capture_output=True, text=True, timeout=timeout, check=False
        )
        answer = json.loads(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("keys"), dict):
        return None
    accounts = {account for account, _ in wanted}
    keys = {
        name: value if isinstance(value, str) and value else None
        for name, value in answer["keys"].items()
        if name in accounts
    }
    moved = answer.get("moved")
    return keys, {name for name in moved if name in accounts} if isinstance(moved, list) else set()


def serve_read_keys() -> int:
    """The helper's side: [account, legacy name or null] pairs as JSON on stdin; on stdout,
    {"keys": {account: key or null}, "moved": [accounts with nothing left under their legacy name]}."""
    try:
        wanted = json.loads(sys.stdin.read())
    except ValueError:
        return 2
    if not isinstance(wanted, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
        for pair in wanted
    ):
        return 2
    keys: dict[str, str | None] = {}
    moved = []
    for account, legacy in wanted:
        keys[account], done = read_or_move(account, legacy)
        if done:
            moved.append(account)
    print(json.dumps({"keys": keys, "moved": moved}))
    return 0


def endpoint_for(provider: ProviderConfig, keys: KeyStore) -> Endpoint:
    """The endpoint to call for a provider, or NoEndpoint with what the user must do."""
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
