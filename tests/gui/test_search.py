"""Ctrl+K: search every message as you type; a result opens its conversation at the match."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_chat.ui.search_dialog import SearchDialog
from tests.gui.conftest import make_settings
from tests.gui.helpers import transcript_text


def marks_in_view(window, message_id):
    """The marked words of a message, and whether each is where the reader can see it."""
    view = window.chat_view
    found = []
    for segment in view.message_view(message_id).segments:
        for mark in segment.extraSelections():
            rect = segment.cursorRect(mark.cursor)
            centre = segment.viewport().mapTo(view.viewport(), rect.center())
            found.append((mark.cursor.selectedText(), view.viewport().rect().contains(centre)))
    return found


def fill(store):
    first = store.create_conversation("Gardening")
    u = store.add_message(first.id, None, "user", "When should I plant tulips?")
    store.add_message(first.id, u.id, "assistant", "Plant tulip bulbs in autumn, before the ground freezes.")
    long = store.create_conversation("Long one")
    parent = None
    for i in range(60):
        m = store.add_message(long.id, parent, "user" if i % 2 == 0 else "assistant", f"filler message number {i}")
        parent = m.id
    store.add_message(long.id, parent, "user", "the zebra crossing question")
    # A branch that is not the current one holds the only "walrus".
    side = store.add_message(long.id, None, "user", "a walrus on another branch")
    store.add_message(long.id, parent, "assistant", "back on the main branch")
    return first, long, side


def test_search_as_you_type_and_open_the_hit(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    first, long, side = fill(window.store)
    window.composer.setFocus()
    qtbot.keyClick(window.composer, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(SearchDialog)
    qtbot.waitUntil(dialog.isVisible)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.field, timeout=3000)
    qtbot.keyClicks(dialog.field, "tuli")
    qtbot.waitUntil(lambda: dialog.results.count() == 2, timeout=2000)  # prefix: tulips, tulip
    label = dialog.results.itemWidget(dialog.results.item(0))
    assert "<b>tuli" in label.text().lower() and "Gardening" in label.text()
    dialog.field.clear()
    qtbot.keyClicks(dialog.field, "zebra")
    qtbot.waitUntil(lambda: dialog.results.count() == 1, timeout=2000)
    qtbot.keyClick(dialog.field, Qt.Key.Key_Return)
    assert window.conversation.id == long.id
    assert "the zebra crossing question" in transcript_text(window)
    hit = next(m for m in window.chat_view.message_ids() if "zebra" in window.store.message(m).content)
    bar = window.chat_view.verticalScrollBar()
    assert bar.maximum() > 0  # a long conversation, scrolled to the match:
    assert marks_in_view(window, hit) == [("zebra", True)]


def test_hit_on_another_branch_switches_to_it(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    first, long, side = fill(window.store)
    dialog = window.open_search()
    dialog.field.setText("walrus")
    dialog.run_search()
    assert len(dialog.hits) == 1
    qtbot.keyClick(dialog.field, Qt.Key.Key_Return)
    assert "a walrus on another branch" in transcript_text(window)
    assert "filler message number 3" not in transcript_text(window)


def test_no_results_and_hostile_query(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    fill(window.store)
    dialog = window.open_search()
    for text in ['"unbalanced', "NEAR(a b", "*", "<b>x</b>", "nothingmatcheshere"]:
        dialog.field.setText(text)
        dialog.run_search()
        assert dialog.results.count() == 0
    assert "0 results" in dialog.status.text()


def test_long_conversation_opens_at_its_end_and_scrolls_back_to_its_start(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    store = window.store
    conv = store.create_conversation("Very long")
    parent = None
    ids = []
    for i in range(600):
        parent = store.add_message(conv.id, parent, "user" if i % 2 == 0 else "assistant", f"line {i} marker{i}x").id
        ids.append(parent)
    window.open_conversation(conv.id)
    view = window.chat_view
    in_sight = [v.message.id for v in view.views_in_sight()]
    assert ids[-1] in in_sight and ids[0] not in in_sight
    # Only what is in sight (and near it) has a view: not 600 of them.
    assert len(view.findChildren(type(view.views_in_sight()[0]))) < 60
    view.verticalScrollBar().setValue(0)  # no "show earlier": scrolling up gets there
    assert ids[0] in [v.message.id for v in view.views_in_sight()]
    view.scroll_to_end()
    # A search hit far back is laid out and marked where the reader can see it.
    dialog = window.open_search()
    dialog.field.setText("marker3x")
    dialog.run_search()
    qtbot.keyClick(dialog.field, Qt.Key.Key_Return)
    assert marks_in_view(window, ids[3]) == [("marker3x", True)]


def test_a_hit_in_the_reasoning_unfolds_it_and_marks_the_words(qtbot, window_factory, fake_server):
    from desktop_chat.core.conversation import ReasoningPart, TextPart

    window = window_factory(make_settings(fake_server.base_url))
    store = window.store
    conversation = store.create_conversation("Sky")
    question = store.add_message(conversation.id, None, "user", "Why is the sky blue?")
    reply = store.add_message(conversation.id, question.id, "assistant", "", model="deepseek-reasoner")
    store.update_message(reply.id, parts=(ReasoningPart("Rayleigh scattering, mostly.", 4.0), TextPart("Sunlight.")))
    dialog = window.open_search()
    qtbot.keyClicks(dialog.field, "rayleigh")
    qtbot.waitUntil(lambda: dialog.results.count() == 1, timeout=2000)
    assert "Reasoning of a reply" in dialog.results.itemWidget(dialog.results.item(0)).text()
    qtbot.keyClick(dialog.field, Qt.Key.Key_Return)
    view = window.chat_view.message_view(reply.id)
    qtbot.waitUntil(lambda: view.reasoning.body.isVisible(), timeout=2000)
    marks = view.reasoning.body.extraSelections()
    assert [m.cursor.selectedText() for m in marks] == ["Rayleigh"]
