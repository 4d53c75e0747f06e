"""GUI fixtures: a real MainWindow, offscreen, on a qasync loop, talking to the fake server."""

from __future__ import annotations

import asyncio

import pytest

from desktop_chat.core.services import Services
from desktop_chat.core.settings import ProviderConfig, Settings
from desktop_chat.core.store import HistoryStore


@pytest.fixture(scope="session")
def _session_loop(qapp):
    from qasync import QEventLoop

    # "already running": Qt's own loop (spun by qtbot.waitUntil) runs asyncio's callbacks.
    loop = QEventLoop(qapp, already_running=True)
    yield loop
    # Name lookups ran on the loop's worker threads; end them before Qt goes away.
    executor = getattr(loop, "_QEventLoop__default_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)


@pytest.fixture
def qloop(_session_loop):
    # Running only for this test, so plain asyncio.run() works in the tests after it.
    asyncio.events._set_running_loop(_session_loop)
    asyncio.set_event_loop(_session_loop)
    yield _session_loop
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


def make_settings(base_url: str, **extra) -> Settings:
    provider = ProviderConfig("Test server", base_url, "test-model", needs_key=False)
    return Settings(providers=(provider,), default_provider="Test server", **extra)


def open_window(qtbot, services: Services):
    """A MainWindow on these services, shown and active, that never probes the machine's
    real Ollama/LM Studio ports."""
    from desktop_chat.ui.main_window import MainWindow

    services.directory.discovery_targets = ()
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    return window


def close_window(qtbot, window) -> None:
    window.shutdown()
    qtbot.waitUntil(lambda: window.idle, timeout=5000)
    closing = asyncio.ensure_future(window.services.aclose())
    qtbot.waitUntil(closing.done, timeout=5000)
    window.store.close()


@pytest.fixture
def window_factory(qtbot, qloop, tmp_path):
    made = []

    def make(settings: Settings, db_name: str = "history.db", **services):
        store = HistoryStore(tmp_path / db_name)
        window = open_window(qtbot, Services.build(settings, store, **services))
        # Window shortcuts (Ctrl+K, Ctrl+N…) act only in the active window, as on a desktop.
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=3000)
        # The keyring is asked after the first paint; tests start from its answer.
        qtbot.waitUntil(lambda: window.key_lookup.done, timeout=5000)
        made.append(window)
        return window

    yield make
    for window in made:
        close_window(qtbot, window)


@pytest.fixture
def window(window_factory, fake_server):
    return window_factory(make_settings(fake_server.base_url, first_token_timeout=5.0, idle_timeout=2.0))
