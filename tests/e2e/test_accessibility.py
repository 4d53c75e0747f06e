"""The app as a screen reader (Orca) gets it, over the real AT-SPI bus: names, text, announcements.

A private stack per test: Xvfb, a D-Bus session bus of our own, the accessibility bus
(at-spi-bus-launcher) on it, and the app with Qt's AT-SPI bridge always on. The system
python (`/usr/bin/python3`, Debian's python3-pyatspi) reads the bus with atspi_probe.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from desktop_chat.core.model_names import display_name
from tests.e2e.test_cli import write_settings
from tests.e2e.test_real_window import focus_window, start_app, stored_reply, wait_for, xdotool
from tests.fakes.openai_server import DEMO_REPLY, Reply, demo_pieces, text_stream
from tests.fakes.xvfb import start_xvfb

pytestmark = pytest.mark.xvfb

PROBE = Path(__file__).with_name("atspi_probe.py")
SYSTEM_PYTHON = "/usr/bin/python3"
BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
APP_NAME = "desktop-chat"  # QApplication.applicationName, the application's name on the bus
TYPED = "Hello from Orca"
REPLY_PHRASE = "answer with a list, a table and some code"  # in DEMO_REPLY, as markdown and as shown
# Qt's bridge says this each time libatspi (2.46) asks an application for a direct
# connection, which Qt does not offer; libatspi then uses the bus. Nothing the app does.
QT_BRIDGE_NOISE = 'does not implement "GetApplicationBusAddress"'
# Shown controls that may have no name: a scroll bar is spoken by its role and value;
# a filler is Qt's role for a plain container (QWidget, QFrame, a scroll area's viewport)
# that only lays out named controls, so it is exempt unless it takes focus itself.
UNNAMED_ROLES = {"scroll bar"}
UNNAMED_UNLESS_FOCUSABLE = {"filler"}


def _missing() -> list[str]:
    missing = [tool for tool in ("Xvfb", "xdotool", "dbus-daemon", "dbus-send") if not shutil.which(tool)]
    missing += [path for path in (BUS_LAUNCHER, SYSTEM_PYTHON) if not os.access(path, os.X_OK)]
    if os.access(SYSTEM_PYTHON, os.X_OK):
        check = subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True, timeout=30)
        if check.returncode:
            missing.append("pyatspi for /usr/bin/python3")
    return missing


MISSING = _missing()
# CI sets DESKTOP_CHAT_REQUIRE_XVFB=1 so a missing piece fails instead of skipping.
needs_atspi = pytest.mark.skipif(
    bool(MISSING) and not os.environ.get("DESKTOP_CHAT_REQUIRE_XVFB"),
    reason=f"needs {', '.join(MISSING)} (apt-get install xvfb xdotool dbus at-spi2-core python3-pyatspi)",
)


def _live(group: int) -> list[int]:
    """Processes (not zombies) still in process group `group`."""
    alive = []
    for entry in Path("/proc").iterdir():
        try:
            # /proc/PID/stat: pid (comm) state ppid pgrp ...; comm may hold spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            alive.append(int(entry.name))
    return alive


def _stop_group(process: subprocess.Popen) -> list[int]:
    """SIGTERM a process group (a daemon and what it started), SIGKILL what stays; returns
    what was still alive after the SIGTERM and a grace period."""
    group = process.pid  # started with start_new_session: the leader's pid is the group's id
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while _live(group) and time.monotonic() < deadline:
            if process.poll() is None:
                try:
                    process.wait(0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
        if sig == signal.SIGTERM:
            stubborn = _live(group)
        if not _live(group):
            break
    process.poll()
    return stubborn


@pytest.fixture
def a11y_bus(tmp_path, monkeypatch):
    """Xvfb, a private session bus and the accessibility bus on it; the environment
    (os.environ, for start_app) points at them. Yields the environment for the probe."""
    xvfb, display = start_xvfb()
    runtime = tmp_path / "run"  # XDG_RUNTIME_DIR: both buses' sockets live here
    runtime.mkdir(mode=0o700)
    stack: list[subprocess.Popen] = []
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("AT_SPI_BUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS")}
        # GSETTINGS_BACKEND=memory: the bus launcher reads no dconf and writes nothing.
        env.update(DISPLAY=display, XDG_RUNTIME_DIR=str(runtime), GSETTINGS_BACKEND="memory")
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", f"--address=unix:dir={runtime}", "--nofork", "--print-address=1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        stack.append(bus)
        address = bus.stdout.readline().strip()
        bus.stdout.close()  # (it prints nothing more)
        assert address.startswith("unix:"), f"dbus-daemon printed {address!r}"
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        with open(tmp_path / "at-spi-bus-launcher.log", "w") as log:
            # It starts the accessibility bus (whose dbus-daemon starts at-spi2-registryd,
            # in the same process group) and answers org.a11y.Bus.GetAddress.
            stack.append(
                subprocess.Popen(
                    [BUS_LAUNCHER, "--launch-immediately"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        has_owner = [
            "dbus-send",
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.a11y.Bus",
        ]
        launched = wait_for(
            lambda: "boolean true" in subprocess.run(has_owner, env=env, capture_output=True, text=True).stdout, 10
        )
        assert launched, (tmp_path / "at-spi-bus-launcher.log").read_text()
        for name, value in env.items():
            if os.environ.get(name) != value:
                monkeypatch.setenv(name, value)
        monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
        monkeypatch.setenv("QT_LINUX_ACCESSIBILITY_ALWAYS_ON", "1")
        # The probe runs under the system python: nothing of the project on its path.
        yield display, {k: v for k, v in env.items() if k != "PYTHONPATH"}
    finally:
        stubborn = {" ".join(p.args): _stop_group(p) for p in reversed(stack)}
        xvfb.terminate()
        xvfb.wait(10)
    assert not any(stubborn.values()), f"left running after SIGTERM (then killed): {stubborn}"


def stop_app(app):
    """SIGTERM, as a session ends; killed if it does not go in 15 s."""
    if app is None:
        return
    app.send_signal(signal.SIGTERM)
    try:
        app.wait(15)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()


def probe(env, *args, timeout=30):
    out = subprocess.run([SYSTEM_PYTHON, str(PROBE), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def heard(path: Path) -> list[dict]:
    """The listener's events so far (a line it is still writing is left for the next look)."""
    lines = path.read_text().split("\n")[:-1] if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def describe(node, nodes_by_path) -> str:
    path = node["path"]
    chain = " < ".join(
        f"{nodes_by_path[tuple(path[:i])].get('role')} {nodes_by_path[tuple(path[:i])].get('name')!r}"
        for i in reversed(range(len(path)))
    )
    return f"{node.get('role')} {node.get('name', '')!r} (actions {node.get('actions', [])}) in {chain}"


