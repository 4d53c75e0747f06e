"""The composition root: builds QApplication and the qasync loop, wires core into ui."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import threading
from dataclasses import dataclass, replace

from . import APP_NAME, __version__
from .core.paths import AppPaths
from .core.profile import close_history, open_profile
from .core.providers import ProviderClients
from .core.secrets import KeyStore
from .core.settings import OPENAI_NAME, Settings, save_settings
from .core.store import StoreError


@dataclass
class LaunchOptions:
    paths: AppPaths
    provider: str | None = None
    model: str | None = None


def _warm_up_openai() -> None:
    # The SDK takes most of a second to import; do it off the GUI thread after the
    # first paint so the first Send does not pay for it.
    try:
        import openai  # noqa: F401
    except Exception:
        pass


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
    window = MainWindow(settings, store, keys, clients, persist, notices, key_file=options.paths.key_file)
    apply_theme(app, window)
    if options.provider or options.model:
        window.choose_for_new_chats(options.provider, options.model)
    window.show()

    openai_provider = settings.provider(OPENAI_NAME)
    if not settings.first_run_done and openai_provider and not keys.get(openai_provider):
        def first_run() -> None:
            window.edit_providers(
                intro="Welcome to Desktop Chat. Enter your OpenAI API key (kept in the system keyring), "
                "or add another provider such as Ollama or LM Studio. You can do this later under File → Providers."
            )
            window.apply_settings(replace(window.settings, first_run_done=True))

        QTimer.singleShot(300, first_run)

    QTimer.singleShot(200, lambda: threading.Thread(target=_warm_up_openai, daemon=True).start())
    # Objects made at start-up live for the whole run: keep the collector off them,
    # so its full passes cannot pause a stream.
    gc.collect()
    gc.freeze()

    async def close_down() -> None:
        # The reply being streamed is saved (as stopped) before connections close,
        # while the event loop still runs: only then does the app quit.
        await window.wait_for_tasks()
        await clients.aclose()
        app.quit()

    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(lambda: asyncio.ensure_future(close_down()))
    # Ctrl+C in the terminal closes the window like Ctrl+Q does.
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.close))
    # Python runs signal handlers only when it gets control: give it a turn 4 times a second.
    wake = QTimer(interval=250)
    wake.timeout.connect(lambda: None)
    wake.start()
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    close_history(options.paths, store)
    return 0
