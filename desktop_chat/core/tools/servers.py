"""Connections to tool servers through the official MCP SDK (`mcp` 2.x; its client API as
measured here: docs/research/mcp-sdk-2.3.md).

`import mcp` costs ~0.7 s and brings starlette and uvicorn along, so it happens in a
worker thread, and only when a server is first needed. The SDK's transports and session
are anyio contexts that must be entered and left in one task: each server has one
supervisor task that owns them, and calls reach it through a queue; a call's caller may
be cancelled (Stop) and the server is told. A server's stderr goes to its own log file
(the SDK needs a real file descriptor for it), 0600.

What servers do wrong is survived: a program found only on the login shell's PATH (the
app started from the desktop menu), an address that speaks only the legacy SSE transport,
a tool whose schema is not an object's (left out, with a note), a server that stops
answering (found by a ping after a call times out, ended, and started again on next use).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from desktop_chat.errors import DesktopChatError

from .config import ToolServerConfig
from .launcher import command_for
from .shell_path import login_shell_path

# Waits, in seconds.
START_TIMEOUT = 30.0
CALL_TIMEOUT = 120.0
CLOSE_TIMEOUT = 8.0  # (the SDK's own shutdown: stdin closed, 2 s, SIGTERM, 2 s, SIGKILL)
PING_TIMEOUT = 5.0  # after a call timed out, for the server to show it still answers


class ToolServerError(DesktopChatError):
    """A tool server that could not be started or reached, or a call that failed; the
    message says why, for the user."""


@dataclass(frozen=True)
class ToolInfo:
    """One tool a server offers, as the model is told of it."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    title: str = ""
    read_only: bool = False  # the server says it changes nothing (a hint, not a promise)


@dataclass
class _Call:
    name: str
    arguments: dict[str, Any]
    timeout: float
    future: asyncio.Future[Any] = field(repr=False)


async def load_mcp() -> None:
    """Have the SDK imported, in a worker thread (the event loop keeps turning)."""

    def work() -> None:
        import gc

        # (A full collection in this thread, 27-56 ms, would hold the GIL the window waits
        # for: none while the SDK's thousands of objects are made; then they are set aside,
        # as the app's own are after the first paint.)
        collecting = gc.isenabled()
        gc.disable()
        try:
            import anyio._backends._asyncio  # noqa: F401  (imported by the first server start otherwise: 16-25 ms)
            import jsonschema  # noqa: F401  (imported by the first call otherwise: ~50 ms on the loop)
            import jsonschema.validators  # noqa: F401
            import mcp  # noqa: F401
            import mcp.client.sse  # noqa: F401
            import mcp.client.stdio  # noqa: F401
            import mcp.client.streamable_http  # noqa: F401
            import referencing  # noqa: F401
            import referencing.exceptions  # noqa: F401
        finally:
            if collecting:
                gc.enable()
        gc.freeze()

    await asyncio.get_running_loop().run_in_executor(None, work)


