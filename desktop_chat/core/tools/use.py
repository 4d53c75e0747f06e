"""Tools in a chat: what a request offers the model (the enabled servers' tools, named as
OpenAI's `tools` wants them), a call's arguments pieced together as they stream, whether a
call may run without asking, and running it: its result made into what the model is told
and what the transcript shows (text, and images kept as attachments).

Nothing here runs a tool without an answer: the caller (core/session.py) asks the user
through a `Decide` unless the user allowed the tool always, or opted in to read-only ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from desktop_chat.core.attachments import AttachmentError, AttachmentStore, prepare_bytes
from desktop_chat.core.conversation import (
    TOOL_DONE,
    TOOL_ERROR,
    AttachmentPart,
    ToolCallPart,
)
from desktop_chat.core.events import ToolCallDelta
from desktop_chat.core.settings import SettingsStore

from .config import ToolServerConfig
from .registry import ToolServers
from .servers import START_TIMEOUT, ToolInfo, ToolServerError
from .trust import Trust

# What of a tool's result is kept and sent to the model, in characters.
MAX_RESULT_CHARS = 100_000
# How long the servers get to start before a request goes without the slow ones' tools.
OFFER_TIMEOUT = 15.0
# OpenAI's rule for function names.
_NAME = re.compile(r"[^a-zA-Z0-9_-]")

DECLINED_RESULT = "The user declined this tool call; it was not run. Go on without it."
NO_ANSWER_RESULT = "The tool was not run: there was no one to ask for consent (run with --allow-tools to allow it)."


class Answer(StrEnum):
    """The user's answer to "may this tool run?"."""

    ONCE = "once"
    ALWAYS = "always"
    DENY = "deny"


@dataclass(frozen=True)
class OfferedTool:
    """A tool as one request offers it: the name the model calls it by, and whose it is."""

    function: str
    server: ToolServerConfig
    info: ToolInfo

    def spec(self) -> dict[str, Any]:
        """The tool as OpenAI's `tools` describes a function."""
        described = self.info.description or self.info.title or self.info.name
        return {
            "type": "function",
            "function": {
                "name": self.function,
                "description": described[:1024],
                "parameters": parameters_for_model(self.info.input_schema),
            },
        }


# Who answers, for one call: the window's card, the terminal, or a refusal.
Decide = Callable[[ToolCallPart, OfferedTool], Awaitable[Answer]]


def parameters_for_model(schema: Any) -> dict[str, Any]:
    """A server's input schema as a function's parameters: an object schema (what a server
    declares that is not one is replaced by an empty one, which providers accept)."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return {"type": "object", "properties": {}}
    found = dict(schema)
    found["type"] = "object"
    if not isinstance(found.get("properties"), dict):
        found["properties"] = {}
    return found


def _safe(name: str) -> str:
    return _NAME.sub("_", name)[:64] or "tool"


def function_names(pairs: list[tuple[ToolServerConfig, ToolInfo]]) -> dict[str, OfferedTool]:
    """Each tool under a name OpenAI accepts (`^[a-zA-Z0-9_-]{1,64}$`): its own where it is
    valid and no other server has it; else the server's name before it; never two alike."""
    bases = [_safe(info.name) for _, info in pairs]
    named: dict[str, OfferedTool] = {}
    for (server, info), base in zip(pairs, bases, strict=True):
        name = base if bases.count(base) == 1 and base == info.name else f"{_safe(server.name)}__{base}"[:64]
        if name in named:
            mark = f"{zlib.crc32(f'{server.id}/{info.name}'.encode()):08x}"
            name = f"{name[:55]}_{mark}"
        named[name] = OfferedTool(name, server, info)
    return named