@needs_atspi
def test_screen_reader_hears_names_text_and_announcement(a11y_bus, fake_server, isolated_home, tmp_path):
    assert not MISSING, f"missing: {MISSING}"
    display, probe_env = a11y_bus
    write_settings(isolated_home, fake_server.base_url)
    model = tomllib.loads((isolated_home / "settings.toml").read_text())["providers"][0]["default_model"]
    shown_name = display_name(model)
    fake_server.queue(Reply(body=text_stream(demo_pieces(DEMO_REPLY), delay=0.005)))

    events = tmp_path / "events.jsonl"
    with open(events, "w") as out, open(tmp_path / "listener.log", "w") as err:
        listener = subprocess.Popen([SYSTEM_PYTHON, str(PROBE), "listen", "50"], env=probe_env, stdout=out, stderr=err)
    app = None
    try:
        assert wait_for(lambda: heard(events), 10), (tmp_path / "listener.log").read_text()
        app = start_app(display, isolated_home, tmp_path)
        xdotool(display, "type", "--delay", "10", TYPED)
        xdotool(display, "key", "Return")
        row = wait_for(lambda: stored_reply(isolated_home, "complete"), 20)
        assert row and row[0] == DEMO_REPLY, (tmp_path / "app.log").read_text()

        def announced():
            return [e for e in heard(events) if e.get("type") == "object:announcement"]

        wait_for(lambda: any(REPLY_PHRASE in str(e["any_data"]) for e in announced()), 10)

        # The find bar too, with a word in it (its clear button shows).
        def find_bar_shown():
            found = probe(probe_env, "dump", APP_NAME)
            shown = {n.get("name") for n in found if "showing" in n.get("states", [])}
            return found if {"Next match", "Clear"} <= shown else None

        # No window manager on Xvfb: the window is given the keyboard again first (the
        # reply's focus changes can leave X's focus elsewhere), and Ctrl+F is pressed again
        # if the bar did not come (seen in 2 CI runs of 6: the keys went nowhere).
        nodes = None
        for _ in range(3):
            focus_window(display)
            xdotool(display, "key", "ctrl+f")
            xdotool(display, "type", "--delay", "10", "short")
            nodes = wait_for(find_bar_shown, 5)
            if nodes:
                break
        nodes = nodes or probe(probe_env, "dump", APP_NAME)
    finally:
        listener.terminate()
        listener.wait(10)
        stop_app(app)
    by_path = {tuple(node["path"]): node for node in nodes}
    everything = heard(events)[1:]  # (after {"ready": true})
    problems = []

    # The infrastructure: the app is on the bus with its window, and the listener hears.
    assert any(node.get("role") == "frame" for node in nodes), nodes[:3]
    assert everything, "the listener heard no event at all (focus, typing): the AT-SPI setup is broken"

    # a. A finished reply is announced, with what it says.
    announcements = [e for e in everything if e["type"] == "object:announcement"]
    if not any(
        f"Reply from {shown_name}" in str(e["any_data"]) and REPLY_PHRASE in str(e["any_data"]) for e in announcements
    ):
        problems.append(
            f"no object:announcement of the reply (wanted 'Reply from {shown_name} finished. …{REPLY_PHRASE}…'); "
            f"announcements heard: {[e['any_data'] for e in announcements]}; "
            f"the listener works: it heard {len(everything)} other events, e.g. {everything[:2]}"
        )

    # What is said is what is shown, not markdown's marks.
    for said in [str(e["any_data"]) for e in announcements]:
        if any(mark in said for mark in ("**", "|---", "```")):
            problems.append(f"the announcement reads markdown's marks: {said[:200]!r}")

    # b. Every shown control a user can focus or act on has a name. Qt gives every widget
    # the Action interface, most with no action at all (panels, labels, split panes), so
    # "can act on" is "has at least one action".
    unnamed = [
        node
        for node in nodes
        if "showing" in node.get("states", [])
        and ("focusable" in node.get("states", []) or node.get("actions"))
        and not node.get("name", "").strip()
        and node.get("role") not in UNNAMED_ROLES
        and not (node.get("role") in UNNAMED_UNLESS_FOCUSABLE and "focusable" not in node.get("states", []))
    ]
    if unnamed:
        problems.append(
            "shown controls without a name:\n" + "\n".join(f"  {describe(node, by_path)}" for node in unnamed)
        )
    errors = [node for node in nodes if "error" in node]
    if errors:
        problems.append("objects the probe could not read:\n" + "\n".join(f"  {node}" for node in errors))

    # c. Each message's text is readable through the Text interface, named with who wrote it.
    texts = [node for node in nodes if "Text" in node.get("interfaces", [])]
    wanted = {"Your message": TYPED, f"Reply from {shown_name}": REPLY_PHRASE}
    for name, phrase in wanted.items():
        if not any(node.get("name") == name and phrase in node.get("text", "") for node in texts):
            problems.append(
                f"no object with the Text interface named {name!r} whose text has {phrase!r}; "
                "the objects with text: "
                + "; ".join(f"{n.get('role')} {n.get('name')!r}: {n.get('text', '')[:60]!r}" for n in texts)
            )

    # d. The last reply's buttons are shown, and named with the message they act on.
    buttons = [
        node.get("name") for node in nodes if node.get("role") == "push button" and "showing" in node.get("states", [])
    ]
    for name in (f"Copy reply from {shown_name}", f"Regenerate reply from {shown_name}", "Next match", "Clear"):
        if name not in buttons:
            problems.append(f"no shown push button named {name!r}; shown buttons: {buttons}")

    # What the app printed: nothing but the bridge's note above (no traceback, no warning).
    log = (tmp_path / "app.log").read_text().splitlines()
    printed = [line for line in log if QT_BRIDGE_NOISE not in line]
    if printed:
        problems.append("the app printed:\n" + "\n".join(printed))

    assert not problems, "\n\n".join(problems)


