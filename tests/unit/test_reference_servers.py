"""Our ToolServer against the reference MCP servers themselves (server-everything and
server-filesystem in Node, mcp-server-time in Python), installed at pinned versions by
.ci/run and started from the installed files; skipped with how to install them when
they are not there (CI sets DESKTOP_CHAT_REQUIRE_MCP=1, and then they must be)."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

from desktop_chat.core.tools.config import ToolServerConfig
from desktop_chat.core.tools.servers import ToolServer
from tests.fakes import reference_servers

PNG = b"\x89PNG\r\n\x1a\n"


def _server(tmp_path: Path, name: str, keywords: dict[str, object]) -> ToolServer:
    config = ToolServerConfig(name, **keywords)  # type: ignore[arg-type]
    return ToolServer(config, {}, {}, tmp_path / "logs" / f"{name}.log")


def test_server_everything_lists_its_tools_and_echoes(tmp_path):
    server = _server(tmp_path, "everything", reference_servers.everything())

    async def run():
        try:
            tools = await server.start()
            echoed = await server.call("echo", {"message": "hello, server"})
            summed = await server.call("get-sum", {"a": 2, "b": 40})
            return tools, echoed, summed
        finally:
            await server.close()

    tools, echoed, summed = asyncio.run(run())
    assert server.server_name == "mcp-servers/everything"
    by_name = {t.name: t for t in tools}
    assert {"echo", "get-sum", "get-tiny-image", "trigger-long-running-operation"} <= set(by_name)
    # Sampling, elicitation and roots are not offered, so the tools that need them are not listed.
    assert not any(name.startswith(("trigger-sampling", "trigger-elicitation")) for name in by_name)
    assert by_name["echo"].title == "Echo Tool" and by_name["echo"].read_only
    assert by_name["echo"].input_schema["properties"]["message"]["type"] == "string"
    assert [c.text for c in echoed.content] == ["Echo: hello, server"] and not echoed.is_error
    assert "42" in summed.content[0].text


def test_server_everything_returns_an_image_as_png_bytes(tmp_path):
    server = _server(tmp_path, "everything", reference_servers.everything())

    async def run():
        try:
            return await server.call("get-tiny-image", {})
        finally:
            await server.close()

    result = asyncio.run(run())
    [image] = [c for c in result.content if c.type == "image"]
    assert image.mime_type == "image/png"
    data = base64.b64decode(image.data, validate=True)
    assert data.startswith(PNG) and len(data) > 100


def test_a_long_running_call_is_cancelled_with_its_caller(tmp_path):
    server = _server(tmp_path, "everything", reference_servers.everything())

    async def run():
        try:
            await server.start()
            began = time.monotonic()
            call = asyncio.ensure_future(
                server.call("trigger-long-running-operation", {"duration": 30, "steps": 30}, timeout=60)
            )
            await asyncio.sleep(0.5)
            call.cancel()
            try:
                await call
            except asyncio.CancelledError:
                cancelled = True
            else:
                cancelled = False
            took = time.monotonic() - began
            after = await server.call("echo", {"message": "still here"})
            return cancelled, took, after
        finally:
            await server.close()

    cancelled, took, after = asyncio.run(run())
    assert cancelled and took < 2.0
    assert after.content[0].text == "Echo: still here"  # the server goes on serving


def test_server_filesystem_says_which_tools_only_read_and_really_writes(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello from the test\n")
    server = _server(tmp_path, "files", reference_servers.filesystem(folder))

    async def run():
        try:
            tools = await server.start()
            read = await server.call("read_text_file", {"path": str(folder / "hello.txt")})
            wrote = await server.call("write_file", {"path": str(folder / "new.txt"), "content": "written\n"})
            outside = await server.call("write_file", {"path": str(tmp_path / "outside.txt"), "content": "no"})
            return tools, read, wrote, outside
        finally:
            await server.close()

    tools, read, wrote, outside = asyncio.run(run())
    assert server.server_name == "secure-filesystem-server"
    read_only = {t.name for t in tools if t.read_only}
    changing = {t.name for t in tools if not t.read_only}
    # As server-filesystem 2026.8.31 declares them (readOnlyHint).
    assert read_only == {
        "read_file",
        "read_text_file",
        "read_media_file",
        "read_multiple_files",
        "list_directory",
        "list_directory_with_sizes",
        "directory_tree",
        "search_files",
        "get_file_info",
        "list_allowed_directories",
    }
    assert changing == {"write_file", "edit_file", "create_directory", "move_file"}
    assert read.content[0].text == "hello from the test\n"
    assert not wrote.is_error and (folder / "new.txt").read_text() == "written\n"
    assert outside.is_error and not (tmp_path / "outside.txt").exists()  # its own folder only


def test_mcp_server_time_tells_the_time_in_a_timezone(tmp_path):
    server = _server(tmp_path, "time", reference_servers.time_server())

    async def run():
        try:
            tools = await server.start()
            return tools, await server.call("get_current_time", {"timezone": "Asia/Tokyo"})
        finally:
            await server.close()

    tools, result = asyncio.run(run())
    assert {t.name for t in tools} == {"get_current_time", "convert_time"} and all(t.read_only for t in tools)
    assert not result.is_error
    assert result.structured_content["timezone"] == "Asia/Tokyo"
    assert result.structured_content["datetime"].endswith("+09:00")
