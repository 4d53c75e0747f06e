"""Start-up: the first paint happens before the slow `openai` import, the keyring or any network use."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_first_paint_does_not_wait_for_openai(tmp_path, fake_server):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "settings.toml").write_text(
        f'first_run_done = true\ndefault_provider = "T"\n[[providers]]\nname = "T"\n'
        f'base_url = "{fake_server.base_url}"\ndefault_model = "m"\nneeds_key = false\n'
    )
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QEvent, QObject
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
                    app.quit()
                return False

        spy = FirstPaint()
        app.installEventFilter(spy)
        code = run_gui(LaunchOptions(resolve_paths({str(tmp_path / "p")!r})))
        print(seen, code)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[(False, False, False)] 0"
    assert fake_server.requests == []  # no network at start-up
