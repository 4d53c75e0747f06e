"""`desktop-chat ask` with a tool server enabled, as a real process: --allow-tools runs the
calls; without it the user is asked on the terminal (a real pseudo-terminal, stdin piped);
with no terminal at all each call is declined, said on stderr, and the model answers
without it. The model is the loopback server; the tool server a real MCP server process."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.test_cli import write_settings
from tests.fakes.openai_server import Reply, text_stream, tool_call_stream

ROOT = Path(__file__).parents[2]


def with_tool_server(home, base_url):
    write_settings(home, base_url)
    with (home / "settings.toml").open("a") as settings:
        settings.write(
            f'\n[[tool_servers]]\nname = "calc"\ncommand = "{sys.executable}"\n'
            f'args = ["-m", "tests.fakes.mcp_server"]\ncwd = "{ROOT}"\n'
        )


def queue_a_sum(fake_server):
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 40, "b": 2}')])),
        Reply(body=text_stream(["It is ", "42."])),
    )


def ask(*args, stdin=""):
    # A session of its own: no controlling terminal, as from cron or a pipeline in CI.
    return subprocess.run(
        [sys.executable, "-m", "desktop_chat", "ask", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )


def test_allow_tools_runs_them(fake_server, isolated_home):
    with_tool_server(isolated_home, fake_server.base_url)
    queue_a_sum(fake_server)
    done = ask("--allow-tools", "What is 40 + 2?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "It is 42.\n"
    assert "running the tool add of calc (--allow-tools)" in done.stderr
    assert "the tool add of calc ran" in done.stderr
    assert fake_server.requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "42"}


def test_with_no_terminal_to_ask_on_each_call_is_declined(fake_server, isolated_home):
    with_tool_server(isolated_home, fake_server.base_url)
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 40, "b": 2}')])),
        Reply(body=text_stream(["I could not run the tool."])),
    )
    done = ask("What is 40 + 2?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "I could not run the tool.\n"
    assert "there is no terminal to ask on, so it was declined (--allow-tools allows tool calls)" in done.stderr
    told = fake_server.requests[1]["messages"][-1]
    assert told["role"] == "tool" and "not run" in told["content"]


def test_no_tools_offers_none(fake_server, isolated_home):
    with_tool_server(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream(["Plain."])))
    done = ask("--no-tools", "hi")
    assert done.returncode == 0 and done.stdout == "Plain.\n"
    assert "tools" not in fake_server.requests[0]


def test_the_terminal_is_asked_even_with_stdin_piped(fake_server, isolated_home):
    with_tool_server(isolated_home, fake_server.base_url)
    queue_a_sum(fake_server)
    master, slave = pty.openpty()
    slave_name = os.ttyname(slave)

    def own_terminal():
        os.setsid()
        os.close(os.open(slave_name, os.O_RDWR))  # (a session leader's first tty becomes its terminal)

    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_chat", "ask"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=own_terminal,
    )
    # (The slave stays open here too: with no one holding it, reading the master fails.)
    assert process.stdin is not None
    process.stdin.write(b"What is 40 + 2?")
    process.stdin.close()
    process.stdin = None  # (communicate() below has nothing more to write)
    seen = b""
    deadline = time.monotonic() + 60
    while b"Allow it?" not in seen and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            seen += os.read(master, 4096)
    assert b"The model asks to run the tool add of calc with" in seen and b'"a": 40' in seen, seen
    os.write(master, b"y\n")
    out, err = process.communicate(timeout=60)
    os.close(master)
    os.close(slave)
    assert process.returncode == 0, err
    assert out == b"It is 42.\n"
    assert fake_server.requests[1]["messages"][-1]["content"] == "42"
