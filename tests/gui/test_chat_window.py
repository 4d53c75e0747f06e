"""The main window, offscreen: typing, streaming, stop, regenerate, edit, errors, links, keys."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QPushButton

from desktop_chat.core.conversation import STOPPED
from desktop_chat.ui.actions import MessageAction
from desktop_chat.ui.transcript.segments import CodeSegmentView
from tests.fakes.openai_server import DEMO_REPLY, Pause, Reply, demo_pieces, text_stream
from tests.gui.helpers import (
    action_button,
    click_action,
    click_link,
    documents,
    links,
    message_views,
    transcript_text,
    type_and_send,
    wait_idle,
)


def test_window_basics(window):
    assert window.windowTitle().endswith("Desktop Chat")
    names = {w.accessibleName() for w in window.findChildren(QObject) if hasattr(w, "accessibleName")}
    assert {"New chat", "Conversations", "Transcript", "Message", "Model", "Provider", "Send", "Stop"} <= names


def test_type_enter_streams_markdown_reply(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(demo_pieces(DEMO_REPLY), delay=0.002)))
    type_and_send(qtbot, window, "Show me")
    assert window.composer.toPlainText() == ""
    assert window.stop_button.isVisible() or window.chat.reply_task.done()
    wait_idle(qtbot, window)
    text = transcript_text(window)
    assert "Show me" in text
    assert "Here is a short answer" in text  # ** markers rendered away
    assert "**" not in text and "```" not in text and "|---|" not in text
    assert 'return f"Hello, {name}!"' in text
    html = "".join(document.toHtml() for document in documents(window))
    assert "font-weight:700" in html or "font-weight:600" in html  # bold rendered
    code = [s for v in message_views(window) for s in v.segments if isinstance(s, CodeSegmentView)]
    assert [c.language.text() for c in code] == ["python"] and code[
        0
    ].copy_button.accessibleName() == "Copy python code"
    assert not window.stop_button.isVisible() and window.send_button.isVisible()
    assert "34 completion" in window.usage_label.text()
    assert window.sidebar.conversation_list.model().rowCount() == 2  # "Today", then the conversation
    assert window.sidebar.conversation_list.model().index(0).data() == "Today"
    assert window.sidebar.conversation_list.model().index(1).data() == "Show me"
    sent = fake_server.requests[-1]
    assert sent["model"] == "test-model" and sent["messages"][-1] == {"role": "user", "content": "Show me"}


def test_shift_enter_is_a_new_line(qtbot, window, fake_server):
    qtbot.keyClicks(window.composer, "line one")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer, "line two")
    assert window.composer.toPlainText() == "line one\nline two"
    assert fake_server.requests == []
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    assert fake_server.requests[-1]["messages"][-1]["content"] == "line one\nline two"


def _hanging_reply():
    return Reply(body=text_stream(["partial ", "words"], finish=None, usage=False, done=False), end="hang")


def test_stop_button_keeps_partial_and_closes_connection(qtbot, window, fake_server):
    fake_server.queue(_hanging_reply())
    type_and_send(qtbot, window, "go")
    qtbot.waitUntil(lambda: "partial words" in transcript_text(window), timeout=5000)
    assert window.stop_button.isVisible()
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert fake_server.closed_early.wait(3)
    text = transcript_text(window)
    assert "partial words" in text and "Stopped." in text
    reply = window.store.message(window.store.conversation(window.conversation.id).current_leaf_id)
    assert reply.status == STOPPED and reply.content == "partial words"


def test_escape_stops(qtbot, window, fake_server):
    fake_server.queue(_hanging_reply())
    type_and_send(qtbot, window, "go")
    qtbot.waitUntil(lambda: "partial words" in transcript_text(window), timeout=5000)
    qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    wait_idle(qtbot, window)
    assert "Stopped." in transcript_text(window)


def test_regenerate_keeps_old_version_and_flips(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(["first answer"])), Reply(body=text_stream(["second answer"])))
    type_and_send(qtbot, window, "q")
    wait_idle(qtbot, window)
    click_action(qtbot, window, MessageAction.REGENERATE)
    wait_idle(qtbot, window)
    text = transcript_text(window)
    assert "second answer" in text and "first answer" not in text and "2/2" in text
    click_action(qtbot, window, MessageAction.PREVIOUS)
    text = transcript_text(window)
    assert "first answer" in text and "1/2" in text
    click_action(qtbot, window, MessageAction.NEXT)
    assert "second answer" in transcript_text(window)


def test_edit_and_resend_starts_a_branch(qtbot, window, fake_server):
    type_and_send(qtbot, window, "original question")
    wait_idle(qtbot, window)
    type_and_send(qtbot, window, "follow up")
    wait_idle(qtbot, window)
    click_action(qtbot, window, MessageAction.EDIT)
    assert window.composer.toPlainText() == "original question"
    assert window.edit_banner.isVisible()
    window.composer.selectAll()
    qtbot.keyClicks(window.composer, "edited question")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    text = transcript_text(window)
    assert "You said: edited question" in text and "follow up" not in text and "2/2" in text
    assert [m["content"] for m in fake_server.requests[-1]["messages"]] == ["edited question"]
    click_action(qtbot, window, MessageAction.PREVIOUS)
    text = transcript_text(window)
    assert "original question" in text and "follow up" in text and "1/2" in text


def test_failure_inline_with_retry(qtbot, window, fake_server):
    fake_server.queue(
        Reply(
            status=401,
            headers={"content-type": "application/json"},
            body=[b'{"error": {"message": "Incorrect API key"}}'],
        )
    )
    type_and_send(qtbot, window, "hello")
    wait_idle(qtbot, window)
    text = transcript_text(window)
    assert "rejected the API key (401)" in text
    assert action_button(window, MessageAction.RETRY)[1].accessibleName() == "Retry reply from test-model"
    assert window.composer.isEnabled()
    click_action(qtbot, window, MessageAction.RETRY)
    wait_idle(qtbot, window)
    assert "You said: hello" in transcript_text(window)


def test_cut_midstream_keeps_text_and_offers_retry(qtbot, window, fake_server):
    fake_server.queue(
        Reply(body=text_stream(["half an ", "answer"], finish=None, usage=False, done=False), end="reset")
    )
    type_and_send(qtbot, window, "hello")
    wait_idle(qtbot, window)
    text = transcript_text(window)
    assert "half an answer" in text and "cut mid-reply" in text
    action_button(window, MessageAction.RETRY)


def test_typed_text_survives_a_failure(qtbot, window, fake_server):
    fake_server.queue(Reply(body=[Pause(0.3)] + text_stream(["x"], finish=None, usage=False, done=False), end="reset"))
    type_and_send(qtbot, window, "first")
    qtbot.keyClicks(window.composer, "draft typed while waiting")
    wait_idle(qtbot, window)
    assert window.composer.toPlainText() == "draft typed while waiting"


def test_view_follows_unless_scrolled_up(qtbot, window, fake_server):
    long_reply = [f"Line {i} of a long reply.\n\n" for i in range(120)]
    fake_server.queue(Reply(body=text_stream(long_reply, delay=0.002)))
    type_and_send(qtbot, window, "long")
    wait_idle(qtbot, window)
    bar = window.chat_view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    # Now scroll up while a second reply streams: the view must stay put.
    fake_server.queue(Reply(body=text_stream(long_reply, delay=0.004)))
    type_and_send(qtbot, window, "again")
    qtbot.waitUntil(lambda: "Line 5 of" in transcript_text(window).split("again")[-1], timeout=5000)
    bar.setValue(100)
    wait_idle(qtbot, window)
    assert bar.value() == 100 and bar.maximum() > 100


def test_five_megabyte_paste(qtbot, window, fake_server):
    big = ("0123456789abcdef" * 64 + "\n") * 5000  # ~5 MB
    data = QMimeData()
    data.setText(big)
    window.composer.insertFromMimeData(data)
    assert len(window.composer.toPlainText()) == len(big)
    fake_server.queue(Reply(body=text_stream(["got it"])))
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    wait_idle(qtbot, window, timeout=30000)
    assert len(fake_server.requests[-1]["messages"][-1]["content"]) == len(big)
    assert "more characters not shown" in transcript_text(window) and "got it" in transcript_text(window)
    # Copy gives the whole message, not the part shown.
    click_action(qtbot, window, MessageAction.COPY)
    assert QGuiApplication.clipboard().text() == big


class LinkCatcher(QObject):
    def __init__(self):
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url):
        self.opened.append(url.toString())


def test_links_open_only_on_click_and_only_web_or_mail(qtbot, window, fake_server):
    catcher = LinkCatcher()
    # Qt's own hook for the system URL handler, so nothing is actually launched.
    for scheme in ("https", "http", "mailto", "file", "javascript"):
        QDesktopServices.setUrlHandler(scheme, catcher, "open")
    try:
        hostile = (
            "[site](https://example.org/page) [js](javascript:alert(1)) [f](file:///etc/passwd) "
            "<a href='https://evil.example'>raw</a> ![pic](https://example.org/pixel.png)\n"
        )
        fake_server.queue(Reply(body=text_stream([hostile])))
        type_and_send(qtbot, window, "links")
        wait_idle(qtbot, window)
        assert catcher.opened == []  # nothing opened or fetched by showing it
        hrefs = links(window)
        assert "https://example.org/page" in hrefs and "https://example.org/pixel.png" in hrefs
        assert not any(h.startswith(("javascript", "file")) for h in hrefs)
        assert "https://evil.example" not in hrefs  # raw HTML is shown as text
        assert "<a href='https://evil.example'>raw</a>" in transcript_text(window)
        click_link(qtbot, window, "https://example.org/page")
        assert catcher.opened == ["https://example.org/page"]
    finally:
        for scheme in ("https", "http", "mailto", "file", "javascript"):
            QDesktopServices.unsetUrlHandler(scheme)


def test_copy_message_code_and_last_reply(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(demo_pieces(DEMO_REPLY))))
    type_and_send(qtbot, window, "demo")
    wait_idle(qtbot, window)
    clipboard = QGuiApplication.clipboard()
    code = next(s for v in message_views(window) for s in v.segments if isinstance(s, CodeSegmentView))
    qtbot.mouseClick(code.copy_button, Qt.MouseButton.LeftButton)
    assert clipboard.text() == 'def greet(name: str) -> str:\n    return f"Hello, {name}!"'
    clipboard.clear()
    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert clipboard.text() == DEMO_REPLY
    clipboard.clear()
    # The Copy button under the reply (the last message) copies it as markdown too.
    click_action(qtbot, window, MessageAction.COPY, "last")
    assert clipboard.text() == DEMO_REPLY


def test_keyboard_new_chat_focus_and_rename(qtbot, window, fake_server):
    type_and_send(qtbot, window, "first chat")
    wait_idle(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.conversation is None and transcript_text(window) == ""
    assert window.chat_view.empty.isVisible() and window.chat_view.empty.title.text() == "Start a conversation"
    window.sidebar.conversation_list.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.composer
    window.sidebar.conversation_list.setCurrentIndex(window.sidebar.conversation_list.model().index(1))
    qtbot.keyClick(window, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert editor.parent() is window.sidebar.conversation_list.viewport() and hasattr(editor, "setText")
    editor.setText("Renamed")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # The delegate commits on its next turn of the event loop.
    qtbot.waitUntil(lambda: window.store.conversations()[0].title == "Renamed", timeout=3000)


def test_models_listed_from_the_provider(qtbot, window):
    assert window.picker.model_box.count() == 1  # nothing asked at start-up
    window.picker.model_box.showPopup()
    qtbot.waitUntil(lambda: window.picker.model_box.count() >= 2, timeout=5000)
    window.picker.model_box.hidePopup()
    items = [window.picker.model_box.itemText(i) for i in range(window.picker.model_box.count())]
    assert "other-model" in items and window.picker.model_box.currentText() == "test-model"
    # Free entry: any name is used as typed.
    window.picker.model_box.setEditText("my-own-model")
    assert window.picker.model_box.currentText() == "my-own-model"


def test_conversations_reopen_with_their_messages(qtbot, window, fake_server):
    type_and_send(qtbot, window, "one")
    wait_idle(qtbot, window)
    first_id = window.conversation.id
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    type_and_send(qtbot, window, "two")
    wait_idle(qtbot, window)
    window.open_conversation(first_id)
    text = transcript_text(window)
    assert "You said: one" in text and "two" not in text


def test_dark_scheme_renders_dark_code(qtbot, window, fake_server):
    window.chat_view.set_dark(True)
    fake_server.queue(Reply(body=text_stream(["```py\nx = 1\n```\n"])))
    type_and_send(qtbot, window, "code")
    wait_idle(qtbot, window)
    code = next(s for v in message_views(window) for s in v.segments if isinstance(s, CodeSegmentView))
    image = code.grab().toImage()
    # The code's box, right of the short line: the dark palette's code background.
    assert image.pixelColor(code.width() - 12, code.height() - 12).name() == "#1e1f24"


def test_delete_with_undo(qtbot, window, fake_server):
    type_and_send(qtbot, window, "keep me?")
    wait_idle(qtbot, window)
    conversation_id = window.conversation.id
    window.sidebar.delete()
    assert window.store.conversations() == [] and window.conversation is None
    assert window.sidebar.undo_bar.isVisible()
    qtbot.mouseClick(window.sidebar.undo_bar.findChild(QPushButton), Qt.MouseButton.LeftButton)
    assert [c.id for c in window.store.conversations()] == [conversation_id]
    assert "You said: keep me?" in transcript_text(window)
    window.sidebar.delete()
    assert window.store.purge_trash() == 1  # what the next start does


def test_message_actions_from_the_keyboard(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(["first"])), Reply(body=text_stream(["second"])))
    type_and_send(qtbot, window, "q")
    wait_idle(qtbot, window)
    window.composer.setFocus()
    # Shift+Tab from the message box lands on the last message; Tab goes into its buttons.
    qtbot.keyClick(window.composer, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    reply = message_views(window)[-1]
    assert QApplication.focusWidget() is reply and reply.accessibleName() == "Reply from test-model"
    qtbot.keyClick(reply, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is reply.buttons[MessageAction.COPY]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    regenerate = QApplication.focusWidget()
    assert regenerate is reply.buttons[MessageAction.REGENERATE]
    assert regenerate.accessibleName() == "Regenerate reply from test-model"
    qtbot.keyClick(regenerate, Qt.Key.Key_Space)
    wait_idle(qtbot, window)
    assert "second" in transcript_text(window) and "2/2" in transcript_text(window)


def test_reply_with_no_text_says_so(qtbot, window, fake_server):
    from tests.fakes.openai_server import recorded

    fake_server.queue(Reply(body=[recorded("openai_python__tool_call_single.sse")]))
    type_and_send(qtbot, window, "weather?")
    wait_idle(qtbot, window)
    assert "(no text)" in transcript_text(window)
    window.chat.show_current()  # and the same when the conversation is shown again
    assert "(no text)" in transcript_text(window)


def test_continue_a_stopped_reply_in_the_same_message(qtbot, window, fake_server):
    fake_server.queue(_hanging_reply(), Reply(body=text_stream([" and the rest."])))
    type_and_send(qtbot, window, "go")
    qtbot.waitUntil(lambda: "partial words" in transcript_text(window), timeout=5000)
    window.chat.stop()
    wait_idle(qtbot, window)
    click_action(qtbot, window, MessageAction.CONTINUE)
    wait_idle(qtbot, window)
    sent = fake_server.requests[-1]["messages"]
    assert sent[-2] == {"role": "assistant", "content": "partial words"}
    assert "Continue exactly where" in sent[-1]["content"]
    reply = window.store.message(window.store.conversation(window.conversation.id).current_leaf_id)
    assert reply.content == "partial words and the rest." and reply.status == "complete"
    assert "partial words and the rest." in transcript_text(window)
    assert len(window.chat.tree.siblings(reply.id)) == 1  # the same message, not a new version


def test_model_titles_after_the_first_exchange(qtbot, window_factory, fake_server):
    from dataclasses import replace

    from tests.gui.conftest import make_settings

    window = window_factory(replace(make_settings(fake_server.base_url), model_titles=True))
    fake_server.queue(
        Reply(body=text_stream(["Boiling eggs takes ten minutes."])),
        Reply(body=text_stream(['"Perfect ', 'Boiled Eggs"'])),
    )
    type_and_send(qtbot, window, "how do I boil an egg so that it is just right?")
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.chat.title_task is not None and window.chat.title_task.done(), timeout=5000)
    assert window.store.conversation(window.conversation.id).title == "Perfect Boiled Eggs"
    assert window.title_label.text() == "Perfect Boiled Eggs"
    title_request = fake_server.requests[-1]
    assert "title" in title_request["messages"][0]["content"].lower()
    # Later replies do not ask again.
    count = len(fake_server.requests)
    type_and_send(qtbot, window, "and soft?")
    wait_idle(qtbot, window)
    assert len(fake_server.requests) == count + 1


def test_a_draft_stays_with_its_conversation_and_the_usage_with_its_reply(qtbot, window, fake_server):
    type_and_send(qtbot, window, "first chat")
    wait_idle(qtbot, window)
    first = window.conversation.id
    assert "34 completion" in window.usage_label.text()
    qtbot.keyClicks(window.composer, "half a thought")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    # A new chat starts empty, with nothing of the other chat's last reply.
    assert window.composer.toPlainText() == "" and window.usage_label.text() == ""
    qtbot.keyClicks(window.composer, "for the new one")
    window.open_conversation(first)
    assert window.composer.toPlainText() == "half a thought"
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.composer.toPlainText() == "for the new one"
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)  # sent: not a draft of anything any more
    wait_idle(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.composer.toPlainText() == ""


def test_giving_up_an_edit_gives_the_draft_back(qtbot, window, fake_server):
    type_and_send(qtbot, window, "original question")
    wait_idle(qtbot, window)
    qtbot.keyClicks(window.composer, "my draft")
    click_action(qtbot, window, MessageAction.EDIT)
    assert window.composer.toPlainText() == "original question"
    qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    assert window.composer.toPlainText() == "my draft" and not window.edit_banner.isVisible()


def test_editing_shows_one_reply_not_an_empty_one_above_it(qtbot, window, fake_server):
    type_and_send(qtbot, window, "original question")
    wait_idle(qtbot, window)
    click_action(qtbot, window, MessageAction.EDIT)
    window.composer.selectAll()
    qtbot.keyClicks(window.composer, "edited question")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    replies = [v for v in message_views(window) if v.message.role == "assistant"]
    assert len(replies) == 1 and len(window.chat_view.message_ids()) == 2  # one reply, no empty one


def test_failed_retries_do_not_pile_up_as_versions(qtbot, window, fake_server):
    refused = Reply(status=401, headers={"content-type": "application/json"}, body=[b'{"error": {"message": "no"}}'])
    fake_server.queue(refused, refused, refused)
    type_and_send(qtbot, window, "hello")
    wait_idle(qtbot, window)
    for _ in range(2):
        click_action(qtbot, window, MessageAction.RETRY)
        wait_idle(qtbot, window)
        assert "rejected the API key (401)" in transcript_text(window) and "1/" not in transcript_text(window)
    click_action(qtbot, window, MessageAction.RETRY)  # and now it answers
    wait_idle(qtbot, window)
    text = transcript_text(window)
    assert "You said: hello" in text and "401" not in text and "2/" not in text
    replies = [m for m in window.chat.tree.messages.values() if m.role == "assistant"]
    assert len(replies) == 1 and replies[0].status == "complete" and replies[0].error is None


def test_switching_versions_keeps_the_view_where_the_reader_is(qtbot, window, fake_server):
    # Two versions of a reply in the middle of a long conversation, each with its own long
    # continuation (as after a regenerate and more questions).
    store = window.store
    conversation = store.create_conversation("Long, with versions")
    parent = None
    for i in range(6):
        parent = store.add_message(conversation.id, parent, "user", f"question {i}").id
        parent = store.add_message(conversation.id, parent, "assistant", f"answer {i}").id
    asked = parent
    branches = []
    for version in ("A", "B"):
        tip = store.add_message(conversation.id, asked, "user", f"the question with versions ({version})").id
        reply = store.add_message(conversation.id, tip, "assistant", f"version {version} of the reply").id
        branches.append(reply)
        for i in range(8):
            tip = store.add_message(conversation.id, reply if i == 0 else tip, "user", f"{version} follow-up {i}").id
            tip = store.add_message(conversation.id, tip, "assistant", "\n\n".join(["a long answer"] * 6)).id
    window.open_conversation(conversation.id)
    view = window.chat_view
    question = store.message(branches[1]).parent_id
    view.scroll_to_message(question, at=120)  # the reader is at version B, mid-conversation
    bar = view.verticalScrollBar()
    assert 0 < bar.value() < bar.maximum()
    click_action(qtbot, window, MessageAction.PREVIOUS, question)
    assert "the question with versions (A)" in transcript_text(window) and "1/2" in transcript_text(window)
    shown = next(m for m in view.message_ids() if store.message(m).content.endswith("(A)"))
    assert view.message_top(shown) == 120  # the version where the other was, not the bottom


def test_sending_while_scrolled_up_shows_the_question_and_the_reply(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream([f"Line {i} of a long reply.\n\n" for i in range(120)])))
    type_and_send(qtbot, window, "long")
    wait_idle(qtbot, window)
    bar = window.chat_view.verticalScrollBar()
    bar.setValue(0)  # reading from the top
    fake_server.queue(Reply(body=text_stream(["the answer to the new question"])))
    type_and_send(qtbot, window, "a new question")
    wait_idle(qtbot, window)
    assert bar.value() == bar.maximum()  # sent: the question and its reply are in view


def test_a_long_code_line_wraps_in_its_block_not_the_whole_transcript(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(["```python\nx = " + "'long' + " * 80 + "'end'\n```\n"])))
    type_and_send(qtbot, window, "code")
    wait_idle(qtbot, window)
    view = window.chat_view
    assert view.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    reply = message_views(window)[-1]
    code = next(s for s in reply.segments if isinstance(s, CodeSegmentView))
    # The message keeps to the column; the code scrolls sideways in its own box.
    assert reply.width() <= view.viewport().width() and code.width() == reply.width()
    assert code.body.horizontalScrollBar().maximum() > 0 and code.body.horizontalScrollBar().isVisible()
