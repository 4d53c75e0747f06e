"""The reference MCP servers, as .ci/run installs them into the gitignored .cache/mcp-servers:
server-everything and server-filesystem from npm, mcp-server-time from PyPI in a venv of
its own, all at pinned versions. Tests start them from the installed files (nothing is
fetched at test time). Without them a test skips and says how to install them; CI sets
DESKTOP_CHAT_REQUIRE_MCP=1 so that a missing one fails instead."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".cache" / "mcp-servers"
NPM_VERSION = "2026.8.31"  # of both npm packages
TIME_VERSION = "2026.10.19"
NPM_PACKAGES = tuple(f"@modelcontextprotocol/server-{name}@{NPM_VERSION}" for name in ("everything", "filesystem"))
PYPI_PACKAGE = f"mcp-server-time=={TIME_VERSION}"
REQUIRE_ENV = "DESKTOP_CHAT_REQUIRE_MCP"
INSTALL = (
    f"npm install --prefix .cache/mcp-servers --no-audit --no-fund --save-exact {' '.join(NPM_PACKAGES)}; "
    f"python3 -m venv .cache/mcp-servers/py && .cache/mcp-servers/py/bin/pip install '{PYPI_PACKAGE}'"
    " (as .ci/run does)"
)


def _npm_entry(package: str) -> Path:
    return PREFIX / "node_modules" / "@modelcontextprotocol" / package / "dist" / "index.js"


def _time_program() -> Path:
    if sys.platform == "win32":
        return PREFIX / "py" / "Scripts" / "mcp-server-time.exe"
    return PREFIX / "py" / "bin" / "mcp-server-time"


def _node() -> str:
    return shutil.which("node") or "node"


def _npm_version(package: str) -> str | None:
    try:
        meta = json.loads((PREFIX / "node_modules" / "@modelcontextprotocol" / package / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(meta.get("version"))


def _time_version() -> str | None:
    found = sorted(PREFIX.glob("py/lib*/**/mcp_server_time-*.dist-info"))
    return found[0].name.removeprefix("mcp_server_time-").removesuffix(".dist-info") if found else None


def _need(program: Path, name: str, found: str | None, wanted: str, node: bool = False) -> None:
    missing = [] if program.is_file() else [str(program.relative_to(ROOT))]
    if node and shutil.which("node") is None:
        missing.insert(0, "node (Node.js 18 or later)")
    if not missing and found != wanted:
        missing.append(f"{name} {wanted} (found {found})")
    if not missing:
        return
    why = f"reference MCP server missing: {', '.join(missing)}; install with: {INSTALL}"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(why)
    pytest.skip(why)


def everything() -> dict[str, Any]:
    """server-everything over stdio, as ToolServerConfig keywords (skips or fails when missing)."""
    entry = _npm_entry("server-everything")
    _need(entry, "server-everything", _npm_version("server-everything"), NPM_VERSION, node=True)
    return {"command": _node(), "args": (str(entry), "stdio")}


def filesystem(*folders: Path) -> dict[str, Any]:
    """server-filesystem allowed into the given folders, as ToolServerConfig keywords."""
    entry = _npm_entry("server-filesystem")
    _need(entry, "server-filesystem", _npm_version("server-filesystem"), NPM_VERSION, node=True)
    return {"command": _node(), "args": (str(entry), *(str(f) for f in folders))}


def time_server() -> dict[str, Any]:
    """mcp-server-time (Python, its own venv), as ToolServerConfig keywords."""
    program = _time_program()
    _need(program, "mcp-server-time", _time_version(), TIME_VERSION)
    return {"command": str(program), "args": ()}
