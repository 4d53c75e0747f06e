"""The composition root: builds QApplication and the qasync loop, opens the services once,
and wires them into the window and the desktop integration."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from . import APP_NAME, __version__
from .core.paths import AppPaths
from .core.services import HistoryUse, Services, open_services
from .core.settings import OPENAI_NAME
from .core.store import LeftUntouched

if TYPE_CHECKING:
    from .ui.desktop import DesktopIntegration

FIRST_RUN_INTRO = (
    "Welcome to Desktop Chat. Enter your OpenAI API key (kept in the system keyring), or add another "
    "provider such as Ollama or LM Studio. You can do this later under File → Providers."
)


@dataclass
class LaunchOptions:
    paths: AppPaths
    provider: str | None = None
    model: str | None = None
    quick_ask: bool = False


def _update_progress() -> Callable[[str, float], None]:
    """A progress window for a history update (it appears only if one runs): a schema
    change on a large history takes seconds, and the window cannot show before it ends."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QProgressDialog

    shown: list[QProgressDialog] = []

    def told(what: str, fraction: float) -> None:
        if not shown:
            dialog = QProgressDialog(what, "", 0, 1000)
            dialog.setWindowTitle(APP_NAME)
            dialog.setCancelButton(None)  # half an update is worse than waiting
            dialog.setMinimumDuration(0)
            dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
            shown.append(dialog)
        dialog = shown[0]
        dialog.setLabelText(what + "…")
        dialog.setValue(int(fraction * 1000))
        QCoreApplication.processEvents()
        if fraction >= 1.0:
            dialog.close()

    return told


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
        services = open_services(options.paths, HistoryUse.WINDOW, progress=_update_progress())
    except LeftUntouched as exc:
        # A newer app's history: refuse it, untouched, rather than risk it.
        QMessageBox.critical(None, APP_NAME, str(exc))
        return 1
    services.directory.preferred = (options.provider, options.model)

    from .ui.main_window import MainWindow

    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(services)
    apply_theme(app, window)
    holder: list[DesktopIntegration] = []

    def integrate() -> DesktopIntegration:
        # The quick-ask window, the X key grab and the tray: made once, kept hidden.
        from .ui.desktop import DesktopIntegration

        if not holder:
            holder.append(DesktopIntegration(app, window, services))
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

    openai_provider = services.settings.current.provider(OPENAI_NAME)

    # With the tiny local model there, a fresh start just works; keys can come later.
    def first_run() -> None:
        window.key_lookup.settle()
        if openai_provider and not services.keys.get(openai_provider):
            window.edit_providers(intro=FIRST_RUN_INTRO)
            services.state.update(replace(services.state.current, first_run_done=True))

    if not services.state.current.first_run_done and openai_provider and not services.directory.has_local:
        window.first_painted.connect(lambda: QTimer.singleShot(300, first_run))

    def freeze_startup_objects() -> None:
        # Objects made at start-up live for the whole run: keep the collector off them,
        # so its full passes cannot pause a stream.
        gc.collect()
        gc.freeze()

    def after_first_paint() -> None:
        QTimer.singleShot(400, window.picker.find_local_servers)
        QTimer.singleShot(300, freeze_startup_objects)

    window.first_painted.connect(after_first_paint)

    async def close_down(services: Services) -> None:
        # The reply being streamed is saved (as stopped) before connections close,
        # while the event loop still runs: only then does the app quit.
        await window.wait_for_tasks()
        if holder:
            await holder[0].wait()
        await services.aclose()
        app.quit()

    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(lambda: asyncio.ensure_future(close_down(services)))
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
    services.close()
    return 0
