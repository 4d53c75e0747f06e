"""The tool servers of the settings, each a ToolServer made when first needed, with its
secrets read from where keys are kept; importing an `mcpServers` file into them."""

from __future__ import annotations

import asyncio
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

    def configured(self) -> tuple[ToolServerConfig, ...]:
        return self.settings.current.tool_servers

    def server(self, config: ToolServerConfig) -> ToolServer:
        """Its connection (made, not started); a changed configuration gets a new one."""
        known = self._servers.get(config.id)
        if known is None or known.config != config:
            env = self._secrets(config, "env", config.secret_env)
            headers = self._secrets(config, "header", config.secret_headers)
            known = ToolServer(config, env, headers, self.log_dir / f"{config.id}.log")
            self._servers[config.id] = known
        return known

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
                return ServerStatus(config, list(await self.server(config).start(timeout)))
            except ToolServerError as exc:
                return ServerStatus(config, error=str(exc))

        return list(await asyncio.gather(*(one(c) for c in self.configured())))

    async def close(self) -> None:
        """Stop every server, at once (a hung one does not hold up the others)."""
        servers, self._servers = list(self._servers.values()), {}
        await asyncio.gather(*(s.close() for s in servers), return_exceptions=True)

    def import_text(self, text: str, enable: bool = True) -> ImportResult:
        """Add (or update, by name) the servers of an `mcpServers` file: their secret values
        to the keyring first, then the settings. Raises ToolConfigError for a file that
        holds no usable server, KeyringUnavailable when secrets cannot be kept (nothing is
        then written)."""
        imported = read_mcp_servers(text)
        return self._apply(imported, enable)

    def _apply(self, imported: ImportedServers, enable: bool) -> ImportResult:
        result = ImportResult(notes=list(imported.notes))
        existing = {s.name: s for s in self.configured()}
        servers = list(self.configured())
        secrets = dict(imported.secrets)
        for server in imported.servers:
            before = existing.get(server.name)
            final = replace(server, enabled=server.enabled and enable)
            if before is not None:
                # Updated in place: the same id (its secrets and trust stay its own).
                final = replace(final, id=before.id)
                for account in list(secrets):
                    if account.startswith(f"mcp:{server.id}:") and server.id != before.id:
                        secrets[account.replace(server.id, before.id, 1)] = secrets.pop(account)
                servers[servers.index(before)] = final
                result.updated.append(server.name)
            else:
                servers.append(final)
                result.added.append(server.name)
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
