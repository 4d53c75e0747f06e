"""Start-up: process start to the first painted main window, against a bare PySide6
window (a QMainWindow, nothing in it) started the same way in the same run.

The app starts with a real profile: the ChatGPT export from tests/data imported
(192 conversations), settings saved, the first-run dialog done.

Figures: first_paint_s (median), bare_first_paint_s (median), ratio (app / bare).
Launches alternate app / bare; one untimed launch of each first, so both run from
compiled bytecode and a warm file cache, as an installed app does from its second start.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "tests" / "data" / "chatgpt-export" / "conversations.json"

# The real entry point (desktop_chat.cli.main), with a spy on the application's events
# that reports when the main window first paints. `then` says what to do after it:
# "quit" (for timings) or "memory" (RSS when idle, then with conversation 1 open).
APP = textwrap.dedent(
    """
    import json, os, sys, time
    started, home, then = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    from desktop_chat import app as _app, cli  # the app's own import order: core before Qt
    import PySide6.QtWidgets as widgets
    from PySide6.QtCore import QEvent, QObject, QTimer

    figures = {}
    def main_window():
        return next(w for w in widgets.QApplication.topLevelWidgets() if w.objectName() == "mainWindow")

    class Spy(QObject):
        def eventFilter(self, obj, event):
            if (event.type() == QEvent.Type.Paint and "first_paint" not in figures and obj.isWidgetType()
                    and obj.window().objectName() == "mainWindow"):
                figures["first_paint"] = time.time() - started
                QTimer.singleShot(0, after_paint)
            return False

    def rss_mb():
        with open("/proc/self/status") as status:
            kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return kb / 1024

    def after_paint():
        if then == "quit":
            finish()
        else:
            QTimer.singleShot(4000, idle)  # the deferred start-up work is done by then

    def idle():
        figures["idle_rss_mb"] = rss_mb()
        window = main_window()
        window.open_conversation(1)
        window.chat_view.viewport().repaint()
        QTimer.singleShot(3000, opened)

    def opened():
        figures["conversation_rss_mb"] = rss_mb()
        figures["messages_shown"] = len(main_window().chat.tree.messages)
        finish()

    def finish():
        print(json.dumps(figures), flush=True)
        main_window().quit_app()

    spy = Spy()
    class Application(widgets.QApplication):
        def __init__(self, *args):
            super().__init__(*args)
            self.installEventFilter(spy)
    widgets.QApplication = Application
    sys.exit(cli.main(["--home", home]))
    """
)

BARE = textwrap.dedent(
    """
    import json, sys, time
    started, then = float(sys.argv[1]), sys.argv[3]
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    figures = {}
    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    def finish():
        if then != "quit":
            figures["idle_rss_mb"] = rss_mb()
        print(json.dumps(figures), flush=True)
        app.quit()

    class Spy(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and "first_paint" not in figures and obj.isWidgetType():
                figures["first_paint"] = time.time() - started
                QTimer.singleShot(0 if then == "quit" else 4000, finish)
            return False

    app = QApplication(sys.argv)
    spy = Spy()
    app.installEventFilter(spy)
    window = QMainWindow()
    window.resize(1100, 720)
    window.show()
    app.exec()
    """
)


def launch(kind: str, home: Path | None, then: str = "quit", timeout: float = 120) -> dict[str, float]:
    """Start a fresh process ("app" or "bare") and return the figures it printed."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed app runs from compiled bytecode
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    script = APP if kind == "app" else BARE
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", script, repr(started), str(home or ""), then],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} launch failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def make_profile(folder: Path, history: Path | None = None, empty_history: bool = False) -> Path:
    """A profile as a user's looks after the first run: settings saved, and `history` (a
    file, linked in), or no history at all, or by default the real ChatGPT export."""
    from desktop_chat.core.exchange import import_chatgpt
    from desktop_chat.core.paths import resolve_paths
    from desktop_chat.core.settings import Settings, save_settings
    from desktop_chat.core.state import AppState, StateFile
    from desktop_chat.core.store import HistoryStore

    home = folder / "profile"
    home.mkdir(mode=0o700)
    save_settings(home / "settings.toml", Settings())
    StateFile(path=resolve_paths(home).state_file).update(AppState(first_run_done=True))
    if history is not None:
        try:
            os.link(history, home / "history.db")  # the same file, without copying hundreds of MB
        except OSError:
            import shutil

            shutil.copy(history, home / "history.db")
    elif EXPORT.exists() and not empty_history:
        store = HistoryStore(home / "history.db")
        import_chatgpt(store, EXPORT)
        store.close()
    return home


def first_paints(home: Path, repeats: int) -> tuple[list[float], list[float]]:
    """First-paint times of the app and of a bare window, alternating, after one warm-up each."""
    launch("app", home)
    launch("bare", None)
    app, bare = [], []
    for _ in range(repeats):
        app.append(launch("app", home)["first_paint"])
        bare.append(launch("bare", None)["first_paint"])
    return app, bare


def run(quick: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        home = make_profile(Path(folder))
        app, bare = first_paints(home, 2 if quick else 11)
    first, baseline = statistics.median(app), statistics.median(bare)
    return {
        "first_paint_s": round(first, 3),
        "bare_first_paint_s": round(baseline, 3),
        "ratio": round(first / baseline, 2),
        "first_paint_s_range": [round(min(app), 3), round(max(app), 3)],
    }
