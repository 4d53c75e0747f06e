"""Tool calls in the window: a card per call, asking with the arguments in sight; its
buttons answer it (clicked for real); what it shows while the reply streams is what it
shows when the conversation is opened again. The model is the loopback server, the tool
server a real MCP server process (tests/fakes/mcp_server.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt

from desktop_chat.core.conversation import TOOL_DECLINED, TOOL_DONE, tool_calls
from desktop_chat.core.tools.config import ToolServerConfig
from desktop_chat.core.tools.use import Answer
from tests.fakes.openai_server import Reply, text_stream, tool_call_stream
from tests.gui.conftest import make_settings
from tests.gui.helpers import message_views, type_and_send, wait_idle

ROOT = Path(__file__).parents[2]
CALC = ToolServerConfig("calc", sys.executable, ("-m", "tests.fakes.mcp_server"), str(ROOT))


def _card(window, index=0):
    view = message_views(window)[-1]
    cards = view.tool_cards()
    return cards[index] if len(cards) > index else None


def test_a_card_asks_and_its_buttons_answer(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url, tool_servers=(CALC,)))
    fake_server.queue(
        Reply(body=tool_call_stream([("c1", "add", '{"a": 20, "b": 22}')], text="Adding.")),
        Reply(body=text_stream(["The sum is ", "42."])),
        Reply(body=tool_call_stream([("c2", "crash", "{}")])),
        Reply(body=text_stream(["Not crashing it."])),
    )
    type_and_send(qtbot, window, "What is 20 + 22?")
    qtbot.waitUntil(lambda: _card(window) is not None and _card(window).button_row.isVisibleTo(window), timeout=20000)
    card = _card(window)
    # It says what would run, with the arguments shown before anything runs.
    assert "add of calc" in card.question.text() and card.arguments.isVisibleTo(window)
    assert '"a": 20' in card.arguments.text()
    assert card.state.text() == "Waiting for you"
    assert [b.accessibleName() for b in card.buttons.values()] == [
        "Allow once: add of calc",
        "Always allow: add of calc",
        "Deny: add of calc",
    ]
    assert len(fake_server.requests) == 1  # nothing sent on before the answer
    qtbot.mouseClick(card.buttons[Answer.ONCE], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window, timeout=20000)
    card = _card(window)
    assert card.state.text() == "Done" and not card.button_row.isVisibleTo(window)
    assert not card.result.isVisibleTo(window)  # folded once run
    qtbot.mouseClick(card.header, Qt.MouseButton.LeftButton)
    assert card.result.isVisibleTo(window) and card.result.text() == "42"
    view = message_views(window)[-1]
    assert "Adding.\nThe sum is 42." in view.plain_text()  # (two paragraphs)
    # In the order they came: the first round's text, its card, then the answer.
    said, answer = view.segments
    group = view.tool_groups[0].geometry()
    assert said.geometry().bottom() < group.top() and group.bottom() < answer.geometry().top()

    # Denied: the tool does not run (the server stays up), the model is told.
    type_and_send(qtbot, window, "Crash the server")
    qtbot.waitUntil(lambda: _card(window) is not None and _card(window).button_row.isVisibleTo(window), timeout=20000)
    qtbot.mouseClick(_card(window).buttons[Answer.DENY], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window, timeout=20000)
    assert _card(window).state.text() == "Declined"
    reply = window.store.message(window.presenter.chat.current_leaf())
    assert tool_calls(reply.parts)[0].status == TOOL_DECLINED
    assert fake_server.requests[-1]["messages"][-1]["role"] == "tool"

    # Opened again from the history: the same cards, the same text.
    conversation = window.presenter.chat.conversation.id
    window.presenter.chat.new_chat()
    window.presenter.chat.open(conversation)
    qtbot.waitUntil(lambda: len(message_views(window)) >= 4, timeout=5000)
    first_reply = [v for v in message_views(window) if v.message.role == "assistant"][0]
    assert [c.call.status for c in first_reply.tool_cards()] == [TOOL_DONE]
    assert first_reply.plain_text().count("Adding.") == 1 and "The sum is 42." in first_reply.plain_text()


def test_the_tools_button_turns_tools_off_for_this_chat_only(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url, tool_servers=(CALC,)))
    button = window.tools_button
    assert button.isVisibleTo(window) and button.isChecked()
    assert "the model may call the tools of calc" in button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not button.isChecked() and not window.chat.tools_on
    fake_server.queue(Reply(body=text_stream(["No tools here."])))
    type_and_send(qtbot, window, "hi")
    wait_idle(qtbot, window)
    assert "tools" not in fake_server.requests[-1]
    assert window.store.conversation(window.chat.conversation.id).tools is False
    # Turned on in a new chat; the first one keeps its own choice.
    first = window.chat.conversation.id
    window.new_chat()
    window.chat.set_tools(True)
    assert button.isChecked()
    window.open_conversation(first)
    assert not button.isChecked()


def test_no_tool_server_no_button(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    assert not window.tools_button.isVisibleTo(window)


def test_quick_ask_asks_on_its_own_card(qtbot, window_factory, fake_server):
    from desktop_chat.ui.quick_ask import QuickAsk

    main = window_factory(make_settings(fake_server.base_url, tool_servers=(CALC,)))
    quick_ask = QuickAsk(main.services, main.continue_from_quick_ask)
    qtbot.addWidget(quick_ask.window)
    quick_ask.open()
    quick = quick_ask.window
    fake_server.queue(
        Reply(body=tool_call_stream([("q1", "add", '{"a": 1, "b": 2}')])),
        Reply(body=text_stream(["Three."])),
    )
    qtbot.keyClicks(quick.composer, "1+2?")
    qtbot.keyClick(quick.composer, Qt.Key.Key_Return)

    def card():
        views = message_views(quick)
        cards = views[-1].tool_cards() if views else []
        return cards[0] if cards and cards[0].button_row.isVisibleTo(quick) else None

    qtbot.waitUntil(lambda: card() is not None, timeout=20000)
    qtbot.mouseClick(card().buttons[Answer.ONCE], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: quick_ask.chat.reply_task.done(), timeout=20000)
    assert tool_calls(quick_ask.chat.reply_task.result().message.parts)[0].result == "3"
    assert "Three." in message_views(quick)[-1].plain_text()


def test_typing_starts_the_tool_servers_before_the_send(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url, tool_servers=(CALC,)))
    server = window.services.tools.servers.server(CALC)
    assert not server.running
    qtbot.keyClicks(window.composer, "wh")
    qtbot.waitUntil(lambda: server.running, timeout=20000)
    assert [t.name for t in server.tools][:1] == ["add"]


def test_each_rounds_thought_stays_while_the_next_streams_as_when_reopened(qtbot, window_factory, fake_server):
    from tests.fakes.openai_server import chunk, reasoning_stream, sse

    window = window_factory(make_settings(fake_server.base_url, tool_servers=(CALC,)))
    first = tool_call_stream([("c1", "add", '{"a": 2, "b": 3}')], text="Let me add.")
    thought = chunk()
    thought["choices"][0]["delta"]["reasoning_content"] = "First thought."
    fake_server.queue(
        Reply(body=[first[0], sse(thought), *first[1:]]),
        Reply(body=reasoning_stream(["Second thought."], ["The sum ", "is 5."], delay=0.3)),
    )
    type_and_send(qtbot, window, "2+3?")
    qtbot.waitUntil(lambda: _card(window) is not None and _card(window).button_row.isVisibleTo(window), timeout=20000)
    qtbot.mouseClick(_card(window).buttons[Answer.ONCE], Qt.MouseButton.LeftButton)
    view = message_views(window)[-1]
    qtbot.waitUntil(lambda: "Second" in view.reasoning.text(), timeout=20000)
    streaming = view.reasoning.text()
    wait_idle(qtbot, window, timeout=20000)
    conversation = window.chat.conversation.id
    window.new_chat()
    window.open_conversation(conversation)
    qtbot.waitUntil(lambda: len(message_views(window)) >= 2, timeout=5000)
    assert streaming == message_views(window)[-1].reasoning.text() == "First thought.\n\nSecond thought."
