"""Tools in a chat, end to end without Qt: the loopback server scripted as a model that asks
for tools (its tool calls streamed in pieces, as OpenAI sends them), the real `openai`
SDK, a real MCP server process (tests/fakes/mcp_server.py) through the real `mcp` SDK,
the ChatController and a real SQLite history. What the model was sent is read from the
requests the server received."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_chat.core.chat import ChatListener
from desktop_chat.core.conversation import (
    COMPLETE,
    STOPPED,
    TOOL_DECLINED,
    TOOL_DONE,
    TOOL_ERROR,
    TOOL_NOT_RUN,
    AttachmentPart,
    TextPart,
    ToolCallPart,
    tool_calls,
)
from desktop_chat.core.events import ToolCallsChanged
from desktop_chat.core.exchange import export_json, export_markdown, import_json
from desktop_chat.core.store import HistoryStore
from desktop_chat.core.tools.config import ToolServerConfig
from desktop_chat.core.tools.servers import ToolInfo
from desktop_chat.core.tools.use import Answer, function_names, parameters_for_model
from tests.fakes.chat_services import services_on
from tests.fakes.openai_server import Reply, text_stream, tool_call_stream

ROOT = Path(__file__).parents[2]
CALC = ToolServerConfig("calc", sys.executable, ("-m", "tests.fakes.mcp_server"), str(ROOT))


class Recorder(ChatListener):
    def __init__(self) -> None:
        self.notices: list[str] = []
        self.cards: list[tuple[ToolCallPart, ...]] = []
        self.statuses: list[str] = []

    def stream_event(self, event):
        if isinstance(event, ToolCallsChanged):
            self.cards.append(event.calls)

    def notice(self, text):
        self.notices.append(text)

    def status(self, text):
        self.statuses.append(text)


@pytest.fixture
def tools_chat(tmp_path, fake_server):
    services = services_on(
        fake_server.base_url,
        tmp_path / "h.db",
        first_token_timeout=10.0,
        idle_timeout=5.0,
        tool_servers=(CALC,),
    )
    recorder = Recorder()
    yield services.chat(recorder), recorder, services
    services.store.close()


def run(services, coro):
    async def scenario():
        try:
            return await coro
        finally:
            await services.aclose()

    return asyncio.run(scenario())


async def sending(controller, text):
    task = controller.send(text)
    assert task is not None
    return await task


async def answer_when_asked(controller, answer: Answer, times: int = 1) -> None:
    """Press a card's button (as the window does) once each call waits for it."""
    for _ in range(times):
        while not controller.waiting_for_consent():
            await asyncio.sleep(0.01)
        assert controller.answer_tool(controller.waiting_for_consent()[0], answer)


def test_a_tool_call_is_asked_about_run_and_its_result_sent_back(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("call_1", "add", '{"a": 2, "b": 3}')], text="Let me add.")),
        Reply(body=text_stream(["2 + 3 = ", "5."])),
    )

    async def scenario():
        task = controller.send("What is 2 + 3?")
        await answer_when_asked(controller, Answer.ONCE)
        return await task

    outcome = run(services, scenario())
    assert outcome.failure is None
    first, second = fake_server.requests
    # The tool offered as OpenAI wants a function: the server's schema as its parameters.
    offered = next(t for t in first["tools"] if t["function"]["name"] == "add")
    assert {t["function"]["name"] for t in first["tools"]} >= {"add", "sleepy", "crash"}
    assert offered["function"]["name"] == "add" and offered["function"]["description"] == "Add two integers."
    assert set(offered["function"]["parameters"]["properties"]) == {"a", "b"}
    # The result went back after the call, as the API wants it.
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] == "Let me add."
    assert assistant["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
    ]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "5"}
    # Kept in order: the first round's text, the call with its result, the answer.
    reply = services.store.message(outcome.message.id)
    assert reply.status == COMPLETE
    assert [type(p).__name__ for p in reply.parts] == ["TextPart", "ToolCallPart", "TextPart"]
    call = reply.parts[1]
    assert (call.server, call.tool, call.status, call.result) == ("calc", "add", TOOL_DONE, "5")
    assert reply.content == "Let me add.\n\n2 + 3 = 5."
    # The card went from asked to running to done.
    assert [cards[0].status for cards in heard.cards] == ["asked", "running", "done"]
    # Searchable by what the tool was given.
    assert any(h.message_id == reply.id for h in services.store.search_messages('"b": 3'))


