"""Which tools the user allowed to run without being asked: "Always allow" on a tool call's
card, per server and tool, kept in the app state (not the settings: trust is given here,
never imported). What the tool said of itself (its description and its input schema) and
what its server runs (its command, arguments and folder, or its address) are part of the
trust: a tool that changes what it says, or a server edited or imported again to run
something else, is asked about again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from desktop_chat.core.state import StateFile

from .config import ToolServerConfig
from .servers import ToolInfo


def fingerprint(server: ToolServerConfig, tool: ToolInfo) -> str:
    runs = [server.command, list(server.args), server.cwd, server.url]
    said = json.dumps([tool.name, tool.description, tool.input_schema, runs], sort_keys=True, default=str)
    return hashlib.sha256(said.encode("utf-8", "replace")).hexdigest()[:16]


@dataclass(frozen=True)
class Allowed:
    server_id: str
    tool: str
    fingerprint: str


class Trust:
    def __init__(self, state: StateFile) -> None:
        self.state = state

    def entries(self) -> list[Allowed]:
        found = []
        for entry in self.state.current.tools_always:
            server_id, _, rest = entry.partition("\t")
            tool, _, mark = rest.rpartition("\t")
            if server_id and tool:
                found.append(Allowed(server_id, tool, mark))
        return found

    def allowed(self, server: ToolServerConfig, tool: ToolInfo) -> bool:
        """Allowed always, and the tool still says (and its server still runs) what it did then."""
        return Allowed(server.id, tool.name, fingerprint(server, tool)) in self.entries()

    def changed(self, server: ToolServerConfig, tool: ToolInfo) -> bool:
        """Allowed always once, but the tool or its server is not what it was then."""
        mark = fingerprint(server, tool)
        return any(a.server_id == server.id and a.tool == tool.name and a.fingerprint != mark for a in self.entries())

    def allow(self, server: ToolServerConfig, tool: ToolInfo) -> None:
        kept = [a for a in self.entries() if not (a.server_id == server.id and a.tool == tool.name)]
        self._write([*kept, Allowed(server.id, tool.name, fingerprint(server, tool))])

    def revoke(self, server_id: str, tool: str | None = None) -> None:
        """Ask again before this tool (or, with no tool, any tool of this server) runs."""
        kept = [a for a in self.entries() if not (a.server_id == server_id and tool in (None, a.tool))]
        self._write(kept)

    def _write(self, entries: list[Allowed]) -> None:
        self.state.update(
            replace(
                self.state.current, tools_always=tuple(f"{a.server_id}\t{a.tool}\t{a.fingerprint}" for a in entries)
            )
        )
