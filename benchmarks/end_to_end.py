"""The whole path, loopback SSE server -> AsyncOpenAI on qasync -> ChatController (and its
ChatSession) -> ChatPresenter -> TranscriptView, as the window sends a message, against the raw
SDK loop alone over the same server, in the same run.

Figures: tokens_per_s (the app), sdk_tokens_per_s (the SDK loop alone), ratio (app / SDK).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run(quick: bool = False) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    from desktop_chat.core.events import StreamEvent, TextDelta
    from desktop_chat.core.providers import ChatRequest, Endpoint
    from desktop_chat.core.services import Services
    from desktop_chat.core.settings import ProviderConfig, Settings
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.ui.chat_presenter import ChatPresenter
    from desktop_chat.ui.composer import Composer
    from desktop_chat.ui.transcript import TranscriptView
    from tests.fakes.openai_server import FakeOpenAI, Reply, text_stream

    tokens = 2_000 if quick else 20_000
    repeats = 1 if quick else 3
    pieces = [f"word{i % 97} " if i % 40 else "\n\n" for i in range(tokens)]
    app = QApplication.instance() or QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    server = FakeOpenAI().start()
    view = TranscriptView()
    view.resize(900, 700)
    view.show()
    store = HistoryStore(Path(tempfile.mkdtemp()) / "h.db")
    provider = ProviderConfig("Bench", server.base_url, "m", needs_key=False)
    services = Services.build(
        Settings(providers=(provider,), default_provider="Bench", first_token_timeout=60, idle_timeout=60), store
    )
    clients = services.clients
    endpoint = Endpoint(server.base_url, None)
    presenter = ChatPresenter(services, view, Composer())
    shown = presenter.stream_event
    count = 0

    def counted(event: StreamEvent) -> None:
        nonlocal count
        count += isinstance(event, TextDelta)
        shown(event)

    presenter.stream_event = counted  # type: ignore[method-assign]  # (counting, then what the window does)

    async def sdk_alone() -> float:
        server.queue(Reply(body=text_stream(pieces)))
        started = time.perf_counter()
        received = 0
        async for event in clients.stream_reply(endpoint, ChatRequest("m", [{"role": "user", "content": "go"}])):
            received += isinstance(event, TextDelta)
        return received / (time.perf_counter() - started)

    async def through_app() -> float:
        nonlocal count
        server.queue(Reply(body=text_stream(pieces)))
        presenter.chat.new_chat()
        count = 0
        started = time.perf_counter()
        task = presenter.chat.send("go")
        assert task is not None
        await task
        return count / (time.perf_counter() - started)

    async def measure() -> tuple[list[float], list[float]]:
        await sdk_alone()  # warm up: imports, the connection
        alone, app_side = [], []
        for _ in range(repeats):
            alone.append(await sdk_alone())
            app_side.append(await through_app())
        await services.aclose()
        return alone, app_side

    try:
        with loop:
            alone, app_side = loop.run_until_complete(measure())
    finally:
        server.stop()
        store.close()
    sdk, ours = statistics.median(alone), statistics.median(app_side)
    return {
        "tokens": tokens,
        "tokens_per_s": round(ours),
        "sdk_tokens_per_s": round(sdk),
        "ratio": round(ours / sdk, 3),
    }
