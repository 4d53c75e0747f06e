"""The layers' rules: core never imports Qt; the PySide6 refcount trap stays fixed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_core_imports_no_qt_and_no_openai_at_import_time():
    # Every module of core, found by walking the package: a new one cannot slip past.
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import desktop_chat.core as core
        names = [m.name for m in pkgutil.walk_packages(core.__path__, "desktop_chat.core.")]
        for name in names:
            importlib.import_module(name)
        heavy = ("PySide6", "shiboken6", "openai", "httpx2", "mcp")
        print(len(names), sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, loaded = out.stdout.strip().split(" ", 1)
    core = Path(__file__).parents[2] / "desktop_chat" / "core"
    # (A sub-package counts by its __init__.py, as walk_packages names it.)
    files = [p for p in core.rglob("*.py") if p != core / "__init__.py"]
    assert int(count) == len(files) and loaded == "[]"


def test_pyside_none_refcount_is_not_corrupted():
    # PySide6 6.12.0 on Python 3.11 dropped None's refcount on every void call;
    # 1,000 insertText calls then crashed with "none_dealloc". pyproject excludes it.
    code = textwrap.dedent(
        """
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        from PySide6.QtGui import QTextDocument, QTextCursor
        app = QApplication([])
        doc = QTextDocument()
        cursor = QTextCursor(doc)
        before = sys.getrefcount(None)
        for _ in range(5000):
            cursor.insertText("x")
        after = sys.getrefcount(None)
        print(after - before)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) > -100
