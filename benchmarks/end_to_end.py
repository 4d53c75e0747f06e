"""The whole path, loopback SSE server -> AsyncOpenAI on qasync -> ChatSession -> ChatView,
against the raw SDK loop alone over the same server, in the same run.

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

    from desktop_chat.core.conversation import STREAMING, Message
    from desktop_chat.core.providers import ChatRequest, Endpoint, ProviderClients, TextDelta
    from desktop_chat.core.session import ChatSession
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.ui.chat_view import ChatView, MessageItem
    from tests.fakes.openai_server import FakeOpenAI, Reply, text_stream

    tokens = 2_000 if quick else 20_000
    repeats = 1 if quick else 3
    pieces = [f"word{i % 97} " if i % 40 else "\n\n" for i in range(tokens)]
    app = QApplication.instance() or QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    server = FakeOpenAI().start()
    view = ChatView()
    view.resize(900, 700)
    view.show()
    store = HistoryStore(Path(tempfile.mkdtemp()) / "h.db")
    clients = ProviderClients()
    endpoint = Endpoint(server.base_url, None)
    session = ChatSession(store, clients, lambda name, model: endpoint, 60, 60)

    async def sdk_alone() -> float:
        server.queue(Reply(body=text_stream(pieces)))
        started = time.perf_counter()
        count = 0
        async for event in clients.stream_reply(endpoint, ChatRequest("m", [{"role": "user", "content": "go"}])):
            count += isinstance(event, TextDelta)
        return count / (time.perf_counter() - started)

    async def through_app() -> float:
        server.queue(Reply(body=text_stream(pieces)))
        conversation = store.create_conversation(provider="p", model="m")
        pending = session.prepare_send(conversation, "go")
        view.show_messages([])
        view.begin_reply(Message(pending.reply.id, conversation.id, None, "assistant", "", STREAMING, model="m"))
        count = 0

        def on_event(event: object) -> None:
            nonlocal count
            if isinstance(event, TextDelta):
                count += 1
                view.append_delta(event.text)

        started = time.perf_counter()
        outcome = await session.stream(pending, on_event)
        view.end_reply(MessageItem(outcome.message))
        return count / (time.perf_counter() - started)

    async def measure() -> tuple[list[float], list[float]]:
        await sdk_alone()  # warm up: imports, the connection
        alone, app_side = [], []
        for _ in range(repeats):
            alone.append(await sdk_alone())
            app_side.append(await through_app())
        await clients.aclose()
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
