"""A stdio MCP server of our own, for the faults the reference servers do not have: run as
`python -m tests.fakes.mcp_server`. Built on the official SDK's MCPServer."""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("desktop-chat-test-server")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def sleepy(seconds: float = 5.0) -> str:
    """Sleep for `seconds`, then say so."""
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def secret_from_env(name: str) -> str:
    """The value of an environment variable the server was started with."""
    return os.environ.get(name, "<unset>")


@server.tool()
def whoami() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def spawn_grandchild() -> int:
    """Start a long-lived child process (as npx leaves node behind); its process id."""
    import subprocess

    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"]).pid


# Two more with --stress-tools (not listed otherwise: tests elsewhere know the list).


def big(size: int) -> str:
    """A text of `size` characters (a tool result far larger than a model's context)."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


async def freeze(seconds: float = 30.0) -> str:
    """Hang the whole server (its event loop blocked: it answers nothing, not even a ping),
    deaf to SIGTERM, as a server stuck in a C library or a deadlock is."""
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)
    return "thawed"


@server.tool()
def crash() -> str:
    """End the server's process in the middle of the call."""
    os._exit(3)


def lie_about_schemas() -> None:
    """List tools whose schemas break the spec (which asks for a JSON Schema object of type
    "object"), as a server in another language may send them: three more tools, their
    input schemas a string, of type "array", and with a property that is not a schema;
    `add` with no type in its schema, `whoami` with an output schema of type "integer".
    (The SDK checks what a server sends: that check is skipped for the list of tools.)"""
    from mcp.server import runner
    from mcp.types import Tool

    checked = runner._methods.serialize_server_result
    runner._methods.serialize_server_result = lambda method, version, dumped: (
        dumped if method == "tools/list" else checked(method, version, dumped)
    )
    honest = server.list_tools

    async def listed() -> list[Tool]:
        tools = await honest()
        for tool in tools:
            if tool.name == "add":
                del tool.input_schema["type"]
            if tool.name == "whoami":
                tool.output_schema = {"type": "integer"}
        bad_property = {"type": "object", "properties": {"path": "a string"}}
        return [
            *tools,
            Tool.model_construct(name="schema_is_a_string", description="Lies.", input_schema="any text"),
            Tool.model_construct(name="schema_is_an_array", description="Lies.", input_schema={"type": "array"}),
            Tool.model_construct(name="property_is_a_string", description="Lies.", input_schema=bad_property),
        ]

    server.list_tools = listed  # type: ignore[method-assign]


def serve_sse_only(path: str, post_answer: int) -> None:
    """Serve the legacy HTTP+SSE transport alone, its event stream at `path` (GET), on a
    free port of 127.0.0.1 printed first; a POST there (a Streamable HTTP client's) gets
    `post_answer`, as servers that only speak SSE answer it (405: the route takes GET only;
    404: some routers)."""
    import socket

    import uvicorn

    app = server.sse_app(sse_path=path)

    async def refusing_posts(scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == path:
            await send({"type": "http.response.start", "status": post_answer, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(refusing_posts, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    if "--die-at-start" in sys.argv:
        print("cannot start: no configuration", file=sys.stderr, flush=True)
        sys.exit(2)
    if "--sse-only" in sys.argv:
        at = sys.argv.index("--sse-only")
        serve_sse_only(sys.argv[at + 1], int(sys.argv[at + 2]))
        sys.exit(0)
    if "--stress-tools" in sys.argv:
        server.tool()(big)
        server.tool()(freeze)
    if "--lying-schemas" in sys.argv:
        lie_about_schemas()
    print(f"test server {os.getpid()} starting", file=sys.stderr, flush=True)
    server.run()
