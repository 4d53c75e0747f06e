"""`desktop-chat ask` as a real process against the loopback server: stdout, stderr, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.fakes.openai_server import Reply, text_stream


def write_settings(home, base_url):
    home.mkdir(parents=True, exist_ok=True)
    (home / "state.json").write_text('{"first_run_done": true}')
    (home / "settings.toml").write_text(
        f'default_provider = "Local"\n\n[[providers]]\nname = "Local"\n'
        f'base_url = "{base_url}"\ndefault_model = "test-model"\nneeds_key = false\n'
    )


def ask(*args, stdin=None, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "desktop_chat", "ask", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_ask_streams_to_stdout(fake_server, isolated_home):
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream(["Hello", " from", " the model"])))
    out = ask("Say hello", "--system", "Be terse.", "--model", "other-model")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Hello from the model\n" and out.stderr == ""
    sent = fake_server.requests[-1]
    assert sent["model"] == "other-model"
    assert sent["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}]


def test_ask_reads_stdin(fake_server, isolated_home):
    write_settings(isolated_home, fake_server.base_url)
    out = ask(stdin="from stdin\n")
    assert out.returncode == 0 and out.stdout == "You said: from stdin\n"


def test_ask_failure_is_one_line_and_nonzero(fake_server, isolated_home):
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(
        Reply(
            status=404,
            headers={"content-type": "application/json"},
            body=[b'{"error": {"message": "model nope does not exist"}}'],
        )
    )
    out = ask("hi", "--model", "nope")
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Not found (404)" in out.stderr


def test_ask_partial_reply_then_cut(fake_server, isolated_home):
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream(["half"], finish=None, usage=False, done=False), end="reset"))
    out = ask("hi")
    assert out.returncode == 1 and out.stdout == "half\n" and "cut mid-reply" in out.stderr


@pytest.mark.parametrize("args, words", [(("hi", "--provider", "Nope"), "unknown provider"), (("",), "empty")])
def test_ask_bad_arguments(fake_server, isolated_home, args, words):
    write_settings(isolated_home, fake_server.base_url)
    out = ask(*args)
    assert out.returncode == 2 and words in out.stderr


def test_ask_openai_without_key_says_what_to_do(isolated_home):
    out = ask("hi", "--provider", "OpenAI")
    assert out.returncode == 2 and "OPENAI_API_KEY" in out.stderr


def test_ask_uses_openai_env_variables(fake_server, isolated_home):
    # The variables the openai SDK reads work for the OpenAI provider.
    fake_server.queue(Reply(body=text_stream(["env ok"])))
    out = ask(
        "hi", "--provider", "OpenAI", env_extra={"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": fake_server.base_url}
    )
    assert out.returncode == 0 and out.stdout == "env ok\n"
    assert fake_server.headers[-1]["authorization"] == "Bearer sk-env"
    assert fake_server.requests[-1]["model"] == "gpt-4o-mini"
