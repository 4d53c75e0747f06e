"""ChatController, without Qt: what the window, quick ask and `ask` share, driven against the
loopback server as they drive it, with a listener that records what it is told."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from desktop_chat.core.chat import ChatListener
from desktop_chat.core.conversation import COMPLETE, STOPPED
from desktop_chat.core.directory import Choice
from desktop_chat.core.events import TextDelta
from tests.fakes.chat_services import PROVIDER, services_on
from tests.fakes.openai_server import Reply, text_stream


class Recorder(ChatListener):
    def __init__(self) -> None:
        self.said: list[tuple[str, object]] = []
        self.text = ""

    def show_branch(self, leaf_id):
        self.said.append(("show_branch", leaf_id))

    def append_message(self, message):
        self.said.append(("append_message", message.content))

    def reply_started(self, pending):
        self.said.append(("reply_started", pending.reply.id))

    def stream_event(self, event):
        if isinstance(event, TextDelta):
            self.text += event.text

    def reply_finished(self, pending, outcome):
        self.said.append(("reply_finished", outcome.failure.kind if outcome and outcome.failure else outcome is None))

    def conversation_changed(self):
        self.said.append(("conversation_changed", None))

    def busy_changed(self, busy):
        self.said.append(("busy", busy))

    def notice(self, text):
        self.said.append(("notice", text))

    def status(self, text):
        self.said.append(("status", text))

    def told(self, what):
        return [value for name, value in self.said if name == what]


@pytest.fixture
def chat(tmp_path, fake_server):
    services = services_on(fake_server.base_url, tmp_path / "h.db", first_token_timeout=5.0, idle_timeout=2.0)
    recorder = Recorder()
    controller = services.chat(recorder)
    yield controller, recorder, services
    services.store.close()


def run(chat, coro):
    """Run a scenario on a loop of its own, closing the connections it opened on that loop."""
    services = chat[2]

    async def scenario():
        try:
            return await coro
        finally:
            await services.clients.aclose()

    return asyncio.run(scenario())


def test_send_streams_stores_and_tells_the_listener(chat, fake_server):
    controller, heard, services = chat
    fake_server.queue(Reply(body=text_stream(["Hi ", "there"])))
    controller.new_chat()
    assert controller.choice == Choice(PROVIDER, "test-model") and heard.told("show_branch") == [None]

    async def send():
        task = controller.send("Hello")
        assert task is not None and controller.busy
        return await task

    outcome = run(chat, send())
    assert outcome.failure is None and heard.text == "Hi there" and not controller.busy
    assert heard.told("append_message") == ["Hello"] and heard.told("busy") == [True, False]
    conversation = services.store.conversation(controller.conversation.id)
    assert (conversation.provider, conversation.model, conversation.title) == (PROVIDER, "test-model", "Hello")
    reply = services.store.message(conversation.current_leaf_id)
    assert (reply.content, reply.status) == ("Hi there", COMPLETE)
    assert controller.conversation == conversation  # kept as the store has it


def test_a_model_asked_for_without_a_provider_is_used(chat):
    controller, heard, services = chat
    services.directory.preferred = (None, "other-model")  # `--model other-model`, no --provider
    controller.new_chat()
    assert controller.choice == Choice(PROVIDER, "other-model")


def test_edit_regenerate_versions_and_continue(chat, fake_server):
    controller, heard, services = chat
    fake_server.queue(
        Reply(body=text_stream(["one"])),
        Reply(body=text_stream(["two"])),
        Reply(body=text_stream(["three"])),
        Reply(body=text_stream(["half"], finish="length")),
        Reply(body=text_stream([" and the rest"])),
    )

    async def scenario():
        controller.new_chat()
        await controller.send("q")
        first_reply = controller.current_leaf()
        await controller.regenerate(first_reply)
        second_reply = controller.current_leaf()
        assert [m.id for m in controller.tree.siblings(second_reply)] == [first_reply, second_reply]
        controller.select_version(second_reply, -1)
        assert controller.current_leaf() == first_reply and heard.told("show_branch")[-1] == first_reply
        user = controller.tree.messages[first_reply].parent_id
        heard.said.clear()
        await controller.edit(user, "q edited")
        edited_user = controller.tree.messages[controller.current_leaf()].parent_id
        # Shown up to the new version of the question, then the reply streams after it: once.
        assert heard.told("show_branch") == [edited_user] and len(heard.told("reply_started")) == 1
        assert [m["content"] for m in fake_server.requests[-1]["messages"]] == ["q edited"]
        await controller.send("go on")
        cut = controller.current_leaf()
        assert services.store.message(cut).finish_reason == "length"
        await controller.continue_reply(cut)
        assert services.store.message(cut).content == "half and the rest"

    run(chat, scenario())


def test_retry_waits_out_retry_after_and_stop_ends_the_wait(chat, fake_server):
    controller, heard, services = chat
    limited = Reply(
        status=429, headers={"content-type": "application/json", "retry-after": "3"}, body=[b'{"error": {}}']
    )
    fake_server.queue(limited)

    async def scenario():
        controller.new_chat()
        outcome = await controller.send("hi")
        assert outcome.failure.retry_after == 3
        waiting = controller.retry(controller.current_leaf())
        await asyncio.sleep(0.2)
        assert controller.busy and len(fake_server.requests) == 1  # waiting, not sending
        assert any("retrying in" in text for text in heard.told("status"))
        controller.stop()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not controller.busy and len(fake_server.requests) == 1
        # Left to wait, it sends once the time is up (here about 3 s after the 429).
        started = asyncio.get_running_loop().time()
        controller.retry(controller.current_leaf())
        while len(fake_server.requests) < 2:
            await asyncio.sleep(0.05)
        assert asyncio.get_running_loop().time() - started > 1.5
        await controller.reply_task
        assert services.store.message(controller.current_leaf()).content == "You said: hi"

    run(chat, scenario())


def test_stop_keeps_what_arrived(chat, fake_server):
    controller, heard, services = chat
    fake_server.queue(Reply(body=text_stream(["partial ", "words"], finish=None, usage=False, done=False), end="hang"))

    async def scenario():
        controller.new_chat()
        task = controller.send("go")
        while "words" not in heard.text:
            await asyncio.sleep(0.02)
        controller.stop()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(chat, scenario())
    reply = services.store.message(controller.current_leaf())
    assert (reply.content, reply.status) == ("partial words", STOPPED)
    assert heard.told("reply_finished")[-1] is True  # (outcome None: stopped)


def test_a_refusing_disk_is_said_and_nothing_breaks(chat, fake_server):
    controller, heard, services = chat
    fake_server.queue(Reply(body=text_stream(["one"])), Reply(body=text_stream(["two"])))

    async def scenario():
        controller.new_chat()
        await controller.send("q")
        await controller.regenerate(controller.current_leaf())

    run(chat, scenario())
    reply = controller.current_leaf()
    store = services.store
    store.db.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal
    try:
        assert controller.send("more") is None
        assert controller.regenerate(reply) is None
        assert controller.continue_reply(reply) is None
        controller.select_version(reply, -1)
        assert not controller.set_conversation_settings("Be brief.", 0.5)
        controller.set_choice(PROVIDER, "other-model")
        notices = heard.told("notice")
        assert len(notices) == 6 and all("read-only" in text for text in notices)
        assert len(fake_server.requests) == 2 and not controller.busy
    finally:
        store.db.execute("PRAGMA query_only = OFF")


def test_a_title_from_the_model_after_the_first_exchange(chat, fake_server):
    controller, heard, services = chat
    services.settings.update(replace(services.settings.current, model_titles=True))
    fake_server.queue(Reply(body=text_stream(["Boil them."])), Reply(body=text_stream(['"Boiled ', 'Eggs"'])))

    async def scenario():
        controller.new_chat()
        await controller.send("how do I boil an egg?")
        await controller.title_task

    run(chat, scenario())
    assert controller.conversation.title == "Boiled Eggs"  # told by the store, not re-read by hand
    assert heard.told("conversation_changed")


def test_the_chat_follows_its_provider_through_a_rename(chat):
    controller, heard, services = chat
    controller.new_chat()
    controller.set_choice(PROVIDER, "other-model")  # picked by the user: not the default any more
    settings = services.settings.current
    renamed = replace(settings.providers[0], name="Renamed")
    services.settings.update(replace(settings, providers=(renamed,), default_provider="Renamed"))
    assert controller.choice == Choice("Renamed", "other-model")
