"""The transcript as a reader uses it: one view per message, laid out only near sight, the
place kept while heights change, Jump to latest, find, the keyboard, zoom, copy, the look."""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from desktop_chat.ui.actions import MessageAction
from desktop_chat.ui.transcript import MessageView
from desktop_chat.ui.transcript.segments import CodeSegmentView, TextSegmentView
from tests.gui.helpers import message_views, type_and_send, wait_idle

REPLY = (
    "Some **bold** text to open with, long enough to wrap once or twice in a column of the "
    "transcript when the window is narrow.\n\n- one\n- two\n\n```python\nprint('hi')\n```\n\nAfter the code.\n"
)


def long_conversation(window, messages: int = 300) -> list[int]:
    """A conversation of `messages` messages (replies with markdown), opened; their ids."""
    store = window.store
    conversation = store.create_conversation("Long", "Test server", "test-model")
    parent, ids = None, []
    for i in range(messages):
        if i % 2 == 0:
            message = store.add_message(conversation.id, parent, "user", f"question {i}: marker{i}x")
        else:
            message = store.add_message(
                conversation.id,
                parent,
                "assistant",
                f"Answer {i} marker{i}x.\n\n" + REPLY * (1 + i % 3),
                model="gpt-4o",
            )
        parent = message.id
        ids.append(parent)
    window.open_conversation(conversation.id)
    return ids


def close(colour, other) -> bool:
    return (
        max(abs(colour.red() - other.red()), abs(colour.green() - other.green()), abs(colour.blue() - other.blue()))
        < 60
    )


def in_sight(window) -> list[int]:
    return [view.message.id for view in window.chat_view.views_in_sight()]


def test_each_text_is_as_tall_as_its_lines_at_the_width_it_is_shown(qtbot, window):
    long_conversation(window, 12)
    for message in window.chat_view.views_in_sight():
        for segment in message.segments:
            if isinstance(segment, TextSegmentView):
                document = segment.document()
                assert document.textWidth() == segment.width()
                assert segment.height() == math.ceil(document.size().height())


def test_only_what_is_near_sight_has_a_view_and_the_place_is_kept_while_scrolling_up(qtbot, window):
    ids = long_conversation(window, 300)
    view = window.chat_view
    assert ids[-1] in in_sight(window) and view.following
    assert len(window.findChildren(MessageView)) < 80  # not 300
    bar = view.verticalScrollBar()
    # Scroll up a wheel step at a time: messages above are laid out (their estimated
    # heights replaced by measured ones) and yet what is in view moves by the step only.
    for _ in range(40):
        top = view.views_in_sight()[-1]
        before = view.message_top(top.message.id)
        bar.setValue(bar.value() - 60)
        assert view.message_top(top.message.id) == before + 60
    assert not view.following and view.jump_button.isVisible()
    bar.setValue(0)
    assert ids[0] in in_sight(window) and view.message_top(ids[0]) > 0


def test_jump_to_latest_comes_back_to_the_end_and_follows(qtbot, window, fake_server):
    ids = long_conversation(window, 40)
    view = window.chat_view
    view.verticalScrollBar().setValue(0)
    assert view.jump_button.isVisible() and view.jump_button.accessibleName() == "Jump to the latest message"
    qtbot.mouseClick(view.jump_button, Qt.MouseButton.LeftButton)
    assert ids[-1] in in_sight(window) and view.following and not view.jump_button.isVisible()
    bar = view.verticalScrollBar()
    assert bar.value() == bar.maximum()


