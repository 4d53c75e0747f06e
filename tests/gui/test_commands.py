"""The commands table: what the README promises, and what the window does when the disk refuses
a change made from it."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt

from desktop_chat.ui.actions import COMMANDS, Command, MessageAction
from desktop_chat.ui.conversation_settings import ConversationSettingsDialog
from tests.fakes.openai_server import Reply, text_stream
from tests.gui.helpers import click_action, transcript_text, type_and_send, wait_idle

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_names_each_shortcut_as_the_menus_do():
    text = README.read_text(encoding="utf-8")
    keys = " ".join(text.split("- Keys (the menus show them too):", 1)[1].split("\n- ", 1)[0].split())
    expected = [
        f"{spec.shortcut} {spec.text.replace('&', '').replace('…', '').lower()}"
        for spec in COMMANDS
        if spec.shortcut and spec.menu
    ]
    for entry in expected:
        assert entry in keys, entry
    # ...and no other key: Ctrl+, once said "providers" there, while it opens Settings.
    assert len(re.findall(r"(?:^|\s)(?:Ctrl\+|F\d|Esc\b)", keys)) == len(expected)


def test_each_command_has_a_place_and_a_shortcut_only_once():
    shortcuts = [spec.shortcut for spec in COMMANDS if spec.shortcut]
    assert len(shortcuts) == len(set(shortcuts))
    assert all(spec.menu or spec.tray or spec.sidebar for spec in COMMANDS)
    assert {spec.command for spec in COMMANDS} == set(Command)


def test_changes_the_disk_refuses_are_said_and_the_window_goes_on(qtbot, window, fake_server):
    # A conversation with two versions of a reply cut at the token limit (so it offers
    # Continue), and another conversation whose only mention of "walrus" is off its branch.
    fake_server.queue(
        Reply(body=text_stream(["first"], finish="length")), Reply(body=text_stream(["second"], finish="length"))
    )
    type_and_send(qtbot, window, "q")
    wait_idle(qtbot, window)
    click_action(qtbot, window, MessageAction.REGENERATE)
    wait_idle(qtbot, window)
    store = window.store
    conversation_id = window.conversation.id
    other = store.create_conversation("Other")
    walrus = store.add_message(other.id, None, "user", "a walrus on a side branch")
    store.add_message(other.id, None, "user", "the main branch")
    store.trash_conversation(other.id)
    window.sidebar.delete()  # (the open one, with Undo)
    qtbot.waitUntil(lambda: store.count_conversations() == 0, timeout=3000)
    window.sidebar.undo_bar.hide()
    store.restore_conversation(other.id)
    qtbot.waitUntil(lambda: window.sidebar.conversation_list.model_.row_of(other.id) >= 0, timeout=3000)
    window.open_conversation(conversation_id)
    texts_before = transcript_text(window)

    store.db.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal
    try:
        window.notice_bar.dismiss()
        window.sidebar.undo_delete()  # Undo of the delete above
        window.sidebar.toggle_pin()  # pin
        model = window.sidebar.conversation_list.model_
        assert model.setData(model.index(model.row_of(other.id)), "Renamed")  # rename in the list
        window.sidebar.select(other.id)
        window.sidebar.delete()  # delete
        window.sidebar.select(conversation_id)
        click_action(qtbot, window, MessageAction.PREVIOUS)  # another version
        click_action(qtbot, window, MessageAction.CONTINUE)  # continue (moves the branch)
        window.edit_conversation_settings()
        window.findChild(ConversationSettingsDialog).accept()  # this conversation's settings
        window.show_search_hit(other.id, walrus.id, "walrus")  # a hit on another branch
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        window.edit_conversation_settings()
        window.findChild(ConversationSettingsDialog).accept()  # a new chat's settings (makes it)
        notices = [line for line in window.notice_bar.text().splitlines() if line]
        assert len(notices) == 9, notices
        assert all("history could not be saved: the history file is read-only" in n for n in notices)
    finally:
        store.db.execute("PRAGMA query_only = OFF")
    # Nothing was changed, nothing was lost; the window goes on, and Undo still can.
    assert {c.id for c in store.conversations()} == {other.id}
    window.sidebar.undo_delete()
    assert {c.id for c in store.conversations()} == {conversation_id, other.id}
    assert [c.title for c in store.conversations() if c.id == other.id] == ["Other"]
    window.open_conversation(conversation_id)
    assert transcript_text(window) == texts_before
    type_and_send(qtbot, window, "still working")
    wait_idle(qtbot, window)
    assert "You said: still working" in transcript_text(window)


def test_a_new_chat_leaves_nothing_for_rename_or_delete_to_act_on(qtbot, window, fake_server):
    type_and_send(qtbot, window, "keep me")
    wait_idle(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [c.title for c in window.store.conversations()] == ["keep me"]  # not deleted unseen
    assert not window.sidebar.undo_bar.isVisible()
