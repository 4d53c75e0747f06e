"""The real app in a real X11 window on Xvfb: xdotool types a question, the answer streams in."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.e2e.test_cli import write_settings
from tests.fakes.openai_server import DEMO_REPLY, Reply, demo_pieces, text_stream
from tests.fakes.xvfb import start_xvfb

pytestmark = pytest.mark.xvfb
# CI sets DESKTOP_CHAT_REQUIRE_XVFB=1 so a missing Xvfb fails instead of skipping.
needs_x = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")) and not os.environ.get("DESKTOP_CHAT_REQUIRE_XVFB"),
    reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)",
)


@pytest.fixture
def display():
    xvfb, name = start_xvfb()
    yield name
    xvfb.terminate()
    xvfb.wait(10)


def xdotool(display, *args):
    return subprocess.run(
        ["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=20
    )


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def start_app(display, home, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    log = open(tmp_path / "app.log", "a")
    app = subprocess.Popen(
        [sys.executable, "-m", "desktop_chat", "--home", str(home)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    window = wait_for(lambda: xdotool(display, "search", "--onlyvisible", "--name", "Desktop Chat").stdout.split())
    assert window, (tmp_path / "app.log").read_text()
    time.sleep(0.5)
    focus_window(display)
    return app


def focus_window(display):
    """No window manager on Xvfb: give the app's window the keyboard directly (before a key
    meant for it: X's focus has been seen gone elsewhere after a reply, the keys lost)."""
    for window in xdotool(display, "search", "--onlyvisible", "--name", "Desktop Chat").stdout.split()[:1]:
        xdotool(display, "windowfocus", "--sync", window)


def stored_reply(home, status=None):
    db = sqlite3.connect(home / "history.db")
    try:
        query = "SELECT content, status FROM messages WHERE role='assistant'"
        if status:
            query += f" AND status='{status}'"
        return db.execute(query + " ORDER BY id DESC").fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()


@pytest.fixture
def app_process(tmp_path):
    started = []
    yield started
    for app in started:
        if app.poll() is None:
            app.send_signal(signal.SIGKILL)
            app.wait()
    # What the app printed (stdout and stderr): nothing at all, so no Qt warning and no traceback.
    log = tmp_path / "app.log"
    assert not log.exists() or log.read_text() == "", log.read_text()


@needs_x
def test_real_window_answers_typed_question(display, fake_server, isolated_home, tmp_path, app_process):
    write_settings(isolated_home, fake_server.base_url)
    made_by_test = {isolated_home, *isolated_home.rglob("*")}
    fake_server.queue(Reply(body=text_stream(demo_pieces(DEMO_REPLY), delay=0.005)))
    app = start_app(display, isolated_home, tmp_path)
    app_process.append(app)
    # The composer has focus at start: a person just types.
    xdotool(display, "type", "--delay", "10", "Hello from X11")
    xdotool(display, "key", "Return")
    row = wait_for(lambda: stored_reply(isolated_home, "complete"))
    assert row and row[0] == DEMO_REPLY, (tmp_path / "app.log").read_text()
    assert fake_server.requests[-1]["messages"][-1]["content"] == "Hello from X11"
    focus_window(display)
    xdotool(display, "key", "ctrl+q")
    assert app.wait(15) == 0
    # Every file and folder the app made is private to the user.
    made = [p for p in isolated_home.rglob("*") if p not in made_by_test]
    assert any(p.name == "history.db" for p in made)
    loose = {str(p.relative_to(isolated_home)): oct(p.stat().st_mode & 0o777) for p in made if p.stat().st_mode & 0o077}
    assert not loose, loose


@needs_x
@pytest.mark.parametrize("how", ["ctrl+q", "SIGTERM"])
def test_quitting_mid_reply_keeps_it_as_stopped(display, fake_server, isolated_home, tmp_path, app_process, how):
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(
        Reply(body=text_stream(["kept ", "so ", "far"], finish=None, usage=False, done=False), end="hang")
    )
    app = start_app(display, isolated_home, tmp_path)
    app_process.append(app)
    xdotool(display, "type", "question")
    xdotool(display, "key", "Return")
    assert wait_for(lambda: fake_server.requests)
    time.sleep(1.5)  # the partial text has arrived and is on screen
    if how == "SIGTERM":
        app.send_signal(signal.SIGTERM)
    else:
        focus_window(display)
        xdotool(display, "key", how)
    assert app.wait(15) == 0
    assert stored_reply(isolated_home) == ("kept so far", "stopped")
    assert fake_server.closed_early.wait(5)


@needs_x
def test_kill_9_mid_reply_loses_at_most_about_a_second(display, fake_server, isolated_home, tmp_path, app_process):
    write_settings(isolated_home, fake_server.base_url)
    pieces = [f"w{i} " for i in range(40)]
    fake_server.queue(Reply(body=text_stream(pieces, delay=0.1, finish=None, usage=False, done=False), end="hang"))
    app = start_app(display, isolated_home, tmp_path)
    app_process.append(app)
    xdotool(display, "type", "question")
    xdotool(display, "key", "Return")
    assert wait_for(lambda: fake_server.requests)
    time.sleep(3.0)  # about 30 words have been sent
    sent_words = fake_server.items_sent - 1  # the first item is the role chunk
    app.send_signal(signal.SIGKILL)
    app.wait()
    content, status = stored_reply(isolated_home)
    assert status == "streaming"  # as the crash left it
    words = content.split()
    assert words == [f"w{i}" for i in range(len(words))]
    # 10 words a second were sent; at most about a second of them (10, plus one frame) is missing.
    assert sent_words >= 20
    assert len(words) >= sent_words - 12, (len(words), sent_words)
    # The next start shows it as interrupted, with Retry.
    app = start_app(display, isolated_home, tmp_path)
    app_process.append(app)
    assert wait_for(lambda: stored_reply(isolated_home, "interrupted"))
