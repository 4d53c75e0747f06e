"""A reply's reasoning in the window: streamed live above the answer with a running clock,
folded once the answer starts, unfolded by a click, copied on its own, the same when the
conversation is opened again; never part of the answer that is copied."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

from desktop_chat.ui.actions import MessageAction
from desktop_chat.ui.transcript.segments import TextSegmentView
from tests.fakes.openai_server import Reply, reasoning_stream, text_stream
from tests.gui.helpers import click_action, message_views, type_and_send, wait_idle

THOUGHTS = ["The user asks ", "for a sum. ", "Two and two ", "make four."]


def last_reply(window):
    return [v for v in message_views(window) if v.message.role == "assistant"][-1]


def answer_text(view) -> str:
    return "\n".join(s.toPlainText() for s in view.segments if isinstance(s, TextSegmentView))


def test_reasoning_streams_above_the_answer_then_folds(qtbot, window, fake_server):
    fake_server.queue(Reply(body=reasoning_stream(THOUGHTS, ["The answer ", "is **4**."], delay=0.3)))
    type_and_send(qtbot, window, "2+2?")
    # While it thinks: the thought shows as it arrives, under a running clock.
    qtbot.waitUntil(lambda: last_reply(window).reasoning is not None, timeout=5000)
    thought = last_reply(window).reasoning
    qtbot.waitUntil(lambda: "for a sum" in thought.text(), timeout=5000)
    assert thought.toggle.text().startswith("Thinking…")
    assert thought.body.isVisible() and answer_text(last_reply(window)) == ""
    wait_idle(qtbot, window)
    view = last_reply(window)
    thought = view.reasoning
    assert thought.text() == "".join(THOUGHTS)
    assert thought.toggle.text().startswith("Thought for")
    assert not thought.body.isVisible()  # folded once the answer started
    assert answer_text(view) == "The answer is 4."
    assert thought.y() + thought.height() <= view.segments[0].y()  # above the answer
    # A click unfolds it, and the message grows to show it.
    height = view.height()
    thought.toggle.click()
    qtbot.waitUntil(thought.body.isVisible, timeout=2000)
    qtbot.waitUntil(lambda: view.height() > height, timeout=2000)
    assert thought.toggle.accessibleName().startswith("Thought for") and "Hide the reasoning" in (
        thought.toggle.accessibleName()
    )
    # Copy on the thought gives the thought; Copy on the reply gives the answer alone.
    thought.copy_button.click()
    assert QGuiApplication.clipboard().text() == "".join(THOUGHTS)
    click_action(qtbot, window, MessageAction.COPY, "last")
    assert QGuiApplication.clipboard().text() == "The answer is **4**."
    # Opened again: the same thought, folded, with the same words above it.
    label = thought.toggle.text()
    conversation_id = view.message.conversation_id
    window.new_chat()
    window.open_conversation(conversation_id)
    again = last_reply(window)
    qtbot.waitUntil(lambda: again.reasoning is not None and again.reasoning.isVisible(), timeout=3000)
    assert again.reasoning.text() == "".join(THOUGHTS)
    assert again.reasoning.toggle.text() == label
    assert not again.reasoning.body.isVisible()


def test_the_setting_keeps_reasoning_shown(qtbot, window, fake_server):
    from dataclasses import replace

    window.settings.update(replace(window.settings.current, reasoning="show"))
    fake_server.queue(Reply(body=reasoning_stream(["Hmm."], ["Yes."])))
    type_and_send(qtbot, window, "q")
    wait_idle(qtbot, window)
    thought = last_reply(window).reasoning
    assert thought.body.isVisible() and thought.text() == "Hmm."


def test_a_closing_tag_moves_what_was_shown_into_the_thought(qtbot, window, fake_server):
    # Made-up content (no public recording has it): a template that opened <think> in
    # the prompt, so the model writes only the closing tag.
    pieces = ["Let me ", "count the ", "letters.\n", "</think>\n\n", "There are ", "three."]
    fake_server.queue(Reply(body=text_stream(pieces, delay=0.2)))
    type_and_send(qtbot, window, "How many r in strawberry?")
    qtbot.waitUntil(lambda: "count the" in answer_text(last_reply(window)), timeout=5000)
    wait_idle(qtbot, window)
    view = last_reply(window)
    assert answer_text(view) == "There are three."
    assert view.reasoning.text() == "Let me count the letters.\n"
    saved = window.store.message(view.message.id)
    assert saved.content == "There are three." and saved.reasoning.text == "Let me count the letters.\n"
    # The next reply of this model is known to think that way: nothing of its thought is
    # shown as answer, even for a moment.
    fake_server.queue(Reply(body=text_stream(["Again ", "thinking.", "</think>", "Done."], delay=0.2)))
    type_and_send(qtbot, window, "again")
    shown: list[str] = []
    qtbot.waitUntil(
        lambda: shown.append(answer_text(last_reply(window))) or window.chat.reply_task.done(), timeout=8000
    )
    assert all("thinking" not in text for text in shown)
    assert answer_text(last_reply(window)) == "Done."


def test_a_thought_that_never_closes_is_shown_as_the_thought(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(["<think>", "x" * 50_000])))
    type_and_send(qtbot, window, "q")
    wait_idle(qtbot, window)
    view = last_reply(window)
    assert len(view.reasoning.text()) == 50_000 and answer_text(view) == ""
    assert view.reasoning.body.isVisible()  # no answer to read: the thought is open


def test_a_view_shown_for_another_message_forgets_the_thought(qtbot):
    from desktop_chat.core.conversation import STREAMING, Message
    from desktop_chat.ui.transcript import MessageItem, MessageView
    from desktop_chat.ui.transcript.message_view import Look

    view = MessageView(Look())
    qtbot.addWidget(view)
    view.bind(MessageItem(Message(1, 1, None, "assistant", "", STREAMING, model="m")))
    view.begin_stream()
    view.feed_reasoning("thinking about the first question")
    assert view.reasoning.thinking and view.reasoning.isVisibleTo(view)
    # Another chat opened: the view is shown for another message, then for a new reply.
    view.bind(MessageItem(Message(2, 2, None, "assistant", "Old answer.", "complete", model="m")))
    assert not view.reasoning.thinking and not view.reasoning.isVisibleTo(view)
    view.bind(MessageItem(Message(3, 2, None, "assistant", "", STREAMING, model="m")))
    view.begin_stream()
    view.feed_reasoning("the second")
    assert view.reasoning.text() == "the second" and view.reasoning.thinking