def test_a_denied_call_is_not_run_and_the_model_is_told(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "spawn_grandchild", "{}")])),
        Reply(body=text_stream(["Fine, I will not."])),
    )

    async def scenario():
        task = controller.send("Start a process")
        await answer_when_asked(controller, Answer.DENY)
        return await task

    outcome = run(services, scenario())
    call = tool_calls(services.store.message(outcome.message.id).parts)[0]
    assert call.status == TOOL_DECLINED
    told = fake_server.requests[1]["messages"][-1]
    assert told["role"] == "tool" and "declined" in told["content"]
    assert outcome.message.content == "Fine, I will not."


def test_always_allow_is_remembered_and_asked_again_when_the_tool_changes(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 1, "b": 1}')])),
        Reply(body=text_stream(["2"])),
        Reply(body=tool_call_stream([("c2", "add", '{"a": 2, "b": 2}')])),
        Reply(body=text_stream(["4"])),
    )

    async def scenario():
        task = controller.send("1+1")
        await answer_when_asked(controller, Answer.ALWAYS)
        await task
        # Asked nothing the second time: the answer was "always".
        return await controller.send("2+2")

    outcome = run(services, scenario())
    assert tool_calls(outcome.message.parts)[0].result == "4"
    assert all(c.status != "asked" for cards in heard.cards for c in cards if c.call_id == "c2")
    assert services.state.current.tools_always and services.state.current.tools_always[0].startswith(CALC.id)
    trust = services.tools.trust
    same = ToolInfo("add", "Add two integers.", {"type": "object"})
    changed = ToolInfo("add", "Add two integers, and mail them to someone.", {"type": "object"})
    trust.allow(CALC, same)
    assert trust.allowed(CALC, same) and not trust.allowed(CALC, changed) and trust.changed(CALC, changed)
    # The same tool, its server edited (or imported again) to run something else: asked again.
    widened = replace(CALC, args=(*CALC.args, "--stress-tools"))
    assert widened.id == CALC.id and not trust.allowed(widened, same) and trust.changed(widened, same)
    trust.revoke(CALC.id)
    assert not trust.allowed(CALC, same) and not services.state.current.tools_always


def test_stop_while_a_call_waits_leaves_it_not_run_and_the_chat_goes_on_after_a_restart(
    tools_chat, fake_server, tmp_path
):
    controller, heard, services = tools_chat
    fake_server.queue(Reply(body=tool_call_stream([("c1", "add", '{"a": 5, "b": 5}')], text="Adding.")))

    async def scenario():
        task = controller.send("5+5")
        while not controller.waiting_for_consent():
            await asyncio.sleep(0.01)
        controller.stop()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(services, scenario())
    reply_id = controller.current_leaf()
    services.store.close()
    # A new run on the same history: the call shows as not run, and the chat goes on.
    again = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(CALC,), first_token_timeout=10.0)
    reply = again.store.message(reply_id)
    assert reply.status == STOPPED
    (call,) = tool_calls(reply.parts, reply.status)
    assert call.status == TOOL_NOT_RUN and "not run" in call.result
    chat = again.chat(Recorder())
    assert chat.open(reply.conversation_id)
    fake_server.queue(Reply(body=text_stream(["Ten."])))
    outcome = run(again, sending(chat, "Never mind, just say it"))
    sent = fake_server.requests[-1]["messages"]
    assert [m["role"] for m in sent[-3:]] == ["assistant", "tool", "user"]
    assert {"role": "tool", "tool_call_id": "c1", "content": call.result} in sent
    assert outcome.message.content == "Ten."
    again.store.close()


def test_a_pending_call_when_the_app_dies_shows_as_not_run(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    conversation = store.create_conversation("x")
    user = store.add_message(conversation.id, None, "user", "hi")
    waiting = ToolCallPart("c1", "add", "{}", "calc", CALC.id, "add")
    reply = store.add_message(conversation.id, user.id, "assistant", "", status="streaming", parts=(waiting,))
    store.close()
    store = HistoryStore(tmp_path / "h.db")
    assert store.mark_interrupted() == 1
    kept = store.message(reply.id)
    assert tool_calls(kept.parts, kept.status)[0].status == TOOL_NOT_RUN
    store.close()


def test_parallel_calls_run_each_and_answer_in_order(tools_chat, fake_server):
    controller, heard, services = tools_chat
    services.tools.trust.allow(CALC, ToolInfo("add", "Add two integers.", _add_schema(services)))
    fake_server.queue(
        Reply(body=tool_call_stream([("a", "add", '{"a": 1, "b": 2}'), ("b", "add", '{"a": 10, "b": 20}')], pieces=4)),
        Reply(body=text_stream(["3 and 30"])),
    )
    outcome = run(services, sending(controller, "two sums"))
    assert [(c.call_id, c.result) for c in tool_calls(outcome.message.parts)] == [("a", "3"), ("b", "30")]
    sent = fake_server.requests[1]["messages"]
    assert [m.get("tool_call_id") for m in sent[-2:]] == ["a", "b"]
    assert not controller.waiting_for_consent()


def _add_schema(services):
    async def listed():
        (status,) = await services.tools.servers.status()
        return next(t.input_schema for t in status.tools if t.name == "add")

    return run(services, listed())


def test_bad_calls_are_told_to_the_model_without_asking(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("x", "rm_rf", "{}"), ("y", "add", '{"a": 1,')])),
        Reply(body=text_stream(["Sorry."])),
    )
    outcome = run(services, sending(controller, "do it"))
    first, second = tool_calls(outcome.message.parts)
    assert (first.status, second.status) == (TOOL_ERROR, TOOL_ERROR)
    assert "no tool named 'rm_rf'" in first.result and "not valid JSON" in second.result
    assert not heard.statuses or "waiting" not in " ".join(heard.statuses)


