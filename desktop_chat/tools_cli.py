"""`desktop-chat mcp import FILE` and `desktop-chat mcp list`: tool servers from the
command line, on the same settings and keyring as the window."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .core.paths import AppPaths
from .core.secrets import KeyringUnavailable, KeyStore
from .core.settings import SettingsStore, SettingsWriteError, load_settings
from .core.tools.config import ToolConfigError
from .core.tools.registry import ServerStatus, ToolServers


def run_tools_command(args: argparse.Namespace, paths: AppPaths) -> int:
    loaded = load_settings(paths.settings_file)
    if loaded.problem:
        return _fail(f"Your settings file could not be used ({loaded.problem}).")
    settings = SettingsStore(loaded.settings, paths.settings_file)
    keys = KeyStore(key_file=paths.key_file if loaded.settings.key_storage == "file" else None)
    servers = ToolServers(settings, keys, paths.data_dir / "tool-logs")
    if args.mcp_command == "import":
        return _import(servers, Path(args.file), enable=not args.disabled)
    return asyncio.run(_list(servers, args.json))


def _fail(message: str) -> int:
    print(f"desktop-chat: {message}", file=sys.stderr)
    return 1


def _import(servers: ToolServers, path: Path, enable: bool) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}.")
    try:
        result = servers.import_text(text, enable=enable)
    except (ToolConfigError, KeyringUnavailable, SettingsWriteError) as exc:
        return _fail(str(exc))
    for note in result.notes:
        print(f"desktop-chat: {note}", file=sys.stderr)
    state = "enabled" if enable else "disabled"
    if result.added:
        print(f"Added ({state}): {', '.join(result.added)}")
    if result.updated:
        print(f"Updated ({state}): {', '.join(result.updated)}")
    return 0


async def _list(servers: ToolServers, as_json: bool) -> int:
    if not servers.configured():
        print("No tool servers. Add some with: desktop-chat mcp import FILE", file=sys.stderr)
        return 0
    try:
        statuses = await servers.status()
    finally:
        await servers.close()
    if as_json:
        json.dump([_as_json(s) for s in statuses], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for status in statuses:
            print(_as_text(status))
    return 0


def _state(status: ServerStatus) -> str:
    if not status.config.enabled:
        return "disabled"
    return "failed" if status.error else "running"


def _as_json(status: ServerStatus) -> dict[str, object]:
    return {
        "name": status.config.name,
        "transport": status.config.transport,
        "runs": status.config.describe(),
        "state": _state(status),
        "error": status.error,
        "notes": status.notes,
        "tools": [
            {"name": t.name, "title": t.title, "description": t.description, "read_only": t.read_only}
            for t in status.tools
        ],
    }


def _as_text(status: ServerStatus) -> str:
    lines = [f"{status.config.name} ({_state(status)}) — {status.config.describe()}"]
    if status.error:
        lines.append(f"  {status.error}")
    for tool in status.tools:
        summary = (tool.description or "").strip().splitlines()[0] if tool.description else ""
        lines.append(f"  {tool.name}{' (read-only)' if tool.read_only else ''}{': ' + summary if summary else ''}")
    lines.extend(f"  ! {note}" for note in status.notes)
    return "\n".join(lines)
