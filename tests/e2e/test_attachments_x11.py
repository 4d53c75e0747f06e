"""Files reach the real window the X11 way, on Xvfb: a paste from the X clipboard (xclip owns
it, as a screenshot tool or a file manager would) and a drop of file URLs dragged over XDND
by another X client. What the app made of them is read where it ends up: the request the
(fake) model server got."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.test_cli import write_settings
from tests.e2e.test_real_window import app_process, display, focus_window, needs_x, start_app, wait_for, xdotool  # noqa: F401

pytestmark = pytest.mark.xvfb
# CI sets DESKTOP_CHAT_REQUIRE_XVFB=1 so a missing xclip fails instead of skipping.
needs_xclip = pytest.mark.skipif(
    not shutil.which("xclip") and not os.environ.get("DESKTOP_CHAT_REQUIRE_XVFB"),
    reason="needs xclip (apt-get install xclip)",
)

DRAG_SOURCE = Path(__file__).with_name("drag_source.py")
PROMPT = "What is in it"
COLOUR = (214, 31, 167)  # a colour nothing else on the screen has
NOTES = "Meeting on Tuesday: bring the figures.\nRoom 4."


def png(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", size, colour).save(path, "PNG")
    return path


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)


def own_clipboard(display_name: str, target: str, data: bytes) -> subprocess.Popen:
    """xclip owns the CLIPBOARD selection with `data` as `target` until it is killed
    (-quiet keeps it in the foreground, so this process is the owner)."""
    env = {**os.environ, "DISPLAY": display_name}
    owner = subprocess.Popen(
        ["xclip", "-quiet", "-selection", "clipboard", "-t", target, "-i"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert owner.stdin is not None
    owner.stdin.write(data)
    owner.stdin.close()

    def offered() -> bool:
        check = subprocess.run(
            ["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"], env=env, capture_output=True, timeout=20
        )
        return target in check.stdout.decode(errors="replace").split()

    if not wait_for(offered):
        stop(owner)
        pytest.fail(f"xclip did not take the clipboard as {target}")
    return owner


def user_content(server) -> list | str | None:
    """What the last user message of the chat request carried (a title request comes later)."""
    for request in server.requests:
        messages = request.get("messages", [])
        if messages and messages[-1]["role"] == "user" and "title" not in str(messages[-1]["content"]).lower():
            return messages[-1]["content"]
    return None


def send(display_name: str, server, timeout: float = 60.0):
    """Return until the message goes: while a file is still being read the app keeps the
    message back (with a notice) and a person presses Return again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        focus_window(display_name)
        xdotool(display_name, "key", "Return")
        content = wait_for(lambda: user_content(server), timeout=3)
        if content is not None:
            return content
    return None


def decoded_image(part: dict) -> Image.Image:
    assert part["type"] == "image_url"
    url = part["image_url"]["url"]
    head, _, data = url.partition(",")
    assert head in ("data:image/png;base64", "data:image/jpeg;base64"), head
    image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
    image.load()
    return image


def one_colour(image: Image.Image) -> tuple[int, int, int] | None:
    colours = image.convert("RGB").getcolors(maxcolors=4)
    return colours[0][1] if colours and len(colours) == 1 else None


def app_log(tmp_path: Path) -> str:
    log = tmp_path / "app.log"
    return log.read_text() if log.exists() else ""


def paste_and_send(display_name: str, server) -> list | str | None:
    focus_window(display_name)
    xdotool(display_name, "key", "ctrl+l")  # Go to message box
    xdotool(display_name, "key", "ctrl+v")
    xdotool(display_name, "type", "--delay", "10", PROMPT)
    return send(display_name, server)


# Paste


@needs_x
@needs_xclip
def test_a_pasted_image_is_sent_as_that_image(display, fake_server, isolated_home, tmp_path, app_process):  # noqa: F811
    write_settings(isolated_home, fake_server.base_url)
    picture = png(tmp_path / "screenshot.png", (300, 200), COLOUR)
    app_process.append(start_app(display, isolated_home, tmp_path))
    owner = own_clipboard(display, "image/png", picture.read_bytes())
    try:
        content = paste_and_send(display, fake_server)
    finally:
        stop(owner)
    assert isinstance(content, list), (content, app_log(tmp_path))
    assert [p["type"] for p in content] == ["text", "image_url"], content
    assert content[0]["text"] == PROMPT
    image = decoded_image(content[1])
    assert image.size == (300, 200)
    assert one_colour(image) == COLOUR


# How file managers put a copied file on the clipboard: KDE's Dolphin and GTK 4 apps as
# text/uri-list (RFC 2483: CRLF); GTK 3's Files, Nemo and Caja as x-special/gnome-copied-files.
COPIED_FILE = {
    "text/uri-list": lambda uri: uri + b"\r\n",
    "x-special/gnome-copied-files": lambda uri: b"copy\n" + uri,
}