def test_a_model_that_refuses_tools_is_asked_again_without_them(tools_chat, fake_server):
    controller, heard, services = tools_chat
    refusal = json.dumps({"error": {"message": "registry.ollama.ai/library/gemma:2b does not support tools"}})
    fake_server.queue(
        Reply(status=400, headers={"content-type": "application/json"}, body=[refusal.encode()]),
        Reply(body=text_stream(["Hello without tools."])),
    )
    outcome = run(services, sending(controller, "hi"))
    assert outcome.failure is None and outcome.message.content == "Hello without tools."
    assert "tools" in fake_server.requests[0] and "tools" not in fake_server.requests[1]
    assert any("does not take tools" in n and "asked again without them" in n for n in heard.notices)


def test_the_round_limit_ends_with_an_answer(tools_chat, fake_server):
    controller, heard, services = tools_chat
    services.settings.update(services.settings.current.__class__(**{**_fields(services), "tool_rounds": 2}))
    services.tools.trust.allow(CALC, ToolInfo("add", "Add two integers.", _add_schema(services)))
    fake_server.queue(
        *(Reply(body=tool_call_stream([(f"c{i}", "add", '{"a": 1, "b": 1}')])) for i in range(2)),
        Reply(body=text_stream(["Enough."])),
    )
    outcome = run(services, sending(controller, "loop"))
    assert ["tools" in r for r in fake_server.requests] == [True, True, False]
    assert outcome.message.content == "Enough." and len(tool_calls(outcome.message.parts)) == 2
    assert any("asked for tools 2 times" in n for n in heard.notices)


def _fields(services):
    import dataclasses

    return {f.name: getattr(services.settings.current, f.name) for f in dataclasses.fields(services.settings.current)}


def test_tools_off_for_a_conversation_offer_none(tools_chat, fake_server):
    controller, heard, services = tools_chat
    controller.set_tools(False)
    fake_server.queue(Reply(body=text_stream(["No tools."])))
    run(services, sending(controller, "hi"))
    assert "tools" not in fake_server.requests[0]
    assert services.store.conversation(controller.conversation.id).tools is False


def test_a_conversation_with_tool_calls_survives_export_and_import(tools_chat, fake_server, tmp_path):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("call_9", "add", '{"a": 4, "b": 4}')], text="Adding.")),
        Reply(body=text_stream(["8"])),
    )

    async def scenario():
        task = controller.send("4+4")
        await answer_when_asked(controller, Answer.ONCE)
        return await task

    run(services, scenario())
    exported = export_json(services.store)
    other = HistoryStore(tmp_path / "other.db")
    import_json(other, exported)
    original = services.store.tree(controller.conversation.id)
    (copy,) = other.conversations()
    again = other.tree(copy.id)
    assert sorted((m.content, m.parts) for m in again.messages.values()) == sorted(
        (m.content, m.parts) for m in original.messages.values()
    )
    markdown = export_markdown(services.store)
    assert "Tool add (calc): done" in markdown and '{"a": 4, "b": 4}' in markdown
    other.close()


def test_function_names_are_valid_and_never_collide():
    one = ToolServerConfig("files one", "x")
    two = ToolServerConfig("files.two", "y")
    info = ToolInfo("read_file", "", {})
    odd = ToolInfo("read file/now", "", {})
    names = function_names([(one, info), (two, info), (one, odd), (two, ToolInfo("x" * 100, "", {}))])
    assert all(len(n) <= 64 and n.replace("_", "a").replace("-", "a").isalnum() for n in names)
    assert len(names) == 4 and "read_file" not in names  # (two servers have it: each named by its server)
    assert names["files_one__read_file"].server == one and names["files_two__read_file"].server == two
    assert function_names([(one, info)]) == {
        "read_file": names["files_one__read_file"].__class__("read_file", one, info)
    }


