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

pytestmark = pytest.mark.xvfb
# CI sets DESKTOP_CHAT_REQUIRE_XVFB=1 so a missing Xvfb fails instead of skipping.
needs_x = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")) and not os.environ.get("DESKTOP_CHAT_REQUIRE_XVFB"),
    reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)",
)


@pytest.fixture
def display():
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        piece = os.read(read, 16)
        if not piece:
            break
        number += piece
    os.close(read)
    yield f":{number.decode().strip()}"
    xvfb.terminate()
    xvfb.wait(10)


def xdotool(display, *args):
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, timeout=20)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


@needs_x
def test_real_window_answers_typed_question(display, fake_server, isolated_home, tmp_path):
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream(demo_pieces(DEMO_REPLY), delay=0.005)))
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    log = open(tmp_path / "app.log", "w")
    app = subprocess.Popen([sys.executable, "-m", "desktop_chat", "--home", str(isolated_home)],
                           env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        window = wait_for(lambda: xdotool(display, "search", "--onlyvisible", "--name", "Desktop Chat").stdout.split())
        assert window, (tmp_path / "app.log").read_text()
        time.sleep(0.5)
        # No window manager on Xvfb: give the window keyboard focus directly.
        xdotool(display, "windowfocus", "--sync", window[0])
        # The composer has focus at start: a person just types.
        xdotool(display, "type", "--delay", "10", "Hello from X11")
        xdotool(display, "key", "Return")

        def stored_reply():
            db = sqlite3.connect(isolated_home / "history.db")
            try:
                return db.execute("SELECT content FROM messages WHERE role='assistant' AND status='complete'").fetchone()
            except sqlite3.Error:
                return None
            finally:
                db.close()

        row = wait_for(stored_reply)
        assert row and row[0] == DEMO_REPLY, (tmp_path / "app.log").read_text()
        assert fake_server.requests[-1]["messages"][-1]["content"] == "Hello from X11"
        xdotool(display, "key", "ctrl+q")
        assert app.wait(15) == 0
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGKILL)
            app.wait()
        log.close()
