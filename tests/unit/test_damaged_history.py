"""Damaged history files, full and read-only disks, and crashes: nothing is lost that SQLite can read."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from desktop_chat.core.exchange import import_chatgpt
from desktop_chat.core.paths import resolve_paths
from desktop_chat.core.profile import IN_USE, close_history, open_history
from desktop_chat.core.store import HistoryStore, StoreWriteError
from tests.fakes.openai_server import TESTDATA, Reply, text_stream


@pytest.fixture(scope="module")
def good_history(tmp_path_factory):
    """A real history: the ChatGPT export imported into a real file."""
    path = tmp_path_factory.mktemp("good") / "history.db"
    store = HistoryStore(path)
    import_chatgpt(store, TESTDATA / "chatgpt-export" / "conversations.json")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


def profile_with(tmp_path, damage, good_history):
    paths = resolve_paths(tmp_path / "p")
    paths.ensure()
    shutil.copy(good_history, paths.history_file)
    damage(paths.history_file)
    return paths


def truncate(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * 0.6))


def flip_bytes(path):
    data = bytearray(path.read_bytes())
    rng = random.Random(7)
    # Leave the header page alone; scribble over a few pages in the middle.
    for _ in range(400):
        i = rng.randrange(4096 * 4, len(data))
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def garbage(path):
    path.write_bytes(os.urandom(50_000))


@pytest.mark.parametrize("damage", [truncate, flip_bytes, garbage], ids=["truncated", "flipped-bytes", "garbage"])
def test_damaged_history_is_kept_aside_and_recovered(tmp_path, good_history, damage):
    paths = profile_with(tmp_path, damage, good_history)
    damaged_bytes = paths.history_file.read_bytes()
    notices = []
    store = open_history(paths, notices)
    assert len(notices) == 1 and "damaged" in notices[0] and "recovered" in notices[0]
    kept = list(paths.data_dir.glob("history.db.damaged-*"))
    assert [p for p in kept if not p.name.endswith(("-wal", "-shm"))][0].read_bytes() == damaged_bytes
    assert store.check() is None  # the new file is sound
    conversations = store.count_conversations()
    if damage is garbage:
        assert conversations == 0
    else:
        assert conversations > 50, notices  # much of it came back
        # What came back is usable: listed, searchable, and shows its branch.
        with_messages = [c for c in store.conversations() if store.tree(c.id).messages]
        assert len(with_messages) > 50
        assert all(store.tree(c.id).path_to(c.current_leaf_id) for c in with_messages)
        assert store.search_messages("django")
    close_history(paths, store)


def test_sound_history_is_left_alone(tmp_path, good_history):
    paths = profile_with(tmp_path, lambda p: None, good_history)
    notices = []
    store = open_history(paths, notices, mark_in_use=True)
    assert notices == [] and store.count_conversations() == 192
    assert (paths.data_dir / IN_USE).exists()
    close_history(paths, store, marked_in_use=True)
    assert not (paths.data_dir / IN_USE).exists()
    # The command line's short visits leave the window's mark alone.
    store = open_history(paths, notices)
    assert not (paths.data_dir / IN_USE).exists()
    close_history(paths, store)


def test_full_disk_and_read_only_give_a_clear_error(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    conv = store.create_conversation("x")
    # Real SQLite errors: a file that may not grow (SQLITE_FULL), and a read-only connection.
    page_count = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {page_count}")
    with pytest.raises(StoreWriteError, match="the disk is full"):
        store.add_message(conv.id, None, "user", "x" * 200_000)
    store.db.execute("PRAGMA max_page_count = 1000000")
    store.db.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreWriteError, match="read-only"):
        store.add_message(conv.id, None, "user", "hello")
    store.db.execute("PRAGMA query_only = OFF")
    assert store.add_message(conv.id, None, "user", "hello").content == "hello"
    store.close()


DRIVER = textwrap.dedent(
    """
    import asyncio, sys
    from desktop_chat.core import session as session_module
    from tests.fakes.chat_services import PROVIDER, services_on

    session_module.SAVE_INTERVAL_S = 0.05
    services = services_on(sys.argv[2], sys.argv[1])
    store, chat = services.store, services.session
    conv = store.create_conversation(provider=PROVIDER, model="m")

    def on_event(event, said=[]):
        if not said:
            said.append(True)
            print("streaming", flush=True)

    async def main():
        while True:
            await chat.stream(chat.prepare_send(conv, "go"), on_event)

    asyncio.run(main())
    """
)


def test_kill_9_fifty_times_mid_stream(tmp_path, fake_server):
    """The app's own streaming path (ChatSession into a real file), killed at random moments."""
    fake_server.default_delay = 0.002
    path = tmp_path / "history.db"
    rng = random.Random(11)
    for round_number in range(50):
        fake_server.queue(Reply(body=text_stream([f"r{round_number}w{i} " for i in range(400)], delay=0.002)))
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(path), fake_server.base_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "streaming"
        time.sleep(rng.uniform(0.0, 0.5))  # somewhere in the reply (400 words at 2 ms)
        proc.kill()
        proc.wait()
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"round {round_number}"
        db.close()
    store = HistoryStore(path)
    assert store.check() is None
    interrupted = store.mark_interrupted()
    partial = store.db.execute("SELECT COUNT(*) FROM messages WHERE role = 'assistant' AND content != ''").fetchone()[0]
    assert interrupted >= 40  # nearly every round was cut mid-reply and says so now
    assert partial >= 40  # and kept what had arrived
    store.close()


def test_a_write_that_finds_the_file_damaged_has_it_checked_at_the_next_start(tmp_path, good_history, monkeypatch):
    from desktop_chat.core import profile

    # A large history is checked at start only when something says it should be.
    monkeypatch.setattr(profile, "CHECK_ALWAYS_BELOW", 0)

    def break_messages_root(path):
        db = sqlite3.connect(path)
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        data = bytearray(path.read_bytes())
        data[(root - 1) * size + 8 : root * size] = b"\xff" * (size - 8)
        path.write_bytes(bytes(data))

    paths = profile_with(tmp_path, break_messages_root, good_history)
    notices: list[str] = []
    store = open_history(paths, notices)
    assert notices == []  # not checked: nothing said it should be
    conversation = store.conversations()[0]
    with pytest.raises(StoreWriteError, match="damaged .what can be read is recovered at the next start"):
        store.add_message(conversation.id, None, "user", "one more")
    close_history(paths, store)
    store = open_history(paths, notices)  # the next start keeps its promise
    assert len(notices) == 1 and "damaged" in notices[0] and "recovered" in notices[0]
    assert store.check() is None and store.count_conversations() > 0
    close_history(paths, store)
    notices.clear()
    close_history(paths, open_history(paths, notices))
    assert notices == []  # once


def test_recovery_brings_back_the_parts_of_messages(tmp_path):
    from desktop_chat.core.conversation import ReasoningPart, TextPart
    from desktop_chat.core.recovery import recover_history

    source = HistoryStore(tmp_path / "damaged.db")
    conversation = source.create_conversation("Thinking")
    question = source.add_message(conversation.id, None, "user", "why?")
    reply = source.add_message(conversation.id, question.id, "assistant", "")
    parts = (ReasoningPart("because of rayleigh", 3.0), TextPart("Scattering."))
    source.update_message(reply.id, parts=parts)
    source.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    source.close()
    target = HistoryStore(tmp_path / "new.db")
    assert recover_history(tmp_path / "damaged.db", target) == (1, 2)
    assert target.message(reply.id).parts == parts
    assert [h.part for h in target.search_messages("rayleigh")] == ["reasoning"]
