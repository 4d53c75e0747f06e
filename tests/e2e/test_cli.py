"""`desktop-chat ask` as a real process against the loopback server: stdout, stderr, exit codes."""

from __future__ import annotations

import json
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


def ask_process(*args):
    """`desktop-chat ask` running, its stdout and stderr pipes to read as it goes. Ctrl+C is
    its own: a test run started in the background (`cmd &`, where the shell ignores SIGINT)
    would otherwise hand the ignoring down, and Python then installs no KeyboardInterrupt."""
    import signal

    return subprocess.Popen(
        [sys.executable, "-m", "desktop_chat", "ask", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )


def history_json(*args):
    out = subprocess.run(
        [sys.executable, "-m", "desktop_chat", "history", *args, "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def test_ask_keeps_its_exchange_in_the_history_unless_told_not_to(fake_server, isolated_home):
    write_settings(isolated_home, fake_server.base_url)
    settings = isolated_home / "settings.toml"
    settings.write_text("model_titles = true\n" + settings.read_text())  # the window's; ask ends with its reply
    fake_server.queue(Reply(body=text_stream(["Kept."])), Reply(body=text_stream(["Forgotten."])))
    assert ask("Remember this").returncode == 0
    assert len(fake_server.requests) == 1  # no title asked for
    listed = history_json("list")
    assert [c["title"] for c in listed] == ["Remember this"]
    shown = history_json("show", str(listed[0]["id"]))
    assert [(m["role"], m["content"]) for m in shown["messages"]] == [("user", "Remember this"), ("assistant", "Kept.")]
    assert ask("-n", "Not this").returncode == 0  # --no-log
    assert [c["title"] for c in history_json("list")] == ["Remember this"]


def test_ask_continue_carries_on_the_latest_or_a_given_conversation(fake_server, isolated_home):
    write_settings(isolated_home, fake_server.base_url)
    assert ask("first question").returncode == 0
    first_id = history_json("list")[0]["id"]
    assert ask("another topic").returncode == 0
    out = ask("-c", "and a follow-up")  # -c alone: the latest
    assert out.returncode == 0, out.stderr
    assert [m["content"] for m in fake_server.requests[-1]["messages"]] == [
        "another topic",
        "You said: another topic",
        "and a follow-up",
    ]
    out = ask("--continue", str(first_id), "back to the first", "--system", "Be brief.")
    assert out.returncode == 0, out.stderr
    assert [m["content"] for m in fake_server.requests[-1]["messages"]] == [
        "Be brief.",
        "first question",
        "You said: first question",
        "back to the first",
    ]
    assert len(history_json("list")) == 2
    assert len(history_json("show", str(first_id))["messages"]) == 4
    for args, words in [(("-c", "999", "hi"), "no conversation 999"), (("-c", "-n", "hi"), "--no-log")]:
        out = ask(*args)
        assert out.returncode == 2 and words in out.stderr


def test_ask_into_a_closed_pipe_ends_quietly_and_keeps_what_arrived(fake_server, isolated_home):
    # `desktop-chat ask ... | head -3`: the reader leaves after three lines.
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream([f"line {i}\n" for i in range(300)], delay=0.01)))
    proc = ask_process("count")
    lines = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()
    assert proc.wait(60) == 1
    stderr = proc.stderr.read()
    assert lines == ["line 0\n", "line 1\n", "line 2\n"]
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and stderr == ""
    reply = history_json("show", str(history_json("list")[0]["id"]))["messages"][-1]
    assert reply["status"] == "stopped" and reply["content"].startswith("line 0\nline 1\nline 2\n")


def test_ask_continue_takes_the_latest_activity_even_past_a_pinned_one_and_not_the_trash(fake_server, isolated_home):
    from desktop_chat.core.store import HistoryStore

    write_settings(isolated_home, fake_server.base_url)
    for prompt in ("pinned long ago", "newest"):
        assert ask(prompt).returncode == 0
    ids = {c["title"]: c["id"] for c in history_json("list")}
    store = HistoryStore(isolated_home / "history.db")
    store.set_pinned(ids["pinned long ago"], True)
    store.trash_conversation(ids["newest"])
    store.close()
    out = ask("-c", str(ids["newest"]), "hi")
    assert out.returncode == 2 and "in the trash" in out.stderr
    store = HistoryStore(isolated_home / "history.db")
    store.restore_conversation(ids["newest"])
    store.close()
    assert ask("-c", "carry on").returncode == 0
    assert fake_server.requests[-1]["messages"][0]["content"] == "newest"  # not the pinned one


def test_ctrl_c_during_ask_keeps_what_arrived_and_exits_130(fake_server, isolated_home):
    import signal

    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream([f"line {i}\n" for i in range(300)], delay=0.02)))
    proc = ask_process("count")
    assert proc.stdout.readline() == "line 0\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    assert proc.stderr.read() == ""  # no traceback
    reply = history_json("show", str(history_json("list")[0]["id"]))["messages"][-1]
    assert reply["status"] == "stopped" and reply["content"].startswith("line 0\n")


