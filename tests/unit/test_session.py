"""ChatSession: messages saved as they stream, stops and failures keep what arrived, versions."""

from __future__ import annotations

import asyncio

import pytest

from desktop_chat.core import session as session_module
from desktop_chat.core.conversation import COMPLETE, FAILED, STOPPED, STREAMING
from desktop_chat.core.events import FailureKind, TextDelta
from desktop_chat.core.services import Services
from desktop_chat.core.settings import Settings
from desktop_chat.core.store import HistoryStore
from tests.fakes.chat_services import PROVIDER, services_on
from tests.fakes.openai_server import Reply, text_stream


@pytest.fixture
def setup(tmp_path, fake_server):
    services = services_on(fake_server.base_url, tmp_path / "h.db", first_token_timeout=5.0, idle_timeout=2.0)
    store = services.store
    conv = store.create_conversation(provider=PROVIDER, model="test-model", system_prompt="Be brief.", temperature=0.2)
    yield store, services.session, conv
    store.close()


def run(coro):
    return asyncio.run(coro)


def test_send_stores_both_messages_and_sends_the_branch(setup, fake_server):
    store, chat, conv = setup
    fake_server.queue(Reply(body=text_stream(["Hi ", "there"])))
    pending = chat.prepare_send(conv, "Hello model")
    assert store.message(pending.reply.id).status == STREAMING
    outcome = run(chat.stream(pending))
    assert outcome.failure is None
    saved = store.message(pending.reply.id)
    assert (saved.content, saved.status, saved.prompt_tokens, saved.completion_tokens) == ("Hi there", COMPLETE, 12, 34)
    assert store.conversation(conv.id).title == "Hello model"
    sent = fake_server.requests[-1]
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello model"}]
    assert sent["temperature"] == 0.2


def test_partial_reply_is_saved_while_it_streams(setup, fake_server, monkeypatch):
    store, chat, conv = setup
    monkeypatch.setattr(session_module, "SAVE_INTERVAL_S", 0.05)
    body = text_stream(["one ", "two ", "three"], delay=0.2, finish=None, usage=False, done=False)
    fake_server.queue(Reply(body=body, end="hang"))
    pending = chat.prepare_send(conv, "q")
    seen_in_db = []

    async def watch_and_stop():
        task = asyncio.ensure_future(chat.stream(pending))
        for _ in range(100):
            await asyncio.sleep(0.05)
            seen_in_db.append(store.message(pending.reply.id).content)
            if "three" in seen_in_db[-1]:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(watch_and_stop())
    # Text reached the file while the reply was still streaming, before Stop.
    assert "one two " in seen_in_db
    saved = store.message(pending.reply.id)
    assert saved.status == STOPPED and saved.content == "one two three"


def test_failure_keeps_partial_text(setup, fake_server):
    store, chat, conv = setup
    fake_server.queue(Reply(body=text_stream(["kept"], finish=None, usage=False, done=False), end="reset"))
    pending = chat.prepare_send(conv, "q")
    outcome = run(chat.stream(pending))
    saved = store.message(pending.reply.id)
    assert outcome.failure.kind == FailureKind.CUT
    assert (saved.content, saved.status) == ("kept", FAILED) and "cut" in saved.error


def test_regenerate_and_edit_make_versions(setup, fake_server):
    store, chat, conv = setup

    async def scenario():
        first = chat.prepare_send(conv, "q1")
        await chat.stream(first)
        again = chat.prepare_regenerate(conv, first.reply.id)
        await chat.stream(again)
        tree = store.tree(conv.id)
        assert [m.id for m in tree.siblings(first.reply.id)] == [first.reply.id, again.reply.id]
        await chat.stream(chat.prepare_send(conv, "q2"))
        # The follow-up was asked with the regenerated reply in its history.
        assert [m["content"] for m in fake_server.requests[-1]["messages"][1:]] == ["q1", "You said: q1", "q2"]
        edited = chat.prepare_edit(conv, first.reply.parent_id, "q1 edited")
        await chat.stream(edited)
        assert [m["content"] for m in fake_server.requests[-1]["messages"][1:]] == ["q1 edited"]
        assert len(store.tree(conv.id).siblings(edited.reply.parent_id)) == 2
        await chat.directory.clients.aclose()

    run(scenario())


def test_missing_model_or_endpoint_is_a_failure_not_a_crash(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    chat = Services.build(Settings(), store).session  # OpenAI, and no key anywhere
    conv = store.create_conversation(provider="OpenAI", model="gpt")
    events = []
    outcome = run(chat.stream(chat.prepare_send(conv, "q"), events.append))
    assert outcome.failure.kind == FailureKind.SETUP
    assert outcome.failure.message.startswith("No API key for OpenAI.")
    assert store.message(outcome.message.id).status == FAILED
    assert not any(isinstance(e, TextDelta) for e in events)
    store.close()


def test_local_preflight_asks_the_tokenizer_only_when_the_text_might_not_fit(tmp_path):
    from desktop_chat.core.directory import REPLY_ROOM, ProviderDirectory
    from desktop_chat.core.local_models import LOCAL_NAME, TINY_MODEL_ID, LocalServer
    from desktop_chat.core.providers import ChatRequest
    from desktop_chat.core.secrets import KeyStore
    from desktop_chat.core.settings import SettingsStore

    class CountingServer(LocalServer):
        """The real class, its tokenizer answer given here (no model process in unit tests)."""

        asked: list[str] = []

        async def count_tokens(self, text: str) -> int | None:
            self.asked.append(text)
            return len(text.split()) * 2

    server = CountingServer(tmp_path / "tiny.gguf")
    directory = ProviderDirectory(SettingsStore(), KeyStore(), local=server, tiny=tmp_path / "tiny.gguf")
    limit = server.context

    def request(text: str) -> ChatRequest:
        return ChatRequest(TINY_MODEL_ID, [{"role": "user", "content": text}])

    # Fits even at one token a byte: sent without a round trip first.
    assert asyncio.run(directory.preflight(LOCAL_NAME, request("short question"))) is None
    assert server.asked == []
    # Might not fit: the tokenizer decides; here it says it fits...
    fits = "word " * ((limit - REPLY_ROOM) // 5)
    assert asyncio.run(directory.preflight(LOCAL_NAME, request(fits))) is None
    # ...and here that it does not.
    refused = asyncio.run(directory.preflight(LOCAL_NAME, request("word " * limit)))
    assert refused is not None and refused.kind == FailureKind.CONTEXT
    assert len(server.asked) == 2