class ToolServer:
    """One configured server: started on first use, its tools listed, calls served in turn
    by its supervisor task, closed with a bounded wait."""

    def __init__(
        self,
        config: ToolServerConfig,
        env: Mapping[str, str],
        headers: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.config = config
        self.env = dict(env)
        self.headers = dict(headers)
        self.log_path = log_path
        self.tools: list[ToolInfo] = []
        self.error: str | None = None  # why it is not running, said for the user
        self.server_name = ""  # what the server calls itself
        self.started_in: float | None = None
        self.notes: list[str] = []  # tools it offers that were left out, and why, for the user
        self._queue: asyncio.Queue[_Call | None] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lost = False  # its process died, or it was found stuck: started again on next use
        self._settled = asyncio.Event()  # cleared while a server whose call timed out is pinged
        self._settled.set()
        self._starting = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and self._ready.is_set() and self.error is None

    async def start(self, timeout: float = START_TIMEOUT) -> list[ToolInfo]:
        """Start it (if not running) and list its tools; raises ToolServerError with why not.
        Callers at the same time (a warm-up while typing, then the send) share one start."""
        async with self._starting:
            return await self._start(timeout)

    async def _start(self, timeout: float) -> list[ToolInfo]:
        if self._lost:
            await self.close()
        if self._task is None or self._task.done():
            await load_mcp()
            self._lost = False
            self.error = None
            self.notes = []
            self._ready = asyncio.Event()
            self._queue = asyncio.Queue()
            began = time.monotonic()
            self._task = asyncio.ensure_future(self._supervise())
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                self.error = f"did not answer within {timeout:g} s"
                await self.close()
            self.started_in = time.monotonic() - began
        if self.error is not None:
            raise ToolServerError(f"The tool server '{self.config.name}' {self.error}.")
        return self.tools

    async def call(self, name: str, arguments: dict[str, Any], timeout: float = CALL_TIMEOUT) -> Any:
        """Call a tool; the SDK's CallToolResult. Cancelling the caller cancels the call."""
        await self._settled.wait()  # (a server found stuck is started again, not called)
        await self.start()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Call(name, arguments, timeout, future))
        return await future

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop it: the supervisor leaves the SDK's contexts (which end the process)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        await self._queue.put(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, timeout)

    # The supervisor task: the only one that enters and leaves the SDK's contexts.

    async def _supervise(self) -> None:
        try:
            log = _open_log(self.log_path)
        except OSError as exc:
            # (Its log cannot be kept: said so, not "did not answer within 30 s".)
            self.error = f"could not start: its log file {self.log_path} cannot be written ({exc.strerror or exc})"
            self._ready.set()
            return
        answers: list[int] = []  # (HTTP: the status of each answer to a POST)
        try:
            config = self.config
            if config.command:
                env = dict(config.plain_env) | self.env
                found, env = await asyncio.to_thread(_find_program, config.command, env)
                await self._connect(_stdio_transport(config, found, env, log))
            else:
                headers = dict(config.plain_headers) | self.headers
                try:
                    await self._connect(_http_transport(config.url, headers, answers))
                except Exception:
                    if self._ready.is_set() or not _speaks_only_sse(config.url, answers):
                        raise
                    # As the MCP spec's backwards compatibility section says: a server that
                    # refuses the POST may speak the older HTTP+SSE transport at that address.
                    answers.clear()
                    await self._connect(_http_transport(config.url, headers, answers, sse=True))
        except Exception as exc:  # (anyio may wrap it in an ExceptionGroup)
            self.error = _reason(exc, self.config, answers)
        finally:
            log.close()
            self._ready.set()
            self._fail_waiting(self.error or "was closed")

    async def _connect(self, transport: Any) -> None:
        """Enter the transport and a session, list the tools, and serve calls till closed."""
        from mcp import ClientSession
        from mcp import types as mcp_types

        async with transport as (read, write):
            client = mcp_types.Implementation(name="desktop-chat", version="0.1.0")
            checked = _CheckedToolLists(read, self.config.name, self.notes)
            async with ClientSession(checked, write, client_info=client) as session:
                initialized = await session.initialize()
                self.server_name = initialized.server_info.name
                self.tools = await _list_tools(session)
                self._ready.set()
                await self._serve(session)

    async def _serve(self, session: Any) -> None:
        running: set[asyncio.Task[None]] = set()
        try:
            while (call := await self._queue.get()) is not None:
                task = asyncio.ensure_future(self._run(session, call))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _run(self, session: Any, call: _Call) -> None:
        me = asyncio.current_task()
        # The caller gave up (Stop): the call is cancelled, and the SDK tells the server.
        call.future.add_done_callback(lambda f: me.cancel() if f.cancelled() and me is not None else None)
        try:
            result = await session.call_tool(call.name, call.arguments, read_timeout_seconds=call.timeout)
            if not call.future.done():
                call.future.set_result(result)
        except asyncio.CancelledError:
            if not call.future.done():  # (not the caller's doing: the server is being closed)
                why = f"The tool server '{self.config.name}' was stopped during the call to {call.name}."
                call.future.set_exception(ToolServerError(why))
        except Exception as exc:
            if _connection_lost(exc):
                self._lost = True
            timed_out = _timed_out(exc)
            if timed_out:
                self._settled.clear()
            if not call.future.done():
                call.future.set_exception(ToolServerError(_call_failure(exc, call)))
            if timed_out:
                await self._check_alive(session, max(1.0, min(call.timeout, PING_TIMEOUT)))

    async def _check_alive(self, session: Any, wait: float) -> None:
        """After a call timed out: a server that does not answer a ping either is stuck. It is
        closed now (the SDK's shutdown ends its process group, with SIGKILL if it must) and
        started again on next use; one that answers keeps running, and its state."""
        try:
            await asyncio.wait_for(session.send_ping(), wait)
        except Exception:
            self._lost = True
            self._queue.put_nowait(None)
        finally:
            self._settled.set()

    def _fail_waiting(self, why: str) -> None:
        while not self._queue.empty():
            call = self._queue.get_nowait()
            if call is not None and not call.future.done():
                call.future.set_exception(ToolServerError(f"The tool server '{self.config.name}' {why}."))


