"""The sidebar: grouped by activity, pinned first, loaded lazily from a large history."""

from __future__ import annotations

import time

from desktop_chat.core.store import HistoryStore
from desktop_chat.ui.conversation_list import HEADER_ROLE, PAGE, ConversationList


def test_groups_and_pins(qtbot, tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    day = 86400
    now = time.time()
    for title, age in [("today", 0), ("yesterday", 1), ("this week", 4), ("this month", 20), ("long ago", 400)]:
        conv = store.create_conversation(title)
        store.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now - age * day, conv.id))
    store.set_pinned(store.conversations()[-1].id, True)  # pin "long ago"
    view = ConversationList(store)
    qtbot.addWidget(view)
    view.model_.reload()
    rows = [
        (view.model_.index(i).data(), view.model_.index(i).data(HEADER_ROLE)) for i in range(view.model_.rowCount())
    ]
    headers = [text for text, header in rows if header]
    titles = [text for text, header in rows if not header]
    assert titles == ["long ago", "today", "yesterday", "this week", "this month"]
    assert headers[:5] == ["Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days"]
    # Headers cannot be selected or renamed.
    assert not (view.model_.flags(view.model_.index(0)) & view.model_.flags(view.model_.index(1)).ItemIsSelectable)
    store.close()


def test_large_history_is_loaded_a_page_at_a_time(qtbot, tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    with store.db:
        store.db.execute("BEGIN")
        store.db.executemany(
            "INSERT INTO conversations (title, created_at, updated_at, uid) VALUES (?, ?, ?, ?)",
            [(f"c{i}", i, i, f"u{i}") for i in range(5 * PAGE)],
        )
    view = ConversationList(store)
    qtbot.addWidget(view)
    view.resize(250, 400)
    view.show()
    view.model_.reload()
    loaded = lambda: sum(1 for i in range(view.model_.rowCount()) if not view.model_.index(i).data(HEADER_ROLE))  # noqa: E731
    assert loaded() == PAGE
    view.scrollToBottom()
    qtbot.waitUntil(lambda: loaded() > PAGE, timeout=3000)
    while view.model_.canFetchMore():
        view.model_.fetchMore()
    assert loaded() == 5 * PAGE
    titles = [
        view.model_.index(i).data() for i in range(view.model_.rowCount()) if not view.model_.index(i).data(HEADER_ROLE)
    ]
    assert titles[0] == f"c{5 * PAGE - 1}" and titles[-1] == "c0"  # newest activity first, none twice
    assert len(set(titles)) == len(titles)
    store.close()


def test_a_long_title_neither_squeezes_the_sidebar_nor_scrolls_it(qtbot, window_factory, fake_server):
    from tests.gui.conftest import make_settings

    window = window_factory(make_settings(fake_server.base_url))
    title = "A very long conversation title " * 12
    conversation = window.store.create_conversation(title)
    qtbot.waitUntil(lambda: window.sidebar.conversation_list.model_.row_of(conversation.id) >= 0, timeout=3000)
    width = window.sidebar.width()
    window.open_conversation(conversation.id)
    qtbot.wait(50)
    assert window.sidebar.width() == width and width > 150
    assert window.title_label.toolTip() == title and title.strip() in window.windowTitle()
    assert not window.sidebar.conversation_list.horizontalScrollBar().isVisible()