@dataclass
class Toolbox:
    """The tools one reply offers, and what the user should hear about those left out."""

    tools: dict[str, OfferedTool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def specs(self) -> tuple[dict[str, Any], ...]:
        return tuple(tool.spec() for tool in self.tools.values())


class CallGathering:
    """Tool calls as their pieces stream in (core/events.py ToolCallDelta), by index."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}
        # Where the pieces of an index go: another call's id at an index already taken
        # starts a new call (Gemini sends each call whole, with no index, in its own chunk).
        self._moved: dict[int, int] = {}

    def add(self, delta: ToolCallDelta) -> None:
        index = self._moved.get(delta.index, delta.index)
        known = self._calls.get(index)
        if known is not None and delta.call_id and known[0] and delta.call_id != known[0]:
            index = max(self._calls) + 1
            self._moved[delta.index] = index
        call = self._calls.setdefault(index, ["", "", ""])
        if delta.call_id and not call[0]:
            call[0] = delta.call_id
        if delta.name and not call[1]:
            call[1] = delta.name
        call[2] += delta.arguments

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self, toolbox: Toolbox | None, round_number: int) -> list[ToolCallPart]:
        """The calls, each ready to be asked about, or already failed (a tool that is not
        offered, arguments that are not a JSON object: the model is told so)."""
        found = []
        for index, (call_id, name, arguments) in sorted(self._calls.items()):
            call_id = call_id or f"call_{round_number}_{index}"
            offered = toolbox.tools.get(name) if toolbox is not None else None
            part = ToolCallPart(call_id, name, arguments)
            if offered is None:
                found.append(replace(part, status=TOOL_ERROR, result=f"There is no tool named {name!r}."))
                continue
            part = replace(part, server=offered.server.name, server_id=offered.server.id, tool=offered.info.name)
            problem = arguments_problem(arguments)
            found.append(replace(part, status=TOOL_ERROR, result=problem) if problem else part)
        return found


def arguments_problem(arguments: str) -> str | None:
    if not arguments.strip():
        return None  # (no arguments: {})
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError) as exc:
        return f"The arguments were not valid JSON ({str(exc)[:200]}); the tool was not run."
    if not isinstance(value, dict):
        return "The arguments were not a JSON object; the tool was not run."
    return None


def arguments_of(call: ToolCallPart) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments) if call.arguments.strip() else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


class ToolUse:
    """The tool servers as chats use them."""

    def __init__(
        self, servers: ToolServers, trust: Trust, settings: SettingsStore, attachments: AttachmentStore
    ) -> None:
        self.servers = servers
        self.trust = trust
        self.settings = settings
        self.attachments = attachments
        self._told: set[str] = set()  # notes already given this run: said once, not every reply
        # Servers starting, by id: a reply and the warm-up while typing share one start.
        self._starts: dict[str, asyncio.Task[list[ToolInfo]]] = {}
        self._waited: set[asyncio.Future[list[ToolInfo]]] = set()  # starts a reply has waited for

    def any_enabled(self) -> bool:
        return any(s.enabled for s in self.servers.configured())

    async def toolbox(self, timeout: float | None = None) -> Toolbox:
        """The enabled servers' tools (each server started, all at once, if not running).
        A server still starting after `timeout` (npx fetching its package, say) goes on
        starting; this reply goes without its tools, and the next one has them."""
        enabled = [c for c in self.servers.configured() if c.enabled]
        starts = {c.id: self._start(c) for c in enabled}
        # (A start an earlier reply waited for in vain is not waited for again: a server that
        # hangs at start would hold up every reply.)
        fresh = [start for start in starts.values() if start not in self._waited]
        self._waited.update(fresh)
        if fresh:
            await asyncio.wait(fresh, timeout=OFFER_TIMEOUT if timeout is None else timeout)
        pairs: list[tuple[ToolServerConfig, ToolInfo]] = []
        notes: list[str] = []

        def say(note: str) -> None:
            if note not in self._told:  # (said once a run, not every reply)
                self._told.add(note)
                notes.append(note)

        for config in enabled:
            start = starts[config.id]
            if not start.done():
                say(f"The tool server '{config.name}' is still starting; its tools are offered once it has.")
                continue
            problem = start.exception()
            if problem is not None:
                say(f"{problem} Its tools are not offered; see File → Tools.")
                continue
            pairs.extend((config, tool) for tool in start.result())
            known = self.servers.known(config)
            for note in known.notes if known is not None else ():
                say(note)  # (tools whose schema could not be used were left out)
        return Toolbox(function_names(pairs), notes)

    def _start(self, config: ToolServerConfig) -> asyncio.Task[list[ToolInfo]]:
        """The server's start: the one under way, or a new one (done at once if it runs)."""
        under_way = self._starts.get(config.id)
        if under_way is not None and not under_way.done():
            return under_way

        async def start() -> list[ToolInfo]:
            server = await self.servers.connection(config)
            return await server.start(START_TIMEOUT)

        task = asyncio.ensure_future(start())
        self._starts[config.id] = task
        task.add_done_callback(self._waited.discard)
        task.add_done_callback(
            lambda done: done.cancelled() or done.exception()
        )  # (retrieved: never "never retrieved")
        return task

    def warm_up(self) -> None:
        """Start the enabled servers in the background (the user is typing a message that
        will offer their tools): the send then finds them running. What fails is said when
        a reply offers them."""
        for config in self.servers.configured():
            known = self.servers.known(config)
            last = self._starts.get(config.id)
            failed = last is not None and last.done() and not last.cancelled() and last.exception() is not None
            # (One that failed is tried again by the next reply, not on every key pressed.)
            if config.enabled and not failed and not (known is not None and known.running):
                self._start(config)

    async def aclose(self) -> None:
        """Stop the servers (the app ends), starts under way too."""
        starts, self._starts = list(self._starts.values()), {}
        for start in starts:
            start.cancel()
        await asyncio.gather(*starts, return_exceptions=True)
        await self.servers.close()

    def trusted(self, tool: OfferedTool) -> bool:
        """May run without asking: allowed always (and unchanged since), or read-only by its
        server's word when the user opted in to that."""
        if self.trust.allowed(tool.server, tool.info):
            return True
        return tool.info.read_only and self.settings.current.tools_read_only_allowed

    async def run(self, tool: OfferedTool, call: ToolCallPart) -> ToolCallPart:
        """Run a call the user allowed; the part with its result (or why it failed)."""
        if tool.server not in [c for c in self.servers.configured() if c.enabled]:
            return replace(
                call,
                status=TOOL_ERROR,
                result=f"The tool server '{tool.server.name}' was turned off or changed meanwhile; the tool was not run.",
            )
        try:
            server = await self.servers.connection(tool.server)
            result = await server.call(tool.info.name, arguments_of(call))
        except ToolServerError as exc:
            return replace(call, status=TOOL_ERROR, result=str(exc))
        return await self._result(call, result)

    async def _result(self, call: ToolCallPart, result: Any) -> ToolCallPart:
        texts: list[str] = []
        images: list[AttachmentPart] = []
        for block in getattr(result, "content", None) or ():
            kind = getattr(block, "type", "")
            if kind == "text":
                texts.append(str(block.text))
            elif kind == "image":
                image = await self._image(block, f"{call.tool or 'tool'}-{len(images) + 1}")
                if isinstance(image, str):
                    texts.append(image)
                else:
                    images.append(image)
                    texts.append(f"[The tool returned an image ({image.width} × {image.height}); the user sees it.]")
            elif kind == "audio":
                texts.append("[The tool returned audio, which is not played here.]")
            elif kind == "resource_link":
                texts.append(f"[A resource: {getattr(block, 'name', '')} {getattr(block, 'uri', '')}]")
            elif kind == "resource":
                resource = block.resource
                text = getattr(resource, "text", None)
                texts.append(
                    str(text)
                    if isinstance(text, str)
                    else f"[A binary resource, {resource.uri} ({resource.mime_type or 'no type'}), not shown.]"
                )
        structured = getattr(result, "structured_content", None)
        if not texts and structured is not None:
            texts.append(json.dumps(structured, ensure_ascii=False))
        text = "\n\n".join(texts)
        if len(text) > MAX_RESULT_CHARS:
            text = (
                text[:MAX_RESULT_CHARS] + f"\n\n[The tool returned {len(text):,} characters; only the first "
                f"{MAX_RESULT_CHARS:,} were kept and sent to the model.]"
            )
        failed = bool(getattr(result, "is_error", False))
        return replace(
            call,
            status=TOOL_ERROR if failed else TOOL_DONE,
            result=text or ("(the tool failed and said nothing)" if failed else "(the tool returned nothing)"),
            images=tuple(images),
        )

    async def _image(self, block: Any, name: str) -> AttachmentPart | str:
        """An image the tool returned, checked and kept like an attachment; or why not."""
        try:
            data = base64.b64decode(str(block.data), validate=True)
            extension = str(getattr(block, "mime_type", "") or "image/png").rpartition("/")[2] or "png"
            prepared = await asyncio.get_running_loop().run_in_executor(
                None, prepare_bytes, data, f"{name}.{extension}"
            )
            if not prepared.part.image:
                raise AttachmentError("it is not an image")
            self.attachments.put(prepared.data)
        except (ValueError, AttachmentError, OSError) as exc:
            return f"[The tool returned an image that could not be read ({exc}).]"
        return prepared.part