class _CheckedToolLists:
    """The transport's read stream (the SDK's ReadStream protocol), with each tool of an
    answer to tools/list checked before the SDK checks the answer as a whole, which fails
    for one bad tool and takes the server's other tools with it. A tool whose input schema
    is not a JSON Schema object (the spec asks for one of type "object") is left out with a
    note; a schema with no type is taken as an object's, and a bad output schema is dropped
    (the SDK would fail every call of the tool over it)."""

    def __init__(self, inner: Any, server: str, notes: list[str]) -> None:
        self._inner = inner
        self._server = server
        self._notes = notes

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        item = await self._inner.receive()
        result = getattr(getattr(item, "message", None), "result", None)
        if isinstance(result, dict) and isinstance(result.get("tools"), list):
            result["tools"] = [tool for tool in result["tools"] if self._usable(tool)]
        return item

    def _usable(self, tool: Any) -> bool:
        from mcp import types as mcp_types
        from pydantic import ValidationError

        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str):
            self._notes.append(f"A tool of '{self._server}' with no name was left out.")
            return False
        schema = tool.get("inputSchema")
        if isinstance(schema, dict) and "type" not in schema:
            schema["type"] = "object"
        if (fault := _object_schema_fault(schema)) is not None:
            self._notes.append(f"The tool '{name}' of '{self._server}' was left out: its input schema {fault}.")
            return False
        if "outputSchema" in tool and _object_schema_fault(tool["outputSchema"]) is not None:
            del tool["outputSchema"]
        try:
            mcp_types.Tool.model_validate(tool, by_name=False)
        except ValidationError as exc:
            self._notes.append(f"The tool '{name}' of '{self._server}' was left out: {_first_error(exc)}.")
            return False
        return True

    def __aiter__(self) -> _CheckedToolLists:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _CheckedToolLists:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _object_schema_fault(schema: Any) -> str | None:
    """What keeps a schema from being a JSON Schema for an object, as the SDK checks it
    (type, properties, required); None when nothing does."""
    if not isinstance(schema, dict):
        return f"is not a JSON object but {'null' if schema is None else type(schema).__name__}"
    if schema.get("type") != "object":
        return f"is of type {schema.get('type')!r}, not 'object'"
    properties, required = schema.get("properties"), schema.get("required")
    if properties is not None and not (
        isinstance(properties, dict) and all(isinstance(p, dict | bool) for p in properties.values())
    ):
        return "has properties that are not schemas"
    if required is not None and not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
        return "has a 'required' that is not a list of names"
    return None


def _first_error(exc: Any) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


