"""The settings that change how the app looks and behaves, put in effect at start and on
each change: colours, text size, reasoning folded or shown, the send key, starting at login."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from desktop_chat.core.settings import Settings, SettingsStore
from desktop_chat.platform.autostart import set_autostart

from .composer import Composer
from .theme import apply_scheme
from .transcript import TranscriptView


class Preferences:
    def __init__(self, settings: SettingsStore) -> None:
        self.settings = settings
        # The main window's transcript and message box. (Quick ask keeps Enter to send:
        # there Ctrl+Enter carries the question on in the main window.)
        self._followers: list[tuple[TranscriptView, Composer]] = []
        settings.subscribe(self._changed)
        app = QApplication.instance()
        if isinstance(app, QApplication) and settings.current.theme != "system":
            apply_scheme(app, settings.current.theme)

    def follow(self, view: TranscriptView, composer: Composer) -> None:
        """Keep this transcript's and message box's text size and send key as the settings say."""
        self._followers.append((view, composer))
        self._apply_text(view, composer, self.settings.current)

    def _changed(self, old: Settings, new: Settings) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication) and old.theme != new.theme:
            apply_scheme(app, new.theme)  # a palette change reaches every window, which re-renders
        for view, composer in self._followers:
            self._apply_text(view, composer, new)
        if old.start_at_login != new.start_at_login:
            set_autostart(new.start_at_login, "desktop-chat")

    @staticmethod
    def _apply_text(view: TranscriptView, composer: Composer, settings: Settings) -> None:
        for widget in (view, composer):
            font = QFont(widget.font())
            font.setPointSizeF(settings.font_size or QApplication.font().pointSizeF())
            widget.setFont(font)
        view.set_text_font(view.font())
        view.set_fold_reasoning(settings.reasoning == "fold")
        composer.set_send_key(settings.send_key)
