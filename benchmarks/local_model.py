"""The built-in local model through the app, against the llama.cpp server alone.

The same request at temperature 0, alternately (a) with a bare streaming HTTP client
straight at the server and (b) through the app's path (ChatSession with the provider
directory's endpoint, context check and system prompt -> ProviderClients -> AsyncOpenAI
-> store). Figures: ttft_ratio (app / server; 1.0 = no cost),
tokens_per_s_ratio (app / server): medians of the ratios of 21 back-to-back pairs;
and both sides' medians.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

PROMPT = "List ten animals, one per line."


async def _server_alone(client, base_url: str, model: str) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": PROMPT},
        ],
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    first = None
    chunks = 0
    async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if delta:
                chunks += 1
                first = first or time.perf_counter()
    end = time.perf_counter()
    return (first or end) - started, chunks / max(end - (first or end), 1e-9), chunks


async def _through_app(session, store, conversation) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    from desktop_chat.core.providers import TextDelta

    started = time.perf_counter()
    marks: list[float] = []

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta):
            marks.append(time.perf_counter())

    await session.stream(session.prepare_send(conversation, PROMPT), on_event)
    end = time.perf_counter()
    first = marks[0] if marks else end
    return first - started, len(marks) / max(end - first, 1e-9), len(marks)


def run(quick: bool = False) -> dict[str, object]:
    from desktop_chat.core.local_models import TINY_MODEL_ID, LocalServer, bundled_model, runtime_available

    if not runtime_available() or bundled_model() is None:
        return {"skipped": "needs pip install '.[local]'"}
    from desktop_chat.core.directory import ProviderDirectory
    from desktop_chat.core.local_models import LOCAL_NAME
    from desktop_chat.core.secrets import KeyStore
    from desktop_chat.core.services import Services
    from desktop_chat.core.settings import Settings, SettingsStore
    from desktop_chat.core.store import HistoryStore

    # The first token comes in ~16 ms here, so 1 ms of noise is 6%: many repeats.
    repeats = 1 if quick else 21
    server = LocalServer(bundled_model())

    async def measure() -> dict[str, object]:
        base = await server.ensure_running()
        folder = tempfile.mkdtemp()
        store = HistoryStore(Path(folder) / "h.db")
        # The window's own path: the directory picks the endpoint, checks the context
        # (preflight) and adds the tiny model's system prompt.
        settings = SettingsStore(Settings(first_token_timeout=120, idle_timeout=60))
        directory = ProviderDirectory(settings, KeyStore(), local=server, tiny=bundled_model())
        services = Services.build(settings, store, directory=directory)
        session, clients = services.session, services.clients
        import httpx2

        bare = httpx2.AsyncClient(timeout=120)  # kept open, as the app keeps its connection
        await _server_alone(bare, base, TINY_MODEL_ID)  # warm up: the model's first run
        alone, app = [], []
        for repeat in range(repeats):
            conversation = store.create_conversation(provider=LOCAL_NAME, model=TINY_MODEL_ID, temperature=0.0)
            # Alternate who goes first: llama.cpp reuses the cached prompt of the run before.
            if repeat % 2 == 0:
                alone.append(await _server_alone(bare, base, TINY_MODEL_ID))
                app.append(await _through_app(session, store, conversation))
            else:
                app.append(await _through_app(session, store, conversation))
                alone.append(await _server_alone(bare, base, TINY_MODEL_ID))
        await bare.aclose()
        await clients.aclose()
        store.close()
        ttft_alone = statistics.median(a[0] for a in alone)
        ttft_app = statistics.median(a[0] for a in app)
        tps_alone = statistics.median(a[1] for a in alone)
        tps_app = statistics.median(a[1] for a in app)
        # Each repeat is a pair run back to back: the median of the pairs' ratios
        # leaves out the drift of a shared machine between repeats.
        return {
            "ttft_ratio": round(statistics.median(b[0] / a[0] for a, b in zip(alone, app, strict=True)), 3),
            "tokens_per_s_ratio": round(statistics.median(b[1] / a[1] for a, b in zip(alone, app, strict=True)), 3),
            "server_ttft_ms": round(ttft_alone * 1000, 1),
            "app_ttft_ms": round(ttft_app * 1000, 1),
            "server_tokens_per_s": round(tps_alone, 1),
            "app_tokens_per_s": round(tps_app, 1),
            "tokens": app[-1][2],
        }

    try:
        return asyncio.run(measure())
    finally:
        server.stop()