@needs_atspi
def test_a_formula_reads_as_its_source(a11y_bus, fake_server, isolated_home, tmp_path):
    # A typeset formula is an image in its document: Qt's text interface gives it as U+FFFC
    # (a Python interface in its place was not reached by Qt's bridge, or crashed it), so
    # the message is described with its text, formulas as their source, heard on focus.
    display, probe_env = a11y_bus
    write_settings(isolated_home, fake_server.base_url)
    answer = "Euler's identity $e^{i\\pi}+1=0$ costs $5 to print."
    fake_server.queue(Reply(body=text_stream(["Euler's identity $e^{i\\pi}", "+1=0$ costs $5 to print."])))
    app = None
    try:
        app = start_app(display, isolated_home, tmp_path)
        xdotool(display, "type", "--delay", "10", "euler")
        xdotool(display, "key", "Return")
        assert wait_for(lambda: stored_reply(isolated_home, "complete"), 20), (tmp_path / "app.log").read_text()
        time.sleep(2)
        nodes = probe(probe_env, "dump", APP_NAME)
    finally:
        stop_app(app)
    described = [n for n in nodes if n.get("name") == "Reply from test-model" and n.get("description")]
    assert [n["description"] for n in described] == [answer], [
        (n.get("role"), n.get("name"), n.get("description")) for n in nodes if n.get("name")
    ]
    texts = [
        n.get("text", "")
        for n in nodes
        if n.get("name") == "Reply from test-model" and "Text" in n.get("interfaces", [])
    ]
    assert texts == ["Euler's identity \ufffc costs $5 to print."]  # (what Qt gives: the gap this covers)


