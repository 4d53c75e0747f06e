"""Light and dark: follow the system's colour scheme, and the app's look and icon."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

STYLE = """
#sidebar QListView { border: none; background: transparent; padding: 2px; }
#sidebar QListView::item { padding: 7px 8px; border-radius: 6px; }
#sidebar QListView::item:selected { background: palette(highlight); color: palette(highlighted-text); }
#conversationTitle { font-size: 15px; font-weight: 600; padding-left: 6px; }
#transcript { border: none; }
#composer { border: 1px solid palette(mid); border-radius: 8px; padding: 6px; }
#noticeBar { background: #fff4ce; color: #3b2e00; border-radius: 6px; }
#editBanner { color: palette(link); padding: 2px 6px; }
"""


def icon_path() -> Path | None:
    candidate = Path(__file__).resolve().parent.parent / "assets" / "desktop-chat.svg"
    return candidate if candidate.exists() else None


def is_dark(app: QGuiApplication) -> bool:
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app: QApplication, window: QWidget) -> None:
    """Style the app and keep the window's colours in step with the system scheme.

    The scheme hint is not reported on every platform; a palette change (which a
    theme switch also makes) is watched too.
    """
    app.setStyleSheet(STYLE)
    update = getattr(window, "update_colors", None)
    if update is not None:
        update()
        app.styleHints().colorSchemeChanged.connect(lambda *_: update())
