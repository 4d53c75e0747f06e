"""Tool servers (MCP) as the user configures them, and the `mcpServers` JSON that Claude
Desktop, Cursor, Cline and others write, read for import.

A server is a command to start (stdio: command, arguments, environment) or an address
(Streamable HTTP, the legacy SSE transport as a fallback: URL, headers). The values of its
environment and headers are secrets by default: they go to the keyring (or the private key
file the user chose) under `mcp:<server id>:env:<NAME>` / `mcp:<server id>:header:<Name>`,
and the settings file holds only their names; a value the user marks as plain is kept in
the settings. An imported `autoApprove` (or `alwaysAllow`) is ignored: trust is given in
this app, not inherited.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from desktop_chat.errors import DesktopChatError


class ToolConfigError(DesktopChatError, ValueError):
    """A server's configuration that cannot be used; the message names the server."""


@dataclass(frozen=True)
class ToolServerConfig:
    name: str
    # stdio: the program and its arguments (run with the user's PATH)
    command: str = ""
    args: tuple[str, ...] = ()
    cwd: str = ""
    # Streamable HTTP (SSE as a fallback)
    url: str = ""
    # Names of environment variables / headers whose values are in the keyring.
    secret_env: tuple[str, ...] = ()
    secret_headers: tuple[str, ...] = ()
    # Values the user marked as plain (kept in the settings file).
    plain_env: tuple[tuple[str, str], ...] = ()
    plain_headers: tuple[tuple[str, str], ...] = ()
    enabled: bool = True
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", server_id_for(self.name))

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"

    def describe(self) -> str:
        """What it runs or reaches, in a line."""
        if self.command:
            return " ".join([self.command, *self.args])
        return self.url


def server_id_for(name: str) -> str:
    """A server's id from its first name (CRC-32, as provider ids: settings.py is read
    before the first paint, and hashlib would cost it 3 ms)."""
    return f"mcp-{zlib.crc32(f'desktop-chat:mcp:{name}'.encode()):08x}"


def secret_account(server: ToolServerConfig, kind: str, name: str) -> str:
    """The keyring entry of one secret value: kind is "env" or "header"."""
    return f"mcp:{server.id}:{kind}:{name}"