@pytest.mark.parametrize("schema", ["a string", {"type": "array"}, None, {"type": "object", "properties": "x"}])
def test_a_lying_schema_becomes_an_empty_object(schema):
    assert parameters_for_model(schema) == {"type": "object", "properties": {}}


def test_streamed_pieces_from_real_providers_come_together(tools_chat):
    """Recorded streams (tests/data): OpenAI's two parallel calls, Qwen's repeated empty ids."""
    from desktop_chat.core.events import ToolCallDelta, chunk_events
    from desktop_chat.core.tools.use import CallGathering
    from tests.fakes.openai_server import recorded

    for name, expected in [
        ("openai_python__tool_calls_parallel_two.sse", 2),
        ("vercel_ai__alibaba_qwen3max_tool_call.sse", 1),
    ]:
        gathering = CallGathering()
        for line in recorded(name).decode().splitlines():
            if line.startswith("data: {"):
                for event in chunk_events(json.loads(line[6:])):
                    if isinstance(event, ToolCallDelta):
                        gathering.add(event)
        calls = gathering.calls(None, 0)
        assert len(calls) == expected
        assert all(c.call_id and c.name and isinstance(json.loads(c.arguments), dict) for c in calls)


def test_always_on_one_card_lets_the_same_tool_waiting_beside_it_run(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("a", "add", '{"a": 1, "b": 1}'), ("b", "add", '{"a": 2, "b": 2}')])),
        Reply(body=text_stream(["2 and 4"])),
    )

    async def scenario():
        task = controller.send("two sums")
        while len(controller.waiting_for_consent()) < 2:
            await asyncio.sleep(0.01)
        assert controller.answer_tool("a", Answer.ALWAYS)
        return await task

    outcome = run(services, scenario())
    assert [(c.status, c.result) for c in tool_calls(outcome.message.parts)] == [(TOOL_DONE, "2"), (TOOL_DONE, "4")]
    assert not controller.answer_tool("b", Answer.DENY)  # (nothing waits any more)


def test_a_server_that_dies_in_a_call_fails_that_call_and_starts_again_for_the_next(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "crash", "{}")])),
        Reply(body=tool_call_stream([("c2", "add", '{"a": 3, "b": 4}')])),
        Reply(body=text_stream(["The first tool failed; 3 + 4 = 7."])),
    )

    async def scenario():
        task = controller.send("crash, then add")
        await answer_when_asked(controller, Answer.ONCE)
        await answer_when_asked(controller, Answer.ONCE)
        return await task

    outcome = run(services, scenario())
    crashed, added = tool_calls(outcome.message.parts)
    assert crashed.status == TOOL_ERROR and "stopped during the call to crash" in crashed.result
    assert (added.status, added.result) == (TOOL_DONE, "7")
    assert fake_server.requests[1]["messages"][-1]["content"] == crashed.result  # the model was told
    assert outcome.message.content == "The first tool failed; 3 + 4 = 7."


def test_tools_whose_schemas_lie_are_not_offered_and_that_is_said_once(tmp_path, fake_server):
    liar = ToolServerConfig("liar", sys.executable, ("-m", "tests.fakes.mcp_server", "--lying-schemas"), str(ROOT))
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(liar,), first_token_timeout=10.0)
    heard = Recorder()
    chat = services.chat(heard)
    fake_server.queue(Reply(body=text_stream(["one"])), Reply(body=text_stream(["two"])))

    async def twice():
        await sending(chat, "hi")
        return await sending(chat, "again")

    run(services, twice())
    offered = {t["function"]["name"] for t in fake_server.requests[0]["tools"]}
    assert "add" in offered and all(
        t["function"]["parameters"]["type"] == "object" for t in fake_server.requests[0]["tools"]
    )
    left_out = [n for n in heard.notices if "was left out" in n]
    assert left_out and len(left_out) == len(set(left_out))  # (each said once, not again on the second reply)
    assert not {n.split("'")[1] for n in left_out} & offered
    services.store.close()


