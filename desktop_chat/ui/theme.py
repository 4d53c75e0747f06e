"""Light and dark: follow the system's colour scheme, and the app's look and icon."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

STYLE = """
#sidebar QListView { border: none; background: palette(window); padding: 2px; }
#sidebar QListView::item { padding: 7px 8px; border-radius: 6px; }
#sidebar QListView::item:hover { background: rgba(127, 127, 127, 0.12); }
#sidebar QListView::item:selected { background: rgba(127, 127, 127, 0.28); color: palette(text); }
#sidebar QListView:focus { border: 2px solid palette(highlight); border-radius: 6px; }
#conversationTitle { font-size: 15px; font-weight: 600; padding-left: 6px; }
QDialogButtonBox { dialogbuttonbox-buttons-have-icons: 0; }
#transcript { border: none; }
#jumpToLatest { border: 1px solid palette(mid); border-radius: 18px; background: palette(base); }
#jumpToLatest:hover, #message QToolButton:hover, #codeBlock QToolButton:hover { background: palette(alternate-base); }
#message QToolButton, #codeBlock QToolButton { border: 2px solid transparent; border-radius: 6px; padding: 2px 4px; }
#message #retryButton, #message #continueButton {
    border: 1px solid palette(mid); border-radius: 6px; padding: 3px 10px; background: palette(base);
}
#codeBlock QScrollBar:horizontal { height: 8px; background: transparent; border: none; margin: 0 8px 2px 8px; }
#codeBlock QScrollBar::handle:horizontal { background: palette(mid); border-radius: 3px; min-width: 24px; }
#codeBlock QScrollBar::add-line:horizontal, #codeBlock QScrollBar::sub-line:horizontal { width: 0; border: none; }
#codeBlock QScrollBar::add-page:horizontal, #codeBlock QScrollBar::sub-page:horizontal { background: none; }
#message QToolButton:focus, #codeBlock QToolButton:focus, #jumpToLatest:focus, #findBar QToolButton:focus {
    border: 2px solid palette(highlight);
}
#composer { border: 1px solid palette(mid); border-radius: 8px; padding: 6px; background: palette(base); }
#composer:focus { border: 1px solid palette(highlight); }
#noticeBar { background: #fff4ce; color: #3b2e00; border-radius: 6px; }
#editBanner { color: palette(link); padding: 2px 6px; }
#sendBlocker { color: #b3261e; padding: 2px 6px; }
#modelNote { color: palette(placeholder-text); padding: 2px 6px; }
#quickAskFrame { border: 1px solid palette(mid); border-radius: 10px; background: palette(window); }
"""


def icon_path() -> Path | None:
    candidate = Path(__file__).resolve().parent.parent / "assets" / "desktop-chat.svg"
    return candidate if candidate.exists() else None


def is_dark(app: QGuiApplication) -> bool:
    # The palette is what is drawn; the scheme hint alone is not reported everywhere.
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


def dark_palette() -> QPalette:
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#202124",
        QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#17181a",
        QPalette.ColorRole.AlternateBase: "#26272b",
        QPalette.ColorRole.Text: "#e8eaed",
        QPalette.ColorRole.Button: "#2b2c30",
        QPalette.ColorRole.ButtonText: "#e8eaed",
        QPalette.ColorRole.Highlight: "#3b6fd6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#2b2c30",
        QPalette.ColorRole.ToolTipText: "#e8eaed",
        QPalette.ColorRole.PlaceholderText: "#9aa0a6",
        QPalette.ColorRole.Link: "#8ab4f8",
        QPalette.ColorRole.Mid: "#3c4043",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6f7378"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6f7378"))
    return palette


def apply_scheme(app: QApplication, theme: str) -> None:
    """system, light or dark. A palette change reaches every window, which re-renders."""
    hints = app.styleHints()
    if theme == "system":
        hints.unsetColorScheme()
        app.setPalette(app.style().standardPalette())
    elif theme == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)
        app.setPalette(dark_palette())
    else:
        hints.setColorScheme(Qt.ColorScheme.Light)
        app.setPalette(app.style().standardPalette())
    # Widgets styled by the style sheet keep the palette() colours it was resolved with:
    # set it again so that they take the new ones (else the transcript, the list and the
    # message box stay light in a dark window, or the other way round).
    sheet = app.styleSheet()
    if sheet:
        app.setStyleSheet("")
        app.setStyleSheet(sheet)
