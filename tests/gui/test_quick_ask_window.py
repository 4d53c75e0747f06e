"""The quick-ask window and its chat, offscreen: ask, Esc, continue in the main window."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from desktop_chat.ui.quick_ask import TITLE, QuickAsk
from tests.fakes.openai_server import Reply, text_stream
from tests.gui.conftest import make_settings
from tests.gui.helpers import transcript_text


def setup(window_factory, fake_server, qtbot):
    main = window_factory(make_settings(fake_server.base_url))
    quick_ask = QuickAsk(main.services, main.continue_from_quick_ask)
    qtbot.addWidget(quick_ask.window)
    return main, quick_ask.window, quick_ask


def test_ask_stop_and_continue_in_main_window(qtbot, window_factory, fake_server):
    main, quick, quick_ask = setup(window_factory, fake_server, qtbot)
    assert quick.windowTitle() == TITLE and not quick.isVisible()
    quick_ask.toggle()
    assert quick.isVisible()
    assert (
        quick.windowFlags() & Qt.WindowType.FramelessWindowHint
        and quick.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    )
    fake_server.queue(Reply(body=text_stream(["Four."])))
    qtbot.keyClicks(quick.composer, "2+2?")
    qtbot.keyClick(quick.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: quick_ask.chat.reply_task is not None and quick_ask.chat.reply_task.done(), timeout=5000)
    assert "Four." in transcript_text(quick)
    assert quick.status.text() == "Esc closes · kept in your history"
    conversation_id = quick_ask.chat.conversation.id
    assert main.store.conversation(conversation_id).title == "2+2?"  # kept in the history
    # and listed in the main window's sidebar, which the store told
    qtbot.waitUntil(lambda: main.sidebar.conversation_list.model_.row_of(conversation_id) >= 0, timeout=3000)
    # Ctrl+Enter: carry on in the main window, with what was typed.
    qtbot.keyClicks(quick.composer, "and 3+3?")
    qtbot.keyClick(quick.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not quick.isVisible()
    assert main.conversation.id == conversation_id and "Four." in transcript_text(main)
    assert main.composer.toPlainText() == "and 3+3?"


def test_escape_hides_and_stops(qtbot, window_factory, fake_server):
    main, quick, quick_ask = setup(window_factory, fake_server, qtbot)
    quick_ask.open()
    fake_server.queue(Reply(body=text_stream(["still ", "going"], finish=None, usage=False, done=False), end="hang"))
    qtbot.keyClicks(quick.composer, "long question")
    qtbot.keyClick(quick.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "still going" in transcript_text(quick), timeout=5000)
    assert quick.status.text() == "Answering… Esc stops"
    qtbot.keyClick(quick.composer, Qt.Key.Key_Escape)
    assert not quick.isVisible()
    qtbot.waitUntil(lambda: quick_ask.chat.reply_task.done(), timeout=5000)
    assert fake_server.closed_early.wait(3)
    reply = main.store.message(main.store.conversation(quick_ask.chat.conversation.id).current_leaf_id)
    assert reply.status == "stopped" and reply.content == "still going"
    # Opening again starts a new conversation.
    first = quick_ask.chat.conversation.id
    quick_ask.toggle()
    assert quick_ask.chat.conversation is None and quick.isVisible() and not quick.chat_view.isVisible()
    quick_ask.toggle()
    assert not quick.isVisible() and first in [c.id for c in main.store.conversations()]


def test_quick_ask_keeps_enter_to_send_whatever_the_main_window_uses(qtbot, window_factory, fake_server, monkeypatch):
    from dataclasses import replace

    from PySide6.QtWidgets import QApplication

    from desktop_chat.ui.desktop import DesktopIntegration

    monkeypatch.delenv("DISPLAY", raising=False)  # no global shortcut here: said once, in a notice
    main = window_factory(replace(make_settings(fake_server.base_url), send_key="ctrl+enter"))
    desktop = DesktopIntegration(QApplication.instance(), main, main.services)
    quick = desktop.quick_ask.window
    qtbot.addWidget(quick)
    assert "not available" in main.notice_bar.text() or "No display" in main.notice_bar.text()
    desktop.quick_ask.open()
    # There Ctrl+Enter carries the question on in the main window; Enter sends.
    assert "Ctrl+Enter to continue in the main window" in quick.composer.placeholderText()
    fake_server.queue(Reply(body=text_stream(["Sent."])))
    qtbot.keyClicks(quick.composer, "quick one")
    qtbot.keyClick(quick.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Sent." in transcript_text(quick), timeout=5000)
    assert main.composer.send_with_ctrl_enter  # the main window's own choice stands
    desktop.close()


def test_a_long_error_does_not_widen_quick_ask_and_it_says_which_model_answers(qtbot, window_factory, fake_server):
    main, quick, quick_ask = setup(window_factory, fake_server, qtbot)
    main.services.directory.preferred = (None, "other-model")  # `--model other-model`, no --provider
    quick_ask.open()
    assert quick.model_label.text() == "other-model · Test server"
    width = quick.width()
    long_error = "The model other-model is not available here; " * 12
    fake_server.queue(
        Reply(
            status=400,
            headers={"content-type": "application/json"},
            body=[json.dumps({"error": {"message": long_error}}).encode()],
        )
    )
    qtbot.keyClicks(quick.composer, "hello?")
    qtbot.keyClick(quick.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: quick_ask.chat.reply_task is not None and quick_ask.chat.reply_task.done(), timeout=5000)
    qtbot.wait(50)
    assert "not available here" in quick.status.text()
    assert quick.width() == width  # the error wraps; Retry and Open in main window stay in view
    assert quick.open_button.geometry().right() <= quick.width()
    assert fake_server.requests[-1]["model"] == "other-model"