def _find_program(command: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The program to start and its environment. A bare name not on the PATH it would run
    with (the user set none: the app's) is looked for on the login shell's PATH, which
    the server then gets too (its `#!/usr/bin/env node` needs it). Blocks: in a thread."""
    search = env.get("PATH") or os.environ.get("PATH", "")
    if shutil.which(command, path=search) is not None:
        return command, env
    if "PATH" not in env and os.path.basename(command) == command:
        shell_path = login_shell_path()
        found = shutil.which(command, path=shell_path) if shell_path else None
        if shell_path and found:
            return found, env | {"PATH": shell_path}
    raise FileNotFoundError(command)


def _stdio_transport(config: ToolServerConfig, program: str, env: dict[str, str], log: Any) -> Any:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    command, args = command_for(program, list(config.args))
    params = StdioServerParameters(command=command, args=args, env=env or None, cwd=config.cwd or None)
    return stdio_client(params, errlog=log)


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str], answers: list[int], sse: bool = False) -> Any:
    """Streamable HTTP, the status of each POST's answer noted in `answers`; the legacy
    SSE transport when asked, or for an address ending in /sse."""
    import httpx2
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    if sse or _sse_address(url):
        async with sse_client(url, headers=headers) as streams:
            yield streams
        return

    async def note(response: httpx2.Response) -> None:
        if response.request.method == "POST" and len(answers) < 10:  # (the first few say enough)
            answers.append(response.status_code)

    async with (
        httpx2.AsyncClient(
            headers=headers, timeout=httpx2.Timeout(30.0, read=300.0), event_hooks={"response": [note]}
        ) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


def _sse_address(url: str) -> bool:
    return url.split("?", 1)[0].rstrip("/").endswith("/sse")


def _speaks_only_sse(url: str, answers: list[int]) -> bool:
    """The server refused the first POST (initialize) as one that only speaks SSE does (Not
    Found, or Method Not Allowed); not an error of auth or of the network, which SSE would
    not mend."""
    return not _sse_address(url) and _refusal(answers) in (404, 405)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _reason(exc: BaseException, config: ToolServerConfig, answers: list[int] | None = None) -> str:
    """Why a server is not running, in words for the user."""
    leaf = _leaves(exc)[0]
    if isinstance(leaf, FileNotFoundError):
        return f"could not start: there is no program '{config.command}' (is it installed, and on your PATH?)"
    if isinstance(leaf, PermissionError):
        return f"could not start: '{config.command}' may not be run ({leaf.strerror})"
    if isinstance(leaf, OSError) and config.command:
        return f"could not start: {leaf.strerror or leaf}"
    text = str(leaf) or type(leaf).__name__
    if config.url:
        import httpx2

        status = leaf.response.status_code if isinstance(leaf, httpx2.HTTPStatusError) else _refusal(answers)
        if status is not None:
            return f"answered {status} {_phrase(status)} at {config.url}"
        if isinstance(leaf, httpx2.TransportError):
            return f"could not be reached at {config.url} ({text})"
    if "Connection closed" in text:
        return "stopped before it answered (its log may say why)"
    return f"failed: {text}"


def _refusal(answers: list[int] | None) -> int | None:
    """The error status of the first answer to a POST (after redirects), if it was one."""
    first = next((status for status in answers or () if not 300 <= status < 400), None)
    return first if first is not None and first >= 400 else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _connection_lost(exc: BaseException) -> bool:
    from mcp import MCPError

    return any(isinstance(leaf, MCPError) and leaf.code == -32000 for leaf in _leaves(exc))


def _timed_out(exc: BaseException) -> bool:
    from mcp import MCPError

    return any(isinstance(leaf, MCPError) and leaf.code == -32001 for leaf in _leaves(exc))


def _call_failure(exc: BaseException, call: _Call) -> str:
    from mcp import MCPError

    leaf = _leaves(exc)[0]
    if isinstance(leaf, MCPError) and leaf.code == -32001:
        return f"The tool {call.name} did not answer within {call.timeout:g} s."
    if isinstance(leaf, MCPError) and leaf.code == -32000:
        return f"The tool server stopped during the call to {call.name}."
    return f"The call to {call.name} failed: {leaf}"


async def _list_tools(session: Any) -> list[ToolInfo]:
    from mcp import types as mcp_types

    tools: list[ToolInfo] = []
    cursor: str | None = None
    for _ in range(100):  # (a server that pages forever is cut off)
        page = await session.list_tools(params=mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        for tool in page.tools:
            schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
            hints = tool.annotations
            tools.append(
                ToolInfo(
                    name=tool.name,
                    description=tool.description or "",
                    input_schema=schema,
                    title=tool.title or (hints.title if hints is not None and hints.title else "") or "",
                    read_only=bool(hints is not None and hints.read_only_hint),
                )
            )
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _open_log(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", errors="replace")