def test_a_servers_secret_reaches_it_read_from_the_keyring_off_the_loop(tmp_path, fake_server):
    from dataclasses import replace

    from desktop_chat.core.tools.config import secret_account

    vault = replace(CALC, name="vault", id="", secret_env=("API_TOKEN",))
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(vault,), first_token_timeout=10.0)
    services.keys.set_secret(secret_account(vault, "env", "API_TOKEN"), "tok-from-the-keyring")
    chat = services.chat(Recorder())
    fake_server.queue(
        Reply(body=tool_call_stream([("s1", "secret_from_env", '{"name": "API_TOKEN"}')])),
        Reply(body=text_stream(["Got it."])),
    )

    async def scenario():
        task = chat.send("token?")
        await answer_when_asked(chat, Answer.ONCE)
        return await task

    outcome = run(services, scenario())
    assert tool_calls(outcome.message.parts)[0].result == "tok-from-the-keyring"
    assert services.tools.servers.known(vault) is None  # (closed with the services)
    services.store.close()


def test_a_huge_result_is_kept_and_cut_to_fit_a_small_models_context(tmp_path, fake_server):
    from desktop_chat.core.tools.use import MAX_RESULT_CHARS

    stress = ToolServerConfig("stress", sys.executable, ("-m", "tests.fakes.mcp_server", "--stress-tools"), str(ROOT))
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(stress,), first_token_timeout=20.0)
    fake_server.model_details["test-model"] = {"context_length": 4096}
    heard = Recorder()
    chat = services.chat(heard)
    fake_server.queue(
        Reply(body=tool_call_stream([("b1", "big", '{"size": 10485760}')])),
        Reply(body=text_stream(["That is a lot of hex."])),
    )

    async def scenario():
        await services.directory.list_models(chat.choice.provider)
        task = chat.send("Fetch the big one")
        await answer_when_asked(chat, Answer.ONCE)
        return await task

    outcome = run(services, scenario())
    call = tool_calls(services.store.message(outcome.message.id).parts)[0]
    # Kept (to 100,000 characters, said in the result itself) ...
    assert call.status == TOOL_DONE and call.result.startswith("0123456789abcdef")
    assert f"The tool returned 10,485,760 characters; only the first {MAX_RESULT_CHARS:,}" in call.result
    # ... and sent cut to what a 4,096-token model can take, the user told.
    request = fake_server.requests[-1]["messages"]
    sent = request[-1]["content"]
    assert "characters of this result were sent, to fit the context." in sent
    # The whole request within the context, less the reply's room, at 3 characters a token.
    assert (
        sum(len(m.get("content") or "") + len(json.dumps(m.get("tool_calls", ""))) for m in request) < (4096 - 1024) * 3
    )
    assert any("The result of big (stress) was cut to its first" in n and "(4,096 tokens)" in n for n in heard.notices)
    assert outcome.message.content == "That is a lot of hex."
    services.store.close()


def test_a_server_slow_to_start_is_offered_from_the_reply_after(tmp_path, fake_server, monkeypatch):
    from desktop_chat.core.tools import use

    monkeypatch.setattr(use, "OFFER_TIMEOUT", 0.3)
    slow = ToolServerConfig(
        "slow", "/bin/sh", ("-c", f"sleep 1.5; exec {sys.executable} -m tests.fakes.mcp_server"), str(ROOT)
    )
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(slow,), first_token_timeout=10.0)
    heard = Recorder()
    chat = services.chat(heard)
    fake_server.queue(Reply(body=text_stream(["Without tools."])), Reply(body=text_stream(["With them."])))

    async def scenario():
        await sending(chat, "first")
        while not services.tools.servers.known(slow) or not services.tools.servers.known(slow).running:
            await asyncio.sleep(0.05)  # (it went on starting meanwhile)
        return await sending(chat, "second")

    run(services, scenario())
    assert "tools" not in fake_server.requests[0] and "add" in {
        t["function"]["name"] for t in fake_server.requests[1]["tools"]
    }
    assert heard.notices == ["The tool server 'slow' is still starting; its tools are offered once it has."]
    services.store.close()


def test_a_model_that_numbers_its_calls_from_0_every_round_gets_each_answered(tools_chat, fake_server):
    controller, heard, services = tools_chat
    services.tools.trust.allow(CALC, ToolInfo("add", "Add two integers.", _add_schema(services)))
    fake_server.queue(
        Reply(body=tool_call_stream([("call_0", "add", '{"a": 1, "b": 1}'), ("call_0", "add", '{"a": 2, "b": 2}')])),
        Reply(body=tool_call_stream([("call_0", "add", '{"a": 3, "b": 3}')])),
        Reply(body=text_stream(["2, 4 and 6."])),
    )
    outcome = run(services, sending(controller, "three sums"))
    calls = tool_calls(outcome.message.parts)
    assert [c.result for c in calls] == ["2", "4", "6"] and len({c.call_id for c in calls}) == 3
    sent = fake_server.requests[-1]["messages"]
    asked = [t["id"] for m in sent if m["role"] == "assistant" for t in m.get("tool_calls", [])]
    answered = [m["tool_call_id"] for m in sent if m["role"] == "tool"]
    assert asked == answered == [c.call_id for c in calls]