@dataclass
class ImportedServers:
    """What an `mcpServers` file holds: the servers, the secret values to store (by keyring
    account), and what was left out or ignored, said for the user."""

    servers: list[ToolServerConfig] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_mcp_servers(text: str) -> ImportedServers:
    """Read an `mcpServers` JSON file (or VS Code's `servers`). A server that cannot be
    used is left out with a note naming it; a file with none raises ToolConfigError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ToolConfigError(f"The file is not JSON ({exc}).") from None
    table = data.get("mcpServers", data.get("servers")) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ToolConfigError('The file has no "mcpServers" table (as Claude Desktop and Cursor write it).')
    result = ImportedServers()
    for name, entry in table.items():
        try:
            server, secrets, ignored = _server(str(name).strip(), entry)
        except ToolConfigError as exc:
            result.notes.append(str(exc))
            continue
        result.servers.append(server)
        result.secrets.update(secrets)
        result.notes.extend(ignored)
    if not result.servers:
        raise ToolConfigError(" ".join(result.notes) or "The file names no servers.")
    return result


def _strings(value: Any, what: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolConfigError(f"Server '{name}': {what} must be a list of strings.")
    return tuple(value)


def _pairs(value: Any, what: str, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ToolConfigError(f"Server '{name}': {what} must map names to strings.")
    return dict(value)


def _server(name: str, entry: Any) -> tuple[ToolServerConfig, dict[str, str], list[str]]:
    if not name:
        raise ToolConfigError("A server with no name was left out.")
    if not isinstance(entry, dict):
        raise ToolConfigError(f"Server '{name}' is not a table; left out.")
    command, url = entry.get("command"), entry.get("url") or entry.get("serverUrl")
    kind = str(entry.get("type") or entry.get("transport") or "").lower()
    ignored = []
    if any(key in entry for key in ("autoApprove", "alwaysAllow")):
        ignored.append(
            f"Server '{name}': its list of tools to run without asking was ignored; you allow tools in this app."
        )
    if isinstance(command, str) and command.strip():
        if url:
            raise ToolConfigError(f"Server '{name}' has both a command and a url; left out.")
        env = _pairs(entry.get("env"), "env", name)
        server = ToolServerConfig(
            name=name,
            command=command.strip(),
            args=_strings(entry.get("args"), "args", name),
            cwd=str(entry.get("cwd") or ""),
            secret_env=tuple(env),
            enabled=entry.get("disabled") is not True,
        )
        secrets = {secret_account(server, "env", k): v for k, v in env.items()}
        return server, secrets, ignored
    if isinstance(url, str) and url.strip():
        if not url.startswith(("http://", "https://")):
            raise ToolConfigError(f"Server '{name}': its url must start with http:// or https://; left out.")
        if kind and kind not in ("http", "streamable-http", "streamablehttp", "sse"):
            raise ToolConfigError(f"Server '{name}': transport '{kind}' is not one this app speaks; left out.")
        headers = _pairs(entry.get("headers"), "headers", name)
        server = ToolServerConfig(
            name=name, url=url.strip(), secret_headers=tuple(headers), enabled=entry.get("disabled") is not True
        )
        secrets = {secret_account(server, "header", k): v for k, v in headers.items()}
        return server, secrets, ignored
    raise ToolConfigError(f"Server '{name}' has neither a command nor a url; left out.")


def parse_tool_servers(raw: Any) -> tuple[ToolServerConfig, ...]:
    """The [[tool_servers]] tables of settings.toml."""
    if not isinstance(raw, list):
        raise ToolConfigError("'tool_servers' must be a list of [[tool_servers]] tables")
    servers: list[ToolServerConfig] = []
    for i, entry in enumerate(raw, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise ToolConfigError(f"tool server #{i} needs a 'name'")
        name = entry["name"].strip()
        command, url = entry.get("command", ""), entry.get("url", "")
        if not isinstance(command, str) or not isinstance(url, str) or bool(command) == bool(url):
            raise ToolConfigError(f"tool server '{name}' needs a 'command' or a 'url' (one of them)")
        if url and not url.startswith(("http://", "https://")):
            raise ToolConfigError(f"tool server '{name}': 'url' must start with http:// or https://")
        ident = entry.get("id", "")
        server = ToolServerConfig(
            name=name,
            command=command,
            args=_strings(entry.get("args"), "args", name),
            cwd=str(entry.get("cwd", "")),
            url=url,
            secret_env=_strings(entry.get("secret_env"), "secret_env", name),
            secret_headers=_strings(entry.get("secret_headers"), "secret_headers", name),
            plain_env=tuple(_pairs(entry.get("plain_env"), "plain_env", name).items()),
            plain_headers=tuple(_pairs(entry.get("plain_headers"), "plain_headers", name).items()),
            enabled=entry.get("enabled", True) is not False,
            id=ident if isinstance(ident, str) else "",
        )
        if any(s.name == server.name for s in servers):
            raise ToolConfigError(f"two tool servers are named '{name}'")
        servers.append(server)
    return tuple(servers)


def tool_server_table(server: ToolServerConfig) -> dict[str, Any]:
    """A server as settings.toml keeps it (no secret values: only their names)."""
    table: dict[str, Any] = {"name": server.name, "id": server.id, "enabled": server.enabled}
    if server.command:
        table.update(command=server.command, args=list(server.args))
        if server.cwd:
            table["cwd"] = server.cwd
    else:
        table["url"] = server.url
    for key in ("secret_env", "secret_headers"):
        if getattr(server, key):
            table[key] = list(getattr(server, key))
    for key in ("plain_env", "plain_headers"):
        if getattr(server, key):
            table[key] = dict(getattr(server, key))
    return table
