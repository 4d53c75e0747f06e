"""The services every front end shares, each built once: settings, app state, history,
keys, provider clients, the provider directory and the chat session. app.py builds them
for the window, cli.py for `ask`, and benchmarks for what they measure.

Building them stays cheap: nothing here imports the SDK, asks the keyring or touches
the network; each does that on first use.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from .chat import ChatController, ChatListener
from .directory import ProviderDirectory
from .paths import AppPaths
from .profile import close_history, open_history, tidy_history
from .providers import ProviderClients
from .reasoning import ThinkHabits
from .secrets import KeyStore
from .session import ChatSession
from .settings import Settings, SettingsStore, load_settings
from .state import StateFile
from .store import HistoryStore, Progress
from .tools.registry import ToolServers
from .tools.trust import Trust
from .tools.use import Decide, ToolUse


class HistoryUse(Enum):
    """How a front end uses the history file."""

    WINDOW = "window"  # open for the whole run: marked in use, the trash purged at start
    COMMAND = "command"  # a short visit from the command line
    NONE = "none"  # nothing kept (ask --no-log): a history in memory


@dataclass
class Services:
    settings: SettingsStore
    state: StateFile
    store: HistoryStore
    keys: KeyStore
    clients: ProviderClients
    directory: ProviderDirectory
    session: ChatSession
    tools: ToolUse
    paths: AppPaths | None = None
    history_use: HistoryUse = HistoryUse.NONE
    # What the user must be told at start: a broken file kept aside, replies cut off.
    notices: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: SettingsStore | Settings,
        store: HistoryStore,
        *,
        state: StateFile | None = None,
        keys: KeyStore | None = None,
        directory: ProviderDirectory | None = None,
    ) -> Services:
        """Services around a given store and settings (tests, benchmarks); nothing is read from disk."""
        settings = settings if isinstance(settings, SettingsStore) else SettingsStore(settings)
        keys = keys or (directory.keys if directory else KeyStore())
        directory = directory or ProviderDirectory(settings, keys)
        state = state or StateFile()
        logs = Path(tempfile.gettempdir()) / f"desktop-chat-{os.getpid()}-tool-logs"
        tools = _tool_use(settings, state, keys, store, logs)
        session = ChatSession(store, directory, settings, ThinkHabits(state), tools)
        return cls(settings, state, store, keys, directory.clients, directory, session, tools)

    def chat(
        self,
        listener: ChatListener | None = None,
        titles: bool = True,
        hold: bool = False,
        decide: Decide | None = None,
    ) -> ChatController:
        """A chat on these services (the window has one, quick ask another; `ask` one per run).
        With `titles`, it asks the model for a title after the first exchange when the
        settings say so; with `hold`, text that may yet be reasoning is kept back; `decide`
        answers whether a tool may run (else the chat asks its listener's user: a card)."""
        return ChatController(self.session, listener, titles, hold, decide)

    def remember_keys(self, held: frozenset[str]) -> None:
        """The keyring has answered: which providers have a key, and whether every key an older
        version stored under a name has moved to its id (else they are looked for again)."""
        self.state.update(
            replace(self.state.current, keys_seen=tuple(sorted(held)), keys_renamed=not self.keys.legacy_names)
        )

    async def aclose(self) -> None:
        """Close connections, stop the tool servers and the local model server (they go
        with the app)."""
        await self.tools.aclose()
        await self.clients.aclose()
        self.directory.shutdown()

    def close(self) -> None:
        if self.paths is not None and self.history_use is not HistoryUse.NONE:
            close_history(self.paths, self.store, marked_in_use=self.history_use is HistoryUse.WINDOW)
        else:
            self.store.close()


def open_services(paths: AppPaths, history: HistoryUse, progress: Progress | None = None) -> Services:
    """Read the user's settings, state and history (whatever is broken is kept aside and
    said in `notices`). Raises LeftUntouched for a history this version cannot use as it is (from a newer
    version; or one that needs an update and could not be copied first)."""
    notices: list[str] = []
    loaded = load_settings(paths.settings_file)
    if loaded.problem:
        where = f" The original was kept as {loaded.backup}." if loaded.backup else ""
        notices.append(f"Your settings file could not be used ({loaded.problem}); defaults are in use.{where}")
    notices.extend(f"settings.toml: {w}" for w in loaded.warnings)
    settings = SettingsStore(loaded.settings, paths.settings_file)
    state = StateFile.load(paths.state_file, _moved_state(loaded.moved, loaded.settings))
    if history is HistoryUse.NONE:
        store = HistoryStore(":memory:")
    else:
        store = open_history(paths, notices, mark_in_use=history is HistoryUse.WINDOW, progress=progress)
        if history is HistoryUse.WINDOW:
            tidy_history(store, notices)
    current = loaded.settings
    keys = KeyStore(key_file=paths.key_file if current.key_storage == "file" else None)
    if not state.current.keys_renamed:
        keys.legacy_names = {p.id: p.name for p in current.providers if p.needs_key}
    if history is HistoryUse.WINDOW:
        # The window paints before the keyring answers: until then, as last time.
        keys.assumed = frozenset(state.current.keys_seen)
    clients = ProviderClients()
    directory = ProviderDirectory.create(settings, keys, clients)
    tools = _tool_use(settings, state, keys, store, paths.data_dir / "tool-logs")
    session = ChatSession(store, directory, settings, ThinkHabits(state), tools)
    return Services(settings, state, store, keys, clients, directory, session, tools, paths, history, notices)


def _tool_use(settings: SettingsStore, state: StateFile, keys: KeyStore, store: HistoryStore, logs: Path) -> ToolUse:
    return ToolUse(ToolServers(settings, keys, logs), Trust(state), settings, store.attachments)


def _moved_state(moved: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What an older settings.toml held of the app state; it named providers, ids are kept now."""
    if isinstance(moved.get("keys_seen"), list):
        names = set(moved["keys_seen"])
        moved = {**moved, "keys_seen": [p.id for p in settings.providers if p.name in names]}
    return moved