def test_purging_the_trash_keeps_the_images_tools_returned_in_kept_chats(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    digest = store.attachments.put(b"\x89PNG fake image bytes")
    image = AttachmentPart("add-1.png", "image/png", digest, 21, width=4, height=4)
    kept = store.create_conversation("kept")
    user = store.add_message(kept.id, None, "user", "draw")
    call = ToolCallPart("c1", "draw", "{}", "s", "sid", "draw", status=TOOL_DONE, result="[image]", images=(image,))
    store.add_message(
        kept.id, user.id, "assistant", "here", status=COMPLETE, parts=(TextPart(""), call, TextPart("here"))
    )
    trashed = store.create_conversation("old")
    store.trash_conversation(trashed.id)
    store.purge_trash()
    assert store.attachments.get(digest) is not None


def test_retry_after_tools_ran_goes_on_from_them_without_running_them_again(tools_chat, fake_server):
    controller, heard, services = tools_chat
    services.tools.trust.allow(CALC, ToolInfo("add", "Add two integers.", _add_schema(services)))
    overloaded = json.dumps({"error": {"message": "upstream overloaded"}})
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 2, "b": 3}')], text="Adding.")),
        Reply(status=503, headers={"content-type": "application/json"}, body=[overloaded.encode()]),
        Reply(body=text_stream(["It is 5."])),
    )

    async def scenario():
        failed = await sending(controller, "2+3")
        assert failed.failure is not None
        task = controller.retry(failed.message.id)
        assert task is not None
        return await task

    outcome = run(services, scenario())
    kept = services.store.message(outcome.message.id)
    assert [(c.call_id, c.status) for c in tool_calls(kept.parts)] == [("c1", TOOL_DONE)]  # (run once)
    assert kept.content == "Adding.\n\nIt is 5." and kept.status == COMPLETE
    assert fake_server.requests[-1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "5"}
    assert len(controller.tree.siblings(kept.id)) == 1  # (in place, not a new version)


def test_continuing_a_reply_whose_last_round_only_thought_does_not_repeat_its_text(tools_chat, fake_server):
    from tests.fakes.openai_server import chunk, sse

    controller, heard, services = tools_chat
    services.tools.trust.allow(CALC, ToolInfo("add", "Add two integers.", _add_schema(services)))
    thought = chunk()
    thought["choices"][0]["delta"]["reasoning_content"] = "Hmm, 5..."
    cut = [sse(chunk(role="assistant", content="")), sse(thought), sse(chunk(finish="length")), b"data: [DONE]\n\n"]
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 2, "b": 3}')], text="Let me add.")),
        Reply(body=cut),
        Reply(body=text_stream(["2 + 3 = 5."])),
    )

    async def scenario():
        first = await sending(controller, "2+3?")
        task = controller.continue_reply(first.message.id)
        assert task is not None
        return await task

    outcome = run(services, scenario())
    assert services.store.message(outcome.message.id).content == "Let me add.\n\n2 + 3 = 5."
    # The model goes on after the tool's result: no text of the reply sent again as a prefix.
    assert [m["role"] for m in fake_server.requests[-1]["messages"][-3:]] == ["user", "assistant", "tool"]


def test_continuing_an_interrupted_reply_keeps_its_waiting_call_not_run(tmp_path, fake_server):
    store = HistoryStore(tmp_path / "h.db")
    conversation = store.create_conversation("x", provider="Test", model="test-model")
    user = store.add_message(conversation.id, None, "user", "what is 2+3")
    waiting = ToolCallPart("c1", "add", '{"a":2,"b":3}', "calc", CALC.id, "add")
    reply = store.add_message(
        conversation.id,
        user.id,
        "assistant",
        "Let me add.",
        status="streaming",
        parts=(TextPart("Let me add."), waiting),
    )
    store.mark_interrupted()
    store.close()
    services = services_on(fake_server.base_url, tmp_path / "h.db", tool_servers=(CALC,), first_token_timeout=10.0)
    chat = services.chat(Recorder())
    assert chat.open(conversation.id)
    fake_server.queue(Reply(body=text_stream(["5."])))

    async def go():
        task = chat.continue_reply(reply.id)
        assert task is not None
        return await task

    run(services, go())
    (told,) = [m for m in fake_server.requests[0]["messages"] if m["role"] == "tool"]
    assert "not run" in told["content"]
    assert tool_calls(services.store.message(reply.id).parts)[0].status == TOOL_NOT_RUN
    services.store.close()


