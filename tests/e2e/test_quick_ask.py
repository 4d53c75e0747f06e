"""Quick ask on a real X11 display: a real key press opens it, single instance over real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.test_cli import write_settings
from tests.e2e.test_real_window import app_process, display, needs_x, stored_reply, wait_for, xdotool  # noqa: F401
from tests.fakes.openai_server import Reply, text_stream

pytestmark = pytest.mark.xvfb


def launch(display_name, home, *extra):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display_name, QT_QPA_PLATFORM="xcb")
    return subprocess.Popen(
        [sys.executable, "-m", "desktop_chat", "--home", str(home), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def visible(display_name, name):
    return xdotool(display_name, "search", "--onlyvisible", "--name", name).stdout.split()


@needs_x
def test_shortcut_opens_quick_ask_and_the_answer_is_kept(display, fake_server, isolated_home, app_process):  # noqa: F811
    write_settings(isolated_home, fake_server.base_url)
    fake_server.queue(Reply(body=text_stream(["Paris", " is the capital."])))
    app = launch(display, isolated_home)
    app_process.append(app)
    assert wait_for(lambda: visible(display, "Desktop Chat"))
    assert not visible(display, "Quick Ask")
    time.sleep(0.5)
    # A real key press on the X server, as from any other application.
    xdotool(display, "key", "ctrl+alt+space")
    window = wait_for(lambda: visible(display, "Quick Ask"), timeout=10)
    assert window, "the quick-ask window did not appear"
    xdotool(display, "windowfocus", "--sync", window[0])
    xdotool(display, "type", "--delay", "5", "capital of France?")
    xdotool(display, "key", "Return")
    row = wait_for(lambda: stored_reply(isolated_home, "complete"))
    assert row and row[0] == "Paris is the capital."
    assert fake_server.requests[-1]["messages"][-1]["content"] == "capital of France?"
    xdotool(display, "key", "Escape")
    assert wait_for(lambda: not visible(display, "Quick Ask"))
    # The shortcut toggles: again opens it, again hides it.
    xdotool(display, "key", "ctrl+alt+space")
    assert wait_for(lambda: visible(display, "Quick Ask"))
    xdotool(display, "key", "ctrl+alt+space")
    assert wait_for(lambda: not visible(display, "Quick Ask"))
    app.send_signal(signal.SIGTERM)
    assert app.wait(15) == 0
    assert app.stdout.read() == ""  # no Qt warning, no traceback


@needs_x
def test_single_instance_and_quick_ask_forwarding(display, fake_server, isolated_home, app_process):  # noqa: F811
    write_settings(isolated_home, fake_server.base_url)
    first = launch(display, isolated_home)
    app_process.append(first)
    assert wait_for(lambda: visible(display, "Desktop Chat"))
    # A second launch hands over to the first and leaves at once.
    second = launch(display, isolated_home)
    assert second.wait(20) == 0
    assert len(visible(display, "^Desktop Chat$")) == 1
    forward = launch(display, isolated_home, "--quick-ask")
    assert forward.wait(20) == 0
    assert wait_for(lambda: visible(display, "Quick Ask"))
    assert first.poll() is None
    # A crash leaves the socket behind; the next start still comes up, and is the one forwarded to.
    first.send_signal(signal.SIGKILL)
    first.wait()
    third = launch(display, isolated_home, "--quick-ask")  # not running: starts, with quick ask shown
    app_process.append(third)
    assert wait_for(lambda: visible(display, "Quick Ask"))
    assert third.poll() is None
    again = launch(display, isolated_home)
    assert again.wait(20) == 0 and third.poll() is None
    third.send_signal(signal.SIGTERM)
    assert third.wait(15) == 0
    for process in (second, forward, again, third):
        assert process.stdout.read() == ""  # no Qt warning, no traceback


@needs_x
def test_a_taken_shortcut_is_reported(qapp, display):  # noqa: F811
    from desktop_chat.platform.hotkeys import HotkeyError, X11Hotkey, parse_chord

    holder = X11Hotkey(display)
    holder.register(parse_chord("Ctrl+Alt+J"), lambda: None)
    try:
        other = X11Hotkey(display)
        with pytest.raises(HotkeyError, match="Another program already uses this shortcut"):
            other.register(parse_chord("Ctrl+Alt+J"), lambda: None)
        assert other.grabs == []
    finally:
        holder.unregister()
