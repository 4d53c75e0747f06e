"""Tool servers (MCP): configured and imported (secrets to the keyring, never the settings
file), started through the real SDK over stdio with a real server process, their tools
listed and called; the faults said in words."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.settings import Settings, SettingsStore, load_settings, save_settings
from desktop_chat.core.tools.config import (
    ToolConfigError,
    ToolServerConfig,
    read_mcp_servers,
    secret_account,
)
from desktop_chat.core.tools.registry import ToolServers
from desktop_chat.core.tools.servers import ToolServerError

ROOT = Path(__file__).parents[2]


def _ours(*extra: str) -> dict[str, object]:
    return {"command": sys.executable, "args": ["-m", "tests.fakes.mcp_server", *extra], "cwd": str(ROOT)}


def test_an_mcp_servers_file_is_read_as_claude_desktop_writes_it():
    text = json.dumps(
        {
            "mcpServers": {
                "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
                "github": {"command": "docker", "args": ["run"], "env": {"GITHUB_TOKEN": "ghp_secret"}},
                "remote": {"url": "https://example.invalid/mcp", "headers": {"Authorization": "Bearer s3cret"}},
                "trusting": {"command": "uvx", "args": ["mcp-server-time"], "autoApprove": ["get_current_time"]},
                "broken": {"args": ["no command"]},
                "off": {"command": "x", "disabled": True},
            }
        }
    )
    imported = read_mcp_servers(text)
    names = [s.name for s in imported.servers]
    assert names == ["files", "github", "remote", "trusting", "off"]
    github = imported.servers[1]
    assert github.secret_env == ("GITHUB_TOKEN",) and github.plain_env == ()
    assert imported.secrets[secret_account(github, "env", "GITHUB_TOKEN")] == "ghp_secret"
    remote = imported.servers[2]
    assert remote.transport == "http" and remote.secret_headers == ("Authorization",)
    assert imported.secrets[secret_account(remote, "header", "Authorization")] == "Bearer s3cret"
    assert not imported.servers[4].enabled
    assert "Server 'broken' has neither a command nor a url; left out." in imported.notes
    assert any("'trusting'" in n and "ignored" in n for n in imported.notes)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{", "not JSON"),
        ("[]", 'no "mcpServers"'),
        ('{"mcpServers": {}}', "names no servers"),
        ('{"mcpServers": {"a": {"url": "ftp://x"}}}', "must start with http"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}', "env must map names to strings"),
    ],
)
def test_files_that_cannot_be_used_say_why(text, said):
    with pytest.raises(ToolConfigError, match=said):
        read_mcp_servers(text)


def test_import_keeps_secrets_out_of_the_settings_file(tmp_path):
    path = tmp_path / "settings.toml"
    settings = SettingsStore(Settings(), path)
    keys = KeyStore()
    servers = ToolServers(settings, keys, tmp_path / "logs")
    text = json.dumps({"mcpServers": {"github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_secret"}}}})
    result = servers.import_text(text)
    assert result.added == ["github"]
    written = path.read_text()
    assert "ghp_secret" not in written and "GITHUB_TOKEN" in written
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    [github] = load_settings(path).settings.tool_servers
    assert keys.secret(secret_account(github, "env", "GITHUB_TOKEN")) == "ghp_secret"
    # Imported again with a new token: updated in place, same id.
    text = json.dumps({"mcpServers": {"github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_new"}}}})
    again = servers.import_text(text, enable=False)
    assert again.updated == ["github"] and again.added == []
    [github2] = settings.current.tool_servers
    assert github2.id == github.id and not github2.enabled
    assert keys.secret(secret_account(github2, "env", "GITHUB_TOKEN")) == "ghp_new"


def test_settings_round_trip_and_bad_tables_are_refused(tmp_path):
    server = ToolServerConfig(
        "time", command="uvx", args=("mcp-server-time",), secret_env=("TOKEN",), plain_env=(("TZ", "UTC"),)
    )
    path = tmp_path / "settings.toml"
    save_settings(path, Settings(tool_servers=(server,)))
    assert load_settings(path).settings.tool_servers == (server,)
    path.write_text('[[tool_servers]]\nname = "x"\ncommand = "a"\nurl = "https://b"\n')
    loaded = load_settings(path)
    assert loaded.problem == "tool server 'x' needs a 'command' or a 'url' (one of them)"


def _registry(tmp_path, *configs: ToolServerConfig, keys: KeyStore | None = None) -> ToolServers:
    settings = SettingsStore(Settings(tool_servers=configs), tmp_path / "settings.toml")
    return ToolServers(settings, keys or KeyStore(), tmp_path / "logs")


def test_a_real_server_is_started_listed_called_and_closed(tmp_path):
    config = ToolServerConfig("ours", secret_env=("API_TOKEN",), **_ours())  # type: ignore[arg-type]
    keys = KeyStore()
    keys.set_secret(secret_account(config, "env", "API_TOKEN"), "tok-123")
    servers = _registry(tmp_path, config, keys=keys)

    async def run():
        [status] = await servers.status()
        server = servers.server(config)
        added = await server.call("add", {"a": 2, "b": 3})
        token = await server.call("secret_from_env", {"name": "API_TOKEN"})
        leaked = await server.call("secret_from_env", {"name": "DESKTOP_CHAT_HOME"})
        pid = int(Path(server.log_path).read_text().split()[2])
        await servers.close()
        return status, added, token, leaked, pid

    status, added, token, leaked, pid = asyncio.run(run())
    assert status.error is None
    assert [t.name for t in status.tools] == ["add", "sleepy", "secret_from_env", "whoami", "spawn_grandchild", "crash"]
    assert status.tools[0].description == "Add two integers."
    assert status.tools[0].input_schema["properties"]["a"]["type"] == "integer"
    assert [c.text for c in added.content] == ["5"] and not added.is_error
    assert token.content[0].text == "tok-123"  # the secret reached the server's environment
    assert leaked.content[0].text == "<unset>"  # and the app's own environment did not
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the server is gone after close
    assert oct((tmp_path / "logs" / f"{config.id}.log").stat().st_mode & 0o777) == "0o600"


def test_faults_are_said_and_the_rest_goes_on(tmp_path):
    missing = ToolServerConfig("missing", command="/nonexistent/mcp-server")
    dies = ToolServerConfig("dies", **_ours("--die-at-start"))  # type: ignore[arg-type]
    ours = ToolServerConfig("ours", **_ours())  # type: ignore[arg-type]
    off = ToolServerConfig("off", command="/nonexistent/x", enabled=False)
    servers = _registry(tmp_path, missing, dies, ours, off)

    async def run():
        statuses = await servers.status(timeout=20)
        server = servers.server(ours)
        with pytest.raises(ToolServerError) as slow:
            await server.call("sleepy", {"seconds": 10}, timeout=0.5)
        # Stop: the caller cancelled; the server goes on serving.
        call = asyncio.ensure_future(server.call("sleepy", {"seconds": 10}))
        await asyncio.sleep(0.3)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        still = await server.call("add", {"a": 1, "b": 1})
        with pytest.raises(ToolServerError) as crashed:
            await server.call("crash", {})
        # Started again on next use.
        again = await server.call("add", {"a": 20, "b": 22})
        await servers.close()
        return statuses, str(slow.value), still, str(crashed.value), again

    statuses, slow, still, crashed, again = asyncio.run(run())
    by_name = {s.config.name: s for s in statuses}
    assert by_name["missing"].error == (
        "The tool server 'missing' could not start: there is no program '/nonexistent/mcp-server'"
        " (is it installed, and on your PATH?)."
    )
    assert by_name["dies"].error is not None and "'dies'" in by_name["dies"].error
    assert by_name["ours"].error is None and by_name["ours"].tools
    assert by_name["off"].error is None and by_name["off"].tools == []  # disabled: not started
    assert slow == "The tool sleepy did not answer within 0.5 s."
    assert still.content[0].text == "2"
    assert "crash" in crashed
    assert again.content[0].text == "42"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_no_server_outlives_an_app_killed_with_sigkill(tmp_path):
    import signal
    import subprocess
    import time

    app = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.tool_host", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = app.stdout.readline()
        server, grandchild = (int(n) for n in line.split())
        os.kill(server, 0)
        os.kill(grandchild, 0)  # both alive, the server busy in a call
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        gone = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(gone) < 2:
            for pid in (server, grandchild):
                try:
                    os.kill(pid, 0)
                    # (a zombie not yet reaped by init counts as gone)
                    if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                        gone.add(pid)
                except (ProcessLookupError, FileNotFoundError):
                    gone.add(pid)
            time.sleep(0.05)
        assert gone == {server, grandchild}
    finally:
        app.kill()


def _fake_login_shell(tmp_path: Path, body: str) -> Path:
    """A stand-in for the user's $SHELL: run as `shell -ilc SCRIPT`, it does `body`, then
    the script (as a login shell reading ~/.bashrc would)."""
    shell = tmp_path / "fake-login-shell"
    shell.write_text(f'#!/bin/bash\n{body}\neval "$2"\n')
    shell.chmod(0o755)
    return shell


@pytest.mark.skipif(sys.platform == "win32", reason="the login shell is asked on Linux and macOS only")
def test_a_program_only_the_login_shell_finds_is_started_with_its_path(tmp_path, monkeypatch):
    # As an app started from the desktop menu: npx is on the PATH ~/.bashrc makes, not on ours.
    shell_bin = tmp_path / "shell-bin"
    shell_bin.mkdir()
    program = shell_bin / "our-mcp-server"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tests.fakes.mcp_server "$@"\n')
    program.chmod(0o755)
    asked = tmp_path / "asked"
    shell = _fake_login_shell(
        tmp_path,
        f'echo "Welcome, $USER"\necho asked >> "{asked}"\nexport PATH="{shell_bin}:$PATH"\n'
        r"printf '\033[1;32mprompt$\033[0m '",
    )
    monkeypatch.setenv("SHELL", str(shell))
    found = ToolServerConfig("found", command="our-mcp-server", cwd=str(ROOT))
    again = ToolServerConfig("again", command="our-mcp-server", args=("--again",), cwd=str(ROOT))
    missing = ToolServerConfig("missing", command="no-such-mcp-server")
    servers = _registry(tmp_path, found, again, missing)

    async def run():
        statuses = await servers.status(timeout=20)
        path = await servers.server(found).call("secret_from_env", {"name": "PATH"})
        await servers.close()
        return statuses, path.content[0].text

    statuses, path = asyncio.run(run())
    by_name = {s.config.name: s for s in statuses}
    assert by_name["found"].error is None and by_name["found"].tools
    assert by_name["again"].error is None
    assert path.split(os.pathsep)[0] == str(shell_bin)  # the server got the shell's PATH
    assert by_name["missing"].error == (
        "The tool server 'missing' could not start: there is no program 'no-such-mcp-server'"
        " (is it installed, and on your PATH?)."
    )
    assert asked.read_text() == "asked\n"  # once for the app, however many servers


@pytest.mark.skipif(sys.platform == "win32", reason="the login shell is asked on Linux and macOS only")
def test_a_login_shell_that_hangs_is_given_up_on_and_ended(tmp_path, monkeypatch):
    import time

    from desktop_chat.core.tools.shell_path import login_shell_path

    child = tmp_path / "child"
    shell = _fake_login_shell(tmp_path, f'sleep 300 &\necho $! > "{child}"\nread -r answer\nsleep 300')
    monkeypatch.setenv("SHELL", str(shell))
    began = time.monotonic()
    assert login_shell_path(timeout=0.5) is None
    assert time.monotonic() - began < 2.5
    assert _gone(int(child.read_text()))  # what its start-up files started is ended with it
    began = time.monotonic()
    assert login_shell_path(timeout=0.5) is None  # asked once: not again
    assert time.monotonic() - began < 0.1


def _gone(pid: int, within: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            # (a zombie not yet reaped by init counts as gone)
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def sse_only_server(request):
    """Our test server speaking only the legacy HTTP+SSE transport, its stream at /mcp, on
    a free port of 127.0.0.1; a POST there gets the status the test asks (405 by default)."""
    import subprocess

    answer = getattr(request, "param", 405)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.mcp_server", "--sse-only", "/mcp", str(answer)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("sse_only_server", [404, 405], indirect=True)
def test_a_server_that_only_speaks_sse_is_reached_through_it(tmp_path, sse_only_server):
    config = ToolServerConfig("legacy", url=sse_only_server)
    servers = _registry(tmp_path, config)

    async def run():
        [status] = await servers.status(timeout=20)
        added = await servers.server(config).call("add", {"a": 40, "b": 2})
        await servers.close()
        return status, added

    status, added = asyncio.run(run())
    assert status.error is None and "add" in [t.name for t in status.tools]
    assert added.content[0].text == "42"


def test_an_address_that_refuses_both_transports_says_so(tmp_path, sse_only_server):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # (nothing listens there once it is closed)
    wrong_path = ToolServerConfig("wrong-path", url=sse_only_server.replace("/mcp", "/nothing-here"))
    refused = ToolServerConfig("refused", url=f"http://127.0.0.1:{closed}/mcp")
    servers = _registry(tmp_path, wrong_path, refused)

    async def run():
        statuses = await servers.status(timeout=20)
        await servers.close()
        return {s.config.name: s.error for s in statuses}

    errors = asyncio.run(run())
    assert errors["wrong-path"] == f"The tool server 'wrong-path' answered 404 Not Found at {wrong_path.url}."
    assert errors["refused"] == (
        f"The tool server 'refused' could not be reached at {refused.url} (All connection attempts failed)."
    )


@pytest.mark.parametrize("sse_only_server", [401], indirect=True)
def test_a_post_refused_for_want_of_a_key_is_not_retried_over_sse(tmp_path, sse_only_server):
    # (its SSE stream would answer, so reaching it would show a fallback that must not be)
    config = ToolServerConfig("locked", url=sse_only_server)
    servers = _registry(tmp_path, config)

    async def run():
        [status] = await servers.status(timeout=20)
        await servers.close()
        return status

    status = asyncio.run(run())
    assert status.error == f"The tool server 'locked' answered 401 Unauthorized at {sse_only_server}."


def test_a_hung_server_is_ended_with_its_group_and_started_again_on_next_use(tmp_path):
    import time

    config = ToolServerConfig("ours", **_ours("--stress-tools"))  # type: ignore[arg-type]
    servers = _registry(tmp_path, config)

    async def run():
        server = servers.server(config)
        first = (await server.call("whoami", {})).structured_content["result"]
        grandchild = (await server.call("spawn_grandchild", {})).structured_content["result"]
        # A slow tool in a server that still answers (a ping): the server is kept, and its state.
        with pytest.raises(ToolServerError):
            await server.call("sleepy", {"seconds": 10}, timeout=0.5)
        kept = (await server.call("whoami", {})).structured_content["result"]
        # A server that answers nothing, deaf to SIGTERM.
        with pytest.raises(ToolServerError) as hung:
            await server.call("freeze", {"seconds": 60}, timeout=0.5)
        began = time.monotonic()
        second = (await server.call("whoami", {})).structured_content["result"]
        restarted_in = time.monotonic() - began
        await servers.close()
        return first, grandchild, kept, str(hung.value), second, restarted_in

    first, grandchild, kept, hung, second, restarted_in = asyncio.run(run())
    assert kept == first
    assert hung == "The tool freeze did not answer within 0.5 s."
    assert second != first and restarted_in < 10
    assert _gone(first) and _gone(grandchild)  # the stuck server's whole group was killed


def test_a_10_mb_result_arrives_whole_and_the_event_loop_keeps_turning(tmp_path):
    import time

    config = ToolServerConfig("ours", **_ours("--stress-tools"))  # type: ignore[arg-type]
    servers = _registry(tmp_path, config)
    size = 10 * 1024 * 1024

    async def run():
        server = servers.server(config)
        await server.start()
        gaps: list[float] = []

        async def tick():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        ticker = asyncio.ensure_future(tick())
        began = time.monotonic()
        result = await server.call("big", {"size": size}, timeout=60)
        took = time.monotonic() - began
        ticker.cancel()
        after = await server.call("add", {"a": 1, "b": 2})
        await servers.close()
        return result, took, max(gaps), after

    result, took, worst_gap, after = asyncio.run(run())
    text = result.content[0].text
    assert len(text) == size and text.startswith("0123456789abcdef")
    # (The SDK joins a long line's pieces over and over: ~3 s here for the 20 MB line that
    # MCPServer sends, the text twice; 30 MB takes ~24 s and makes the loop stutter.)
    assert took < 30 and worst_gap < 1.0, (took, worst_gap)
    assert after.content[0].text == "3"


def test_tools_whose_schemas_lie_are_left_out_with_a_note_and_the_rest_work(tmp_path):
    config = ToolServerConfig("liar", **_ours("--lying-schemas"))  # type: ignore[arg-type]
    servers = _registry(tmp_path, config)

    async def run():
        server = servers.server(config)
        tools = await server.start()
        added = await server.call("add", {"a": 1, "b": 2})
        who = await server.call("whoami", {})
        await servers.close()
        return tools, list(server.notes), added, who

    tools, notes, added, who = asyncio.run(run())
    by_name = {t.name: t for t in tools}
    assert list(by_name) == ["add", "sleepy", "secret_from_env", "whoami", "spawn_grandchild", "crash"]
    assert notes == [
        "The tool 'schema_is_a_string' of 'liar' was left out: its input schema is not a JSON object but str.",
        "The tool 'schema_is_an_array' of 'liar' was left out: its input schema is of type 'array', not 'object'.",
        "The tool 'property_is_a_string' of 'liar' was left out: its input schema has properties that are not schemas.",
    ]
    assert by_name["add"].input_schema["type"] == "object"  # no type: taken as an object's
    assert added.content[0].text == "3"
    assert not who.is_error and int(who.content[0].text) > 0  # its bad output schema was dropped
