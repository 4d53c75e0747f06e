"""The composition root: builds QApplication and the qasync loop, wires core into ui."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from . import APP_NAME, __version__
from .core.paths import AppPaths
from .core.profile import close_history, open_profile
from .core.providers import ProviderClients
from .core.secrets import KeyStore
from .core.settings import OPENAI_NAME, Settings, save_settings
from .core.store import StoreError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .ui.main_window import MainWindow


@dataclass
class LaunchOptions:
    paths: AppPaths
    provider: str | None = None
    model: str | None = None
    quick_ask: bool = False


class DesktopIntegration:
    """The quick-ask window, its global shortcut, the tray icon and commands from other launches."""

    def __init__(self, app: QApplication, window: MainWindow, options: LaunchOptions) -> None:
        from PySide6.QtGui import QAction
        from PySide6.QtWidgets import QMenu, QSystemTrayIcon

        from .platform.hotkeys import HotkeyError, parse_chord, platform_backend
        from .ui.quick_ask import QuickAskController, QuickAskWindow

        self.window = window
        main = window
        self.quick_window = QuickAskWindow()
        self.quick_ask = QuickAskController(
            self.quick_window,
            main.store,
            main.session,
            choice=main.choice_for_new_chats,
            open_in_main=main.continue_from_quick_ask,
            history_changed=main.refresh_conversations,
        )
        main.quick_ask = self.quick_ask
        self.tray = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app.windowIcon(), app)
            self.tray.setToolTip(APP_NAME)
            menu = QMenu()
            for text, slot in (("Open", self.show_main), ("Quick ask", self.quick_ask.toggle), ("Quit", main.quit_app)):
                action = QAction(text, menu)
                action.triggered.connect(slot)
                menu.addAction(action)
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(
                lambda reason: self.show_main() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
            )
            self.tray.show()
            self._menu = menu
        main.tray = self.tray
        self.backend = None
        self.hotkey_problem: str | None = None
        self._errors = (HotkeyError,)
        self._parse = parse_chord
        try:
            self.backend = platform_backend()
        except HotkeyError as exc:
            self.hotkey_problem = str(exc)
        self.bind(main.settings.quick_ask_shortcut)
        main.shortcut_changed = self.bind

    def bind(self, text: str) -> None:
        """(Re)register the global shortcut; say once, plainly, when that cannot be done."""
        main = self.window
        if self.backend is not None:
            try:
                self.backend.register(self._parse(text), self.quick_ask.toggle)
                self.hotkey_problem = None
            except self._errors as exc:
                self.hotkey_problem = f"The quick-ask shortcut {text} is not available: {exc}"
        if self.hotkey_problem and not main.settings.shortcut_notice_shown:
            main.show_notice(self.hotkey_problem)
            main.apply_settings(replace(main.settings, shortcut_notice_shown=True))

    def show_main(self) -> None:
        main = self.window
        main.showNormal()
        main.raise_()
        main.activateWindow()

    def command(self, command: str) -> None:
        if command == "quick-ask":
            self.quick_ask.toggle()
        else:
            self.show_main()

    def close(self) -> None:
        if self.backend is not None:
            self.backend.unregister()
        if self.tray is not None:
            self.tray.hide()
        self.quick_window.close()


def run_gui(options: LaunchOptions) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox
    from qasync import QEventLoop

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("desktop-chat")
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("desktop-chat")
    app.setStyle("Fusion")
    from .ui.theme import apply_theme, icon_path

    icon = icon_path()
    if icon:
        app.setWindowIcon(QIcon(str(icon)))

    from .platform.single_instance import InstanceServer, send_to_running, server_name

    # One copy per profile: a second launch hands its request over and leaves.
    instance_name = server_name(str(options.paths.data_dir))
    if send_to_running(instance_name, "quick-ask" if options.quick_ask else "show"):
        return 0
    instance = InstanceServer(instance_name)
    instance.listen()

    try:
        profile = open_profile(options.paths)
    except StoreError as exc:
        # A newer app's history: refuse it, untouched, rather than risk it.
        QMessageBox.critical(None, APP_NAME, str(exc))
        return 1
    settings, store, notices = profile.settings, profile.store, profile.notices

    keys = KeyStore(key_file=options.paths.key_file if settings.key_storage == "file" else None)
    clients = ProviderClients()

    def persist(new: Settings) -> None:
        save_settings(options.paths.settings_file, new)

    from .ui.main_window import MainWindow

    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    from .core.directory import ProviderDirectory

    directory = ProviderDirectory.create(settings, keys)
    window = MainWindow(
        settings, store, keys, clients, persist, notices, key_file=options.paths.key_file, directory=directory
    )
    apply_theme(app, window)
    if options.provider or options.model:
        window.choose_for_new_chats(options.provider, options.model)
    holder: list[DesktopIntegration] = []

    def integrate() -> DesktopIntegration:
        # The quick-ask window, the X key grab and the tray: made once, kept hidden.
        if not holder:
            holder.append(DesktopIntegration(app, window, options))
            instance.received.connect(holder[0].command)
        return holder[0]

    if options.quick_ask:
        desktop = integrate()
        if desktop.tray is None:
            window.show()
        desktop.quick_ask.open()
        window.start_deferred_work()  # the main window may stay hidden in the tray
    else:
        window.show()
        # Right after the first paint, not before it.
        window.first_painted.connect(integrate)

    openai_provider = settings.provider(OPENAI_NAME)

    # With the tiny local model there, a fresh start just works; keys can come later.
    def first_run() -> None:
        window.settle_keys()
        if openai_provider and not keys.get(openai_provider):
            window.edit_providers(
                intro="Welcome to Desktop Chat. Enter your OpenAI API key (kept in the system keyring), "
                "or add another provider such as Ollama or LM Studio. You can do this later under File → Providers."
            )
            window.apply_settings(replace(window.settings, first_run_done=True))

    if not settings.first_run_done and openai_provider and not directory.has_local:
        window.first_painted.connect(lambda: QTimer.singleShot(300, first_run))

    def freeze_startup_objects() -> None:
        # Objects made at start-up live for the whole run: keep the collector off them,
        # so its full passes cannot pause a stream.
        gc.collect()
        gc.freeze()

    def after_first_paint() -> None:
        QTimer.singleShot(400, window.find_local_servers)
        QTimer.singleShot(300, freeze_startup_objects)

    window.first_painted.connect(after_first_paint)

    async def close_down() -> None:
        # The reply being streamed is saved (as stopped) before connections close,
        # while the event loop still runs: only then does the app quit.
        await window.wait_for_tasks()
        await clients.aclose()
        directory.shutdown()  # the local model server goes with the app
        app.quit()

    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(lambda: asyncio.ensure_future(close_down()))
    # Ctrl+C in the terminal quits like Ctrl+Q does.
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.quit_app))
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.quit_app))
    # Python runs signal handlers only when it gets control: give it a turn 4 times a second.
    wake = QTimer(interval=250)
    wake.timeout.connect(lambda: None)
    wake.start()
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    if holder:
        holder[0].close()
    instance.close()
    close_history(options.paths, store)
    return 0