def test_a_resize_keeps_the_message_being_read_at_the_top(qtbot, window):
    ids = long_conversation(window, 60)
    view = window.chat_view
    view.scroll_to_message(ids[20], at=40)
    wide = view.viewport().width()
    window.resize(window.minimumSizeHint().width(), 600)
    qtbot.waitUntil(lambda: view.viewport().width() < wide - 100, timeout=3000)
    assert view.message_top(ids[20]) == 40
    window.resize(1200, 700)
    qtbot.waitUntil(lambda: view.viewport().width() > 800, timeout=3000)
    assert view.message_top(ids[20]) == 40
    # A wide window: the reading column keeps its width, in the middle.
    message = view.message_view(ids[20])
    assert message.width() == 760 and abs(message.x() - (view.viewport().width() - 760) // 2) <= 1


def test_find_in_the_conversation(qtbot, window):
    ids = long_conversation(window, 60)
    view = window.chat_view
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = window.find_bar
    assert bar.isVisible() and QApplication.focusWidget() is bar.field
    qtbot.keyClicks(bar.field, "MARKER2")  # in messages 2 and 20-29 (case does not matter)
    # From the end of the conversation, round to its first hit.
    assert bar.result.text() == "1 of 11" and ids[2] in in_sight(window)
    qtbot.keyClick(bar.field, Qt.Key.Key_Return)
    assert bar.result.text() == "2 of 11"
    message = view.message_view(ids[20])
    marks = [m for s in message.segments if isinstance(s, TextSegmentView) for m in s.extraSelections()]
    assert [m.cursor.selectedText() for m in marks] == ["marker2"]
    assert ids[20] in in_sight(window)
    qtbot.keyClick(bar.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(bar.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert bar.result.text() == "11 of 11" and ids[29] in in_sight(window)
    bar.field.clear()
    qtbot.keyClicks(bar.field, "no such words")
    assert bar.result.text() == "No matches"
    qtbot.keyClick(bar.field, Qt.Key.Key_Escape)
    assert not bar.isVisible() and QApplication.focusWidget() is window.composer


def test_the_keyboard_moves_between_messages_and_into_their_buttons(qtbot, window):
    ids = long_conversation(window, 30)
    view = window.chat_view
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    last = QApplication.focusWidget()
    assert isinstance(last, MessageView) and last.message.id == ids[-1]
    qtbot.keyClick(last, Qt.Key.Key_Up)
    focused = QApplication.focusWidget()
    assert isinstance(focused, MessageView) and focused.message.id == ids[-2]
    assert focused.accessibleName() == "Your message" and ids[-2] in in_sight(window)
    # A focus ring is drawn, round the bubble (and gone when the focus goes).
    ring = QPoint(focused._bubble.center().x(), focused._bubble.top() + 1)
    highlight = focused.palette().color(QPalette.ColorRole.Highlight)
    assert close(focused.grab().toImage().pixelColor(ring), highlight)
    previous = focused
    for _ in range(6):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Up)
    focused = QApplication.focusWidget()
    assert focused.message.id == ids[-8] and ids[-8] in in_sight(window) and not view.following
    assert not close(previous.grab().toImage().pixelColor(ring), highlight)
    # Tab: into this message's buttons (shown while it has the focus), then out of the
    # transcript: not through every message and link of it.
    qtbot.keyClick(focused, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is focused.buttons[MessageAction.COPY] and focused.active
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is focused.buttons[MessageAction.EDIT]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert not view.isAncestorOf(QApplication.focusWidget())
    # Ctrl+C on a message copies it; End goes to the last one.
    view.focus_message(ids[-3])
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == window.store.message(ids[-3]).content
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_End)
    assert QApplication.focusWidget().message.id == ids[-1] and view.following
    # F6 goes round the panes: list, transcript, message box.
    window.composer.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert QApplication.focusWidget() is window.sidebar.conversation_list
    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert isinstance(QApplication.focusWidget(), MessageView)
    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert QApplication.focusWidget() is window.composer
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is window.sidebar.conversation_list


def test_actions_show_on_the_pointer_and_always_on_the_last_reply(qtbot, window, fake_server):
    type_and_send(qtbot, window, "first")
    wait_idle(qtbot, window)
    type_and_send(qtbot, window, "second")
    wait_idle(qtbot, window)
    first_reply, last_reply = [v for v in message_views(window) if v.message.role == "assistant"]
    assert last_reply.buttons[MessageAction.REGENERATE].isVisible()
    assert last_reply.buttons[MessageAction.COPY].accessibleName() == "Copy reply from test-model"
    regenerate = first_reply.buttons[MessageAction.REGENERATE]
    assert not regenerate.isVisible()
    qtbot.mouseMove(first_reply, QPoint(20, 10))
    qtbot.waitUntil(regenerate.isVisible, timeout=2000)
    qtbot.mouseMove(window.composer)
    qtbot.waitUntil(lambda: not regenerate.isVisible(), timeout=2000)


def test_your_messages_are_bubbles_on_the_right_and_replies_name_their_model(qtbot, window):
    long_conversation(window, 4)
    question, reply = message_views(window)[:2]
    assert question.segments[0].toPlainText() == "question 0: marker0x"
    bubble = question._bubble
    assert bubble.right() == question.width() - 1 and bubble.width() < question.width() // 2
    assert reply.header.text() == "GPT-4o" and reply.header.toolTip() == "gpt-4o"
    assert reply.accessibleName() == "Reply from GPT-4o"
    code = next(s for s in reply.segments if isinstance(s, CodeSegmentView))
    assert code.language.text() == "python" and code.x() == 0 and code.width() == reply.width()


def test_zoom_changes_the_text_size_and_keeps_it(qtbot, window):
    long_conversation(window, 6)
    view = window.chat_view
    size = view.look.font.pointSizeF()
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert window.settings.current.font_size == round(size) + 2
    assert view.look.font.pointSizeF() == round(size) + 2
    reply = next(v for v in view.views_in_sight() if v.message.role == "assistant")
    text = next(s for s in reply.segments if isinstance(s, TextSegmentView))
    assert text.font().pointSizeF() == round(size) + 2
    assert text.height() == math.ceil(text.document().size().height())  # laid out again
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.settings.current.font_size == round(size) + 1
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.settings.current.font_size == 0 and view.look.font.pointSizeF() == size


def test_copy_conversation_gives_all_of_it_as_markdown(qtbot, window, fake_server):
    type_and_send(qtbot, window, "hello there")
    wait_idle(qtbot, window)
    window.presenter.copy_conversation()
    text = QGuiApplication.clipboard().text()
    assert text.startswith("**You:**\n\nhello there\n\n---\n\n**test-model:**\n\n")
    assert window.store.message(window.chat.current_leaf()).content in text