@needs_x
@needs_xclip
@pytest.mark.parametrize("target", list(COPIED_FILE))
def test_a_copied_file_pasted_is_sent_as_text(display, fake_server, isolated_home, tmp_path, app_process, target):  # noqa: F811
    write_settings(isolated_home, fake_server.base_url)
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    app_process.append(start_app(display, isolated_home, tmp_path))
    owner = own_clipboard(display, target, COPIED_FILE[target](notes.as_uri().encode()))
    try:
        content = paste_and_send(display, fake_server)
    finally:
        stop(owner)
    assert content == [{"type": "text", "text": f'<document name="notes.txt">\n{NOTES}\n</document>\n\n{PROMPT}'}], (
        content,
        app_log(tmp_path),
    )


# Drop


class Lines:
    """What a process prints, line by line, read in a thread (so nothing blocks on it)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def seen(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)


def window_geometry(display_name: str, name: str) -> tuple[int, int, int, int] | None:
    found = xdotool(display_name, "search", "--onlyvisible", "--name", name).stdout.split()
    if not found:
        return None
    shell = dict(
        line.split("=", 1) for line in xdotool(display_name, "getwindowgeometry", "--shell", found[0]).stdout.split()
    )
    return int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"])


def drag(display_name: str, said: Lines, start: tuple[int, int], end: tuple[int, int], steps: int = 25) -> None:
    """A person's drag: press on the source, move in steps (Qt offers XDND to each window the
    pointer crosses), rest on the target until it says it will take the files, release.
    Each step waits for the source to say it has happened, never for a time."""
    xdotool(display_name, "mousemove", "--sync", *map(str, start))
    xdotool(display_name, "mousedown", "1")
    assert wait_for(lambda: said.seen("dragging")), said.lines
    for step in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * step // steps
        y = start[1] + (end[1] - start[1]) * step // steps
        xdotool(display_name, "mousemove", str(x), str(y))
        time.sleep(0.03)  # (a hand's pace; nothing waits on it)

    def taken() -> bool:
        answers = [line for line in said.lines if line.startswith("target takes:")]
        return bool(answers) and answers[-1] == "target takes: CopyAction"

    if not wait_for(taken, timeout=5):
        # A move after the target's window has seen the drag enter gets its answer.
        xdotool(display_name, "mousemove", str(end[0] + 1), str(end[1] + 1))
    assert wait_for(taken), said.lines
    xdotool(display_name, "mouseup", "1")


@needs_x
@pytest.mark.parametrize("where", ["transcript", "message box"])
def test_files_dropped_over_xdnd_are_sent(display, fake_server, isolated_home, tmp_path, app_process, where):  # noqa: F811
    write_settings(isolated_home, fake_server.base_url)
    picture = png(tmp_path / "photo.png", (120, 90), COLOUR)
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    app_process.append(start_app(display, isolated_home, tmp_path))
    window = window_geometry(display, "Desktop Chat")
    assert window, app_log(tmp_path)
    x, y, width, height = window
    # The drag source beside the app's window (no window manager: it goes where it asks to).
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    source = subprocess.Popen(
        [sys.executable, str(DRAG_SOURCE), str(x + width + 20), "100", "140", "100", str(picture), str(notes)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = Lines(source.stdout)
        assert wait_for(lambda: said.seen("ready")), said.lines
        source_window = wait_for(lambda: window_geometry(display, "Drag source"))
        assert source_window, said.lines
        sx, sy, swidth, sheight = source_window
        assert sx >= x + width, (source_window, window)  # beside the app, not over it
        if where == "transcript":
            target = (x + width * 6 // 10, y + height // 2)
        else:  # the message box, at the bottom of the window under the transcript
            target = (x + width * 55 // 100, y + height - 70)
        drag(display, said, (sx + swidth // 2, sy + sheight // 2), target)
        ended = wait_for(lambda: said.seen("drag ended:"), timeout=30)
        assert ended == "drag ended: CopyAction", (said.lines, app_log(tmp_path))
        focus_window(display)
        xdotool(display, "key", "ctrl+l")  # Go to message box
        xdotool(display, "type", "--delay", "10", PROMPT)
        content = send(display, fake_server)
    finally:
        stop(source)
    assert isinstance(content, list), (content, said.lines, app_log(tmp_path))
    assert [p["type"] for p in content] == ["text", "image_url"], content
    assert content[0]["text"] == f'<document name="notes.txt">\n{NOTES}\n</document>\n\n{PROMPT}'
    image = decoded_image(content[1])
    assert image.size == (120, 90) and one_colour(image) == COLOUR
    assert not [
        line for line in said.lines if not line.startswith(("ready", "dragging", "target takes:", "drag ended:"))
    ], said.lines
