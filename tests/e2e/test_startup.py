"""Start-up: the first paint happens before the slow `openai` import, the keyring or any network use."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_first_paint_does_not_wait_for_openai_and_idle_does_not_load_it(tmp_path, fake_server):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "settings.toml").write_text(
        f'first_run_done = true\ndefault_provider = "T"\n[[providers]]\nname = "T"\n'
        f'base_url = "{fake_server.base_url}"\ndefault_model = "m"\nneeds_key = false\n'
    )
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        import time
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication
        from desktop_chat.app import LaunchOptions, run_gui
        from desktop_chat.core.paths import resolve_paths

        app = QApplication([])
        seen = []

        class FirstPaint(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint and not seen and obj.isWidgetType() \\
                        and obj.window().objectName() == "mainWindow":
                    seen.append(("openai" in sys.modules, "httpx2" in sys.modules, "keyring" in sys.modules))
                    QTimer.singleShot(1500, idle)
                return False

        def idle():
            # Idle after start-up, the SDK is still not loaded (and the keyring was never
            # asked: no provider here takes a key).
            seen.append(("openai" in sys.modules, "keyring" in sys.modules))
            window = next(w for w in app.topLevelWidgets() if w.objectName() == "mainWindow")
            QTest.keyClicks(window.composer, "hel")  # typing starts loading it
            deadline = time.monotonic() + 30
            while "openai" not in sys.modules and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            seen.append("openai" in sys.modules)
            window.quit_app()

        spy = FirstPaint()
        app.installEventFilter(spy)
        code = run_gui(LaunchOptions(resolve_paths({str(tmp_path / "p")!r})))
        print(seen, code)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[(False, False, False), (False, False), True] 0"
    assert fake_server.requests == []  # no network at start-up