def test_ask_prints_the_answer_and_the_reasoning_only_when_asked(fake_server, isolated_home):
    from tests.fakes.openai_server import reasoning_stream

    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(
        Reply(body=reasoning_stream(["Two and ", "two."], ["It is ", "4."])),
        Reply(body=reasoning_stream(["Two and ", "two."], ["It is ", "4."])),
        # Made-up content (no recording has it): tags in the content.
        Reply(body=text_stream(["<think>", "Pondering", "</think>\n\n", "Four."])),
    )
    out = ask("2+2?")
    assert out.returncode == 0 and out.stdout == "It is 4.\n" and out.stderr == ""
    out = ask("2+2?", "--reasoning")
    assert out.returncode == 0 and out.stdout == "It is 4.\n" and out.stderr == "Two and two.\n"
    out = ask("2+2?")
    assert out.returncode == 0 and out.stdout == "Four.\n"


def test_ask_holds_back_what_a_thinking_model_may_not_have_opened(fake_server, isolated_home):
    # Made-up content: a template that put <think> in the prompt, so the model (a name of a
    # family that thinks) writes only the closing tag. Never seen before: ask holds its text
    # until the tag says what it was; nothing of the thought reaches stdout.
    write_settings(isolated_home, fake_server.base_url)
    pieces = ["The user wants ", "a number.\n", "</thi", "nk>\n\n", "Seven."]
    fake_server.queue(Reply(body=text_stream(pieces, model="deepseek-r1:7b")))
    out = ask("a number?", "-m", "deepseek-r1:7b", "--reasoning")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Seven.\n" and out.stderr == "The user wants a number.\n"
    state = json.loads((isolated_home / "state.json").read_text())
    assert state["think_unopened"] == ["Local/deepseek-r1:7b"]


def test_ask_attaches_files_and_stdin(fake_server, isolated_home, tmp_path):
    import base64
    import io

    from PIL import Image

    write_settings(isolated_home, fake_server.base_url)
    picture = tmp_path / "shot.png"
    Image.new("RGB", (64, 32), (0, 128, 255)).save(picture)
    notes = tmp_path / "notes.txt"
    notes.write_text("Meeting at noon.")
    fake_server.queue(Reply(body=text_stream(["A blue box."])), Reply(body=text_stream(["Noon."])))
    out = ask("-a", str(picture), "-a", str(notes), "What is in these?")
    assert out.returncode == 0 and out.stdout == "A blue box.\n", out.stderr
    content = fake_server.requests[-1]["messages"][-1]["content"]
    assert content[0]["text"] == '<document name="notes.txt">\nMeeting at noon.\n</document>\n\nWhat is in these?'
    sent = Image.open(io.BytesIO(base64.b64decode(content[1]["image_url"]["url"].split(",", 1)[1])))
    assert sent.size == (64, 32) and sent.getpixel((1, 1)) == (0, 128, 255)
    # -a - reads the attachment from stdin; the prompt is then the argument.
    out = ask("-a", "-", "When?", stdin="Meeting at noon tomorrow.")
    assert out.returncode == 0 and out.stdout == "Noon.\n", out.stderr
    assert "Meeting at noon tomorrow." in fake_server.requests[-1]["messages"][-1]["content"][0]["text"]


def test_ask_with_a_file_it_cannot_attach_sends_nothing(fake_server, isolated_home, tmp_path):
    write_settings(isolated_home, fake_server.base_url)
    sent_before = len(fake_server.requests)
    out = ask("-a", str(tmp_path / "nope.pdf"), "Summarise")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"desktop-chat: There is no file {tmp_path / 'nope.pdf'}. Nothing was sent.\n"
    out = ask("-a", "-", stdin="text")
    assert out.returncode == 2 and "give the prompt as an argument" in out.stderr
    assert len(fake_server.requests) == sent_before