def _done_reply(store, conversation, parent, call_id, result):
    user = store.add_message(conversation.id, parent, "user", "go")
    call = ToolCallPart(call_id, "big", "{}", "s", "sid", "big", status=TOOL_DONE, result=result)
    parts = (TextPart(""), call, TextPart("ok"))
    return store.add_message(
        conversation.id, user.id, "assistant", "ok", parts=parts, provider="Test", model="test-model"
    )


def test_results_are_cut_by_their_place_not_their_id_which_repeats_across_replies(tmp_path):
    from desktop_chat.core.budget import reply_room
    from desktop_chat.core.session import PendingReply

    services = services_on("http://127.0.0.1:9", tmp_path / "h.db", context_tokens=4096)
    store = services.store
    conversation = store.create_conversation("x", provider="Test", model="test-model")
    big = _done_reply(store, conversation, None, "call_0", "x" * 100_000)
    small = _done_reply(store, conversation, big.id, "call_0", "small")
    user = store.add_message(conversation.id, small.id, "user", "and now?")
    reply = store.add_message(conversation.id, user.id, "assistant", "", status="streaming")
    request = services.session.request_for(
        PendingReply(store.conversation(conversation.id), reply, "Test", "test-model")
    )
    assert sum(len(json.dumps(m)) for m in request.messages) < (4096 - reply_room(4096)) * 3
    store.close()


def test_without_tools_a_reply_that_used_them_is_one_assistant_message(tmp_path):
    from desktop_chat.core.session import PendingReply

    services = services_on("http://127.0.0.1:9", tmp_path / "h.db")
    store = services.store
    conversation = store.create_conversation("x", provider="Test", model="test-model")
    user = store.add_message(conversation.id, None, "user", "2+3 then 4+4")
    first = ToolCallPart("c1", "add", '{"a":2,"b":3}', "calc", "sid", "add", status=TOOL_DONE, result="5")
    second = ToolCallPart("c2", "add", '{"a":4,"b":4}', "calc", "sid", "add", status=TOOL_DONE, result="8")
    parts = (TextPart("Adding."), first, TextPart("Now the other."), second, TextPart("5 and 8."))
    done = store.add_message(conversation.id, user.id, "assistant", "", parts=parts)
    again = store.add_message(conversation.id, done.id, "user", "thanks; and 1+1?")
    reply = store.add_message(conversation.id, again.id, "assistant", "", status="streaming")
    request = services.session.request_for(
        PendingReply(store.conversation(conversation.id), reply, "Test", "test-model")
    )
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]  # (templates want turns to alternate)
    said = request.messages[1]["content"]
    assert (
        said.index("Adding.")
        < said.index(": 5]")
        < said.index("Now the other.")
        < said.index(": 8]")
        < said.index("5 and 8.")
    )
    store.close()


def test_arguments_that_are_not_json_go_back_as_an_empty_object(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("x", "add", '{"a": 1,')])),
        Reply(body=text_stream(["Sorry."])),
    )
    run(services, sending(controller, "do it"))
    (assistant,) = [m for m in fake_server.requests[1]["messages"] if m.get("tool_calls")]
    assert assistant["tool_calls"][0]["function"]["arguments"] == "{}"  # (llama-server refuses to parse them again)
    deep = "[" * 100_000 + "]" * 100_000
    from desktop_chat.core.tools.use import arguments_problem

    assert "not valid JSON" in (arguments_problem(deep) or "")  # (RecursionError, not a crash)


def test_a_server_that_fails_to_start_is_not_started_again_on_every_key(tmp_path):
    count = tmp_path / "count"
    failing = tmp_path / "failing-server"
    failing.write_text('#!/bin/sh\necho started >> "$COUNT_FILE"\nexit 1\n')
    failing.chmod(0o755)
    bad = ToolServerConfig("bad", str(failing), (), str(tmp_path), plain_env=(("COUNT_FILE", str(count)),))
    services = services_on("http://127.0.0.1:9", tmp_path / "h.db", tool_servers=(bad,))

    async def typing():
        for _ in range(8):  # keys pressed while its start fails
            services.tools.warm_up()
            await asyncio.sleep(0.2)
        await services.aclose()

    asyncio.run(typing())
    assert count.read_text().count("started") == 1
    services.store.close()


