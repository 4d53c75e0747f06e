"""The tool servers of the settings, each a ToolServer made when first needed, with its
secrets read from where keys are kept; importing an `mcpServers` file into them; and the
trial connections of configurations not saved yet (the Tools page tries them), which
chats never use."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from desktop_chat.core.secrets import KeyringUnavailable, KeyStore
from desktop_chat.core.settings import SettingsStore

from .config import ImportedServers, ToolServerConfig, read_mcp_servers, secret_account
from .servers import START_TIMEOUT, ToolInfo, ToolServer, ToolServerError


@dataclass
class ServerStatus:
    config: ToolServerConfig
    tools: list[ToolInfo] = field(default_factory=list)
    error: str | None = None  # why it is not running (None: running, or disabled)
    notes: list[str] = field(default_factory=list)  # tools it offers that were left out, and why


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ToolServers:
    def __init__(self, settings: SettingsStore, keys: KeyStore, log_dir: Path) -> None:
        self.settings = settings
        self.keys = keys
        self.log_dir = log_dir
        self._servers: dict[str, ToolServer] = {}
        # Configurations not saved yet, tried (the Tools page): by server id.
        self._trials: dict[str, ToolServer] = {}

    def configured(self) -> tuple[ToolServerConfig, ...]:
        return self.settings.current.tool_servers

    def server(self, config: ToolServerConfig) -> ToolServer:
        """Its connection (made, not started); a changed configuration gets a new one."""
        found = self.known(config)
        if found is None:
            env = self._secrets(config, "env", config.secret_env)
            found = self._made(config, env, self._secrets(config, "header", config.secret_headers))
        return found

    def known(self, config: ToolServerConfig) -> ToolServer | None:
        """Its connection if one was made for this configuration (none is made here)."""
        found = self._servers.get(config.id)
        return found if found is not None and found.config == config else None

    async def connection(self, config: ToolServerConfig) -> ToolServer:
        """As server(), with its secret values read from the keyring in a worker thread
        (a D-Bus round trip each), not in the window's loop."""
        found = self.known(config)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        env = await loop.run_in_executor(None, self._secrets, config, "env", config.secret_env)
        headers = await loop.run_in_executor(None, self._secrets, config, "header", config.secret_headers)
        return self.known(config) or self._made(config, env, headers)  # (or made meanwhile by another caller)

    def _made(self, config: ToolServerConfig, env: dict[str, str], headers: dict[str, str]) -> ToolServer:
        made = ToolServer(config, env, headers, self.log_dir / f"{config.id}.log")
        self._servers[config.id] = made
        return made

    def _secrets(self, config: ToolServerConfig, kind: str, names: tuple[str, ...]) -> dict[str, str]:
        found = {}
        for name in names:
            value = self.keys.secret(secret_account(config, kind, name))
            if value is not None:
                found[name] = value
        return found

    async def status(self, timeout: float = START_TIMEOUT) -> list[ServerStatus]:
        """Each server: the enabled ones started (all at once) and their tools listed, or why not."""

        async def one(config: ToolServerConfig) -> ServerStatus:
            if not config.enabled:
                return ServerStatus(config)
            try:
                server = await self.connection(config)
                tools = list(await server.start(timeout))
                return ServerStatus(config, tools, notes=list(server.notes))
            except ToolServerError as exc:
                return ServerStatus(config, error=str(exc))

        return list(await asyncio.gather(*(one(c) for c in self.configured())))

    async def close(self) -> None:
        """Stop every server, at once (a hung one does not hold up the others); trials too."""
        servers, self._servers = list(self._servers.values()), {}
        servers.extend(self._trials.values())
        self._trials = {}
        await asyncio.gather(*(s.close() for s in servers), return_exceptions=True)

    async def trial(self, config: ToolServerConfig, env: Mapping[str, str], headers: Mapping[str, str]) -> ToolServer:
        """A connection (made, not started) for a configuration not saved yet, with these
        secret values over the stored ones; chats never use it. The one it replaces (the
        same server tried as it was before) is closed first. Ended by `settle` or `close`."""
        env = self._secrets(config, "env", tuple(n for n in config.secret_env if n not in env)) | dict(env)
        headers = self._secrets(config, "header", tuple(n for n in config.secret_headers if n not in headers)) | dict(
            headers
        )
        known = self._trials.get(config.id)
        if known is not None and (known.config, known.env, known.headers) == (config, env, headers):
            return known
        if known is not None:
            await known.close()
        trial = ToolServer(config, env, headers, self.log_dir / f"{config.id}.log")
        self._trials[config.id] = trial
        return trial

    async def end_trial(self, server_id: str) -> None:
        """Close the trial of this server, if any (the Tools page turned it off)."""
        trial = self._trials.pop(server_id, None)
        if trial is not None:
            await trial.close()

    async def settle(self, keep_trials: bool = True) -> None:
        """After the configuration changed (the Tools page saved or was cancelled): a trial
        of what is now configured (and enabled) becomes that server's connection, its
        secret values being the stored ones (with `keep_trials`); every other trial is
        closed, as are the connections of servers removed, disabled or changed since."""
        configured = {c.id: c for c in self.configured() if c.enabled}
        retired: list[ToolServer] = []
        trials, self._trials = self._trials, {}
        for ident, trial in trials.items():
            config = configured.get(ident)
            adopt = (
                keep_trials
                and config == trial.config
                and config is not None
                and trial.env == self._secrets(config, "env", config.secret_env)
                and trial.headers == self._secrets(config, "header", config.secret_headers)
            )
            if adopt:
                known = self._servers.get(ident)
                if known is not None and known is not trial:
                    retired.append(known)
                self._servers[ident] = trial
            else:
                retired.append(trial)
        for ident, server in list(self._servers.items()):
            if configured.get(ident) != server.config:
                retired.append(self._servers.pop(ident))
        await asyncio.gather(*(s.close() for s in retired), return_exceptions=True)

    def import_text(self, text: str, enable: bool = True) -> ImportResult:
        """Add (or update, by name) the servers of an `mcpServers` file: their secret values
        to the keyring first, then the settings. Raises ToolConfigError for a file that
        holds no usable server, KeyringUnavailable when secrets cannot be kept (nothing is
        then written)."""
        imported = read_mcp_servers(text)
        return self._apply(imported, enable)

    def merge_import(
        self, text: str, servers: Sequence[ToolServerConfig], enable: bool = True
    ) -> tuple[list[ToolServerConfig], dict[str, str], ImportResult]:
        """What import_text would make of `servers` (a list not saved yet: the Tools
        page's), written nowhere: the servers after the import, the secret values to store
        (by keyring account), and what was added, updated and noted. Raises
        ToolConfigError for a file that holds no usable server."""
        return _merge(read_mcp_servers(text), servers, enable)

    def _apply(self, imported: ImportedServers, enable: bool) -> ImportResult:
        servers, secrets, result = _merge(imported, self.configured(), enable)
        stored: list[str] = []
        try:
            for account, value in secrets.items():
                self.keys.set_secret(account, value)
                stored.append(account)
        except KeyringUnavailable:
            for account in stored:
                self.keys.delete_secret(account)
            raise KeyringUnavailable(
                "No system keyring is available to keep the servers' secret values (env and headers);"
                " nothing was imported. Choose a private key file in Settings, or add a keyring."
            ) from None
        self.settings.update(replace(self.settings.current, tool_servers=tuple(servers)))
        return result


def _merge(
    imported: ImportedServers, before: Sequence[ToolServerConfig], enable: bool
) -> tuple[list[ToolServerConfig], dict[str, str], ImportResult]:
    """The servers of `before` with the imported ones added (or updated, by name)."""
    result = ImportResult(notes=list(imported.notes))
    existing = {s.name: s for s in before}
    servers = list(before)
    secrets = dict(imported.secrets)
    for server in imported.servers:
        known = existing.get(server.name)
        final = replace(server, enabled=server.enabled and enable)
        if known is not None:
            # Updated in place: the same id (its secrets and trust stay its own).
            final = replace(final, id=known.id)
            for account in list(secrets):
                if account.startswith(f"mcp:{server.id}:") and server.id != known.id:
                    secrets[account.replace(server.id, known.id, 1)] = secrets.pop(account)
            servers[servers.index(known)] = final
            result.updated.append(server.name)
        else:
            servers.append(final)
            result.added.append(server.name)
    return servers, secrets, result