@needs_atspi
def test_a_tool_call_waiting_is_announced_and_answered_from_its_named_buttons(
    a11y_bus, fake_server, isolated_home, tmp_path
):
    from tests.e2e.test_ask_tools import with_tool_server
    from tests.fakes.openai_server import tool_call_stream

    display, probe_env = a11y_bus
    with_tool_server(isolated_home, fake_server.base_url)
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 40, "b": 2}')])),
        Reply(body=text_stream(["It is 42."])),
    )
    events = tmp_path / "events.jsonl"
    with open(events, "w") as out, open(tmp_path / "listener.log", "w") as err:
        listener = subprocess.Popen([SYSTEM_PYTHON, str(PROBE), "listen", "60"], env=probe_env, stdout=out, stderr=err)
    app = None
    try:
        assert wait_for(lambda: heard(events), 10), (tmp_path / "listener.log").read_text()
        app = start_app(display, isolated_home, tmp_path)
        xdotool(display, "type", "--delay", "10", "add them")
        xdotool(display, "key", "Return")

        def asked():
            return [e for e in heard(events) if "The model asks to run add of calc" in str(e.get("any_data"))]

        assert wait_for(asked, 30), (tmp_path / "app.log").read_text()
        nodes = probe(probe_env, "dump", APP_NAME)
        shown = {n.get("name") for n in nodes if n.get("role") == "push button" and "showing" in n.get("states", [])}
        assert {"Allow once: add of calc", "Always allow: add of calc", "Deny: add of calc"} <= shown, shown
        assert probe(probe_env, "press", APP_NAME, "Allow once: add of calc") is True
        row = wait_for(lambda: stored_reply(isolated_home, "complete"), 30)
        assert row and row[0] == "It is 42.", (tmp_path / "app.log").read_text()
    finally:
        listener.terminate()
        listener.wait(10)
        stop_app(app)
    assert fake_server.requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "42"}