def test_calls_sent_whole_without_an_index_stay_apart():
    """Gemini's OpenAI-compatible stream: each call whole in a chunk of its own, no index."""
    from desktop_chat.core.events import ToolCallDelta, chunk_events
    from desktop_chat.core.tools.use import CallGathering

    def whole(call_id, name, arguments):
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}

    gathering = CallGathering()
    for chunk_ in (
        whole("function-call-1", "get_weather", '{"city":"London"}'),
        whole("function-call-2", "get_time", '{"tz":"UTC"}'),
    ):
        for event in chunk_events(chunk_):
            if isinstance(event, ToolCallDelta):
                gathering.add(event)
    assert [(c.call_id, c.name, c.arguments) for c in gathering.calls(None, 0)] == [
        ("function-call-1", "get_weather", '{"city":"London"}'),
        ("function-call-2", "get_time", '{"tz":"UTC"}'),
    ]


def test_a_log_folder_that_cannot_be_written_is_said(tmp_path):
    from desktop_chat.core.tools.servers import ToolServer, ToolServerError

    blocked = tmp_path / "logs"
    blocked.write_text("a file where the folder should be")
    server = ToolServer(CALC, {}, {}, blocked / "calc.log")

    async def start():
        with pytest.raises(ToolServerError, match="its log file .* cannot be written"):
            await server.start(timeout=20)

    asyncio.run(start())


def test_the_markdown_export_keeps_the_rounds_in_order_and_json_keeps_the_tools_switch(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    conversation = store.create_conversation("x")
    store.update_conversation(conversation.id, tools=0)
    user = store.add_message(conversation.id, None, "user", "2+3")
    call = ToolCallPart("c1", "add", '{"a": 2, "b": 3}', "calc", "sid", "add", TOOL_DONE, "5")
    store.add_message(
        conversation.id, user.id, "assistant", "", parts=(TextPart("Adding."), call, TextPart("It is 5."))
    )
    markdown = export_markdown(store)
    assert markdown.index("Adding.") < markdown.index("Tool add (calc): done") < markdown.index("It is 5.")
    other = HistoryStore(tmp_path / "other.db")
    import_json(other, export_json(store))
    assert other.conversations()[0].tools is False
    store.close()
    other.close()


def test_a_call_stopped_while_it_ran_says_it_may_have_done_part_of_its_work():
    running = ToolCallPart("c1", "write_file", "{}", status="running")
    assert "may have done part of its work" in running.settled(STOPPED).result
    assert "before it ran" in ToolCallPart("c2", "x", "{}").settled(STOPPED).result


def test_arguments_cannot_hide_what_they_say_on_the_card():
    from desktop_chat.ui.transcript.tools_view import pretty_arguments

    shown = pretty_arguments(json.dumps({"path": "/home/me/report\u202eexe.txt"}, ensure_ascii=False))
    assert "\u202e" not in shown and "\\u202e" in shown


def test_ids_that_collide_every_way_still_come_apart():
    from desktop_chat.core.session import _unique_ids

    earlier = [ToolCallPart(i, "add", "{}") for i in ("call_0_1_1", "call_0")]
    calls = [ToolCallPart("call_0", "add", "{}"), ToolCallPart("call_0", "add", "{}")]
    ids = [c.call_id for c in _unique_ids(calls, earlier, 1)]
    assert len(set(ids) | {"call_0_1_1", "call_0"}) == 4


def test_a_call_whose_server_was_turned_off_meanwhile_is_not_run(tools_chat, fake_server):
    controller, heard, services = tools_chat
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 1, "b": 1}')])),
        Reply(body=text_stream(["It was turned off."])),
    )

    async def scenario():
        task = controller.send("1+1")
        while not controller.waiting_for_consent():
            await asyncio.sleep(0.01)
        services.settings.update(replace(services.settings.current, tool_servers=(replace(CALC, enabled=False),)))
        controller.answer_tool(controller.waiting_for_consent()[0], Answer.ONCE)
        return await task

    outcome = run(services, scenario())
    call = tool_calls(outcome.message.parts)[0]
    assert call.status == TOOL_ERROR and "was turned off or changed meanwhile" in call.result


def test_a_later_rounds_thought_is_timed_from_its_own_request():
    from desktop_chat.core.events import ReasoningDelta, TextDelta
    from desktop_chat.core.session import ReplyParts

    now = [0.0]
    built = ReplyParts(clock=lambda: now[0])
    built.add(TextDelta("Adding."))
    built.end_round([ToolCallPart("c1", "add", "{}", status=TOOL_DONE, result="2")])
    now[0] = 180.0  # (three minutes waiting for the user's answer)
    built.restart_clock()
    built.add(ReasoningDelta("Hmm."))
    now[0] = 182.0
    built.add(TextDelta("It is 2."))
    assert built.reasoning_part().seconds == 2.0
