"""The app on the desktop beyond its window: the quick-ask window and its global shortcut,
the tray icon, and commands from later launches (single instance)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from desktop_chat import APP_NAME
from desktop_chat.core.services import Services
from desktop_chat.core.settings import Settings
from desktop_chat.platform.hotkeys import HotkeyBackend, HotkeyError, parse_chord, platform_backend

from .actions import Command
from .main_window import MainWindow
from .quick_ask import QuickAsk


class DesktopIntegration:
    """Made once, after the main window's first paint; kept hidden until needed."""

    def __init__(self, app: QApplication, window: MainWindow, services: Services) -> None:
        self.window = window
        self.services = services
        self.quick_ask = QuickAsk(services, window.continue_from_quick_ask)
        window.key_lookup.answered.connect(self.quick_ask.chat.keys_answered)
        window.closed.connect(self.quick_ask.close)
        window.commands.bind(Command.SHOW_WINDOW, self.show_main)
        window.commands.bind(Command.QUICK_ASK, self.quick_ask.toggle)
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app.windowIcon(), app)
            self.tray.setToolTip(APP_NAME)
            self._menu = window.commands.menu("tray")
            self.tray.setContextMenu(self._menu)
            self.tray.activated.connect(
                lambda reason: self.show_main() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
            )
            self.tray.show()
        window.tray = self.tray
        self.backend: HotkeyBackend | None = None
        self.hotkey_problem: str | None = None
        try:
            self.backend = platform_backend()
        except HotkeyError as exc:
            self.hotkey_problem = str(exc)
        self.bind(services.settings.current.quick_ask_shortcut)
        services.settings.subscribe(self._settings_changed)

    def _settings_changed(self, old: Settings, new: Settings) -> None:
        if old.quick_ask_shortcut != new.quick_ask_shortcut:
            self.bind(new.quick_ask_shortcut)

    def bind(self, text: str) -> None:
        """(Re)register the global shortcut; say once, plainly, when that cannot be done."""
        if self.backend is not None:
            try:
                self.backend.register(parse_chord(text), self.quick_ask.toggle)
                self.hotkey_problem = None
            except HotkeyError as exc:
                self.hotkey_problem = f"The quick-ask shortcut {text} is not available: {exc}"
        state = self.services.state
        if self.hotkey_problem and not state.current.shortcut_notice_shown:
            self.window.show_notice(self.hotkey_problem)
            state.update(replace(state.current, shortcut_notice_shown=True))

    def show_main(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def command(self, command: str) -> None:
        """A later launch's request: "quick-ask", or (anything else) show the window."""
        if command == "quick-ask":
            self.quick_ask.toggle()
        else:
            self.show_main()

    async def wait(self) -> None:
        await self.quick_ask.chat.wait()

    def close(self) -> None:
        if self.backend is not None:
            self.backend.unregister()
        if self.tray is not None:
            self.tray.hide()
        self.quick_ask.close()
