"""From a real key press on the X server to the quick-ask window mapped on screen.

Runs the app on its own Xvfb, sends Ctrl+Alt+Space through XTest (as a keyboard
would), and waits for the window's MapNotify on the root window. Baseline in the same
run: XTest key press to a bare X client's own grab receiving it (the X round trip).

Figures: shortcut_to_visible_ms (median), shortcut_to_visible_max_ms, x_roundtrip_ms.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _press(display, keycodes: list[int]) -> None:
    from Xlib import X
    from Xlib.ext import xtest

    for code in keycodes:
        xtest.fake_input(display, X.KeyPress, code)
    for code in reversed(keycodes):
        xtest.fake_input(display, X.KeyRelease, code)
    display.sync()


def _wait(display, kind: int, deadline: float) -> float | None:
    while time.perf_counter() < deadline:
        while display.pending_events():
            event = display.next_event()
            if event.type == kind:
                return time.perf_counter()
        time.sleep(0.0005)
    return None


def run(quick: bool = False) -> dict[str, object]:
    if not shutil.which("Xvfb"):
        return {"skipped": "needs Xvfb"}
    from Xlib import XK, X, display

    repeats = 3 if quick else 15
    from tests.fakes.xvfb import start_xvfb

    xvfb, name = start_xvfb()
    app = None
    try:
        x = display.Display(name)
        keys = [x.keysym_to_keycode(XK.string_to_keysym(k)) for k in ("Control_L", "Alt_L", "space")]
        # Baseline: the X server's own round trip, key press to a grabbing client.
        root = x.screen().root
        grabber = display.Display(name)
        groot = grabber.screen().root
        groot.grab_key(
            x.keysym_to_keycode(XK.string_to_keysym("F9")), X.ControlMask, True, X.GrabModeAsync, X.GrabModeAsync
        )
        grabber.sync()
        roundtrips = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            _press(x, [keys[0], x.keysym_to_keycode(XK.string_to_keysym("F9"))])
            t1 = _wait(grabber, X.KeyPress, t0 + 2)
            if t1 is not None:
                roundtrips.append((t1 - t0) * 1000)
        grabber.close()

        home = Path(tempfile.mkdtemp())
        (home / "state.json").write_text('{"first_run_done": true}\n')
        env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        env.update(DISPLAY=name, QT_QPA_PLATFORM="xcb")
        app = subprocess.Popen(
            [sys.executable, "-m", "desktop_chat", "--home", str(home)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        root.change_attributes(event_mask=X.SubstructureNotifyMask)
        x.sync()
        if _wait(x, X.MapNotify, time.perf_counter() + 30) is None:  # the main window
            return {"error": "the app did not show a window"}
        time.sleep(1.5)  # settle: the first paint, the warm-up import
        while x.pending_events():
            x.next_event()
        shown = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            _press(x, keys)
            t1 = _wait(x, X.MapNotify, t0 + 5)
            if t1 is None:
                return {"error": "the quick-ask window did not appear"}
            shown.append((t1 - t0) * 1000)
            time.sleep(0.2)
            _press(x, keys)  # the same shortcut hides it
            _wait(x, X.UnmapNotify, time.perf_counter() + 5)
            time.sleep(0.2)
        return {
            "shortcut_to_visible_ms": round(statistics.median(shown), 2),
            "shortcut_to_visible_max_ms": round(max(shown), 2),
            "x_roundtrip_ms": round(statistics.median(roundtrips), 3) if roundtrips else None,
            "repeats": repeats,
        }
    finally:
        if app is not None:
            app.terminate()
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()
        xvfb.terminate()
        xvfb.wait(10)
