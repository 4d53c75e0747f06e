"""Start-up with broken files, the first-run providers dialog, interrupted replies, launch options."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from desktop_chat.core.conversation import INTERRUPTED, STREAMING
from desktop_chat.core.paths import resolve_paths
from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.services import HistoryUse, open_services
from desktop_chat.core.settings import OPENAI_NAME, Settings
from desktop_chat.core.store import HistoryStore
from desktop_chat.ui.actions import MessageAction
from desktop_chat.ui.conversation_settings import ConversationSettingsDialog
from tests.fakes.openai_server import Reply, text_stream
from tests.gui.conftest import make_settings
from tests.gui.helpers import action_button, click_action, transcript_text, type_and_send, wait_idle


def test_broken_settings_and_corrupt_history_are_kept_aside(tmp_path):
    paths = resolve_paths(tmp_path / "p")
    paths.ensure()
    paths.settings_file.write_text("temperature = 'hot'\n")
    paths.history_file.write_bytes(b"garbage, not sqlite" * 200)
    services = open_services(paths, HistoryUse.WINDOW)
    text = "\n".join(services.notices)
    assert "settings file could not be used" in text and "settings.toml.broken-" in text
    assert "history.db.damaged-" in text
    kept = list(paths.data_dir.glob("history.db.damaged-*"))
    assert kept and kept[0].read_bytes() == b"garbage, not sqlite" * 200
    assert services.store.conversations() == []  # a working, empty history
    services.close()


def test_interrupted_reply_shows_retry(qtbot, window_factory, fake_server, tmp_path):
    # A crash left a reply 'streaming' with partial text in the file.
    paths = resolve_paths(tmp_path / "p")
    paths.ensure()
    store = HistoryStore(paths.history_file)
    conv = store.create_conversation("crashed", "Test server", "test-model")
    user = store.add_message(conv.id, None, "user", "tell me")
    reply = store.add_message(conv.id, user.id, "assistant", "", status=STREAMING, model="test-model")
    store.update_message(reply.id, content="the partial ans")
    store.close()
    services = open_services(paths, HistoryUse.WINDOW)
    assert any("cut off when the app last closed" in n for n in services.notices)
    services.close()
    window = window_factory(make_settings(fake_server.base_url), db_name="p/history.db")
    window.open_conversation(conv.id)
    text = transcript_text(window)
    assert "the partial ans" in text and "The app closed while this reply was arriving." in text
    assert action_button(window, MessageAction.RETRY)[1].isEnabled()
    assert window.store.message(reply.id).status == INTERRUPTED
    click_action(qtbot, window, MessageAction.RETRY)
    wait_idle(qtbot, window)
    assert "You said: tell me" in transcript_text(window)


def test_first_run_dialog_stores_key_in_keyring_not_settings(qtbot, window_factory, tmp_path):
    window = window_factory(Settings())
    dialog = window.edit_providers(intro="Welcome")
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.name.text() == OPENAI_NAME
    qtbot.keyClicks(dialog.key, "sk-typed-key")
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert KeyStore().get(Settings().provider(OPENAI_NAME)) == "sk-typed-key"
    assert window.services.state.current.first_run_done
    from desktop_chat.core.settings import settings_to_toml

    assert "sk-typed-key" not in settings_to_toml(window.settings.current)


def test_adding_a_provider_preset(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    dialog = window.edit_providers()
    dialog._add(
        next(
            p
            for p in __import__("desktop_chat.ui.providers_dialog", fromlist=["PRESETS"]).PRESETS
            if p.name == "Ollama"
        )
    )
    assert dialog.name.text() == "Ollama" and dialog.no_key.isChecked()
    dialog.base_url.setText("not a url")
    assert not dialog._commit_row() and "http://" in dialog.error.text()
    dialog.base_url.setText("http://localhost:11434/v1")
    assert not dialog.send_reasoning.isChecked()
    dialog.send_reasoning.setChecked(True)
    dialog._save()
    assert [p.name for p in window.settings.current.providers] == ["Test server", "Ollama"]
    assert [p.send_reasoning for p in window.settings.current.providers] == [False, True]
    # ...and it survives the settings file.
    import tomllib

    from desktop_chat.core.settings import parse_settings, settings_to_toml

    again = parse_settings(tomllib.loads(settings_to_toml(window.settings.current))).settings
    assert [p.send_reasoning for p in again.providers] == [False, True]
    assert [window.picker.provider_box.itemText(i) for i in range(window.picker.provider_box.count())] == [
        "Test server",
        "Ollama",
    ]


def test_provider_and_model_from_the_command_line(qtbot, window_factory, fake_server):
    settings = make_settings(fake_server.base_url)
    window = window_factory(settings)
    window.services.directory.preferred = ("Test server", "other-model")  # --provider, --model
    window.new_chat()
    assert window.picker.model_box.currentText() == "other-model"
    type_and_send(qtbot, window, "hi")
    wait_idle(qtbot, window)
    assert fake_server.requests[-1]["model"] == "other-model"
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.picker.model_box.currentText() == "other-model"  # the choice holds for new chats


def test_conversation_settings_are_sent(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    window.edit_conversation_settings()
    dialog = window.findChild(ConversationSettingsDialog)
    dialog.prompt.setPlainText("You are a pirate.")
    dialog.use_temperature.setChecked(True)
    dialog.temperature.setValue(0.4)
    dialog.accept()
    type_and_send(qtbot, window, "hello")
    wait_idle(qtbot, window)
    sent = fake_server.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "You are a pirate."}
    assert abs(sent["temperature"] - 0.4) < 1e-9


def test_rate_limit_retry_waits_for_retry_after(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    fake_server.queue(
        Reply(
            status=429,
            headers={"content-type": "application/json", "retry-after": "1"},
            body=[b'{"error": {"message": "slow down"}}'],
        )
    )
    type_and_send(qtbot, window, "hi")
    wait_idle(qtbot, window)
    assert "Try again in 1 s" in transcript_text(window)
    click_action(qtbot, window, MessageAction.RETRY)
    assert len(fake_server.requests) == 1 and window.stop_button.isVisible()  # waiting, not sending
    qtbot.waitUntil(lambda: len(fake_server.requests) == 2, timeout=5000)
    wait_idle(qtbot, window)
    assert "You said: hi" in transcript_text(window)


def test_reasoning_model_shows_thinking(qtbot, window_factory, fake_server):
    from tests.fakes.openai_server import Pause, recorded

    window = window_factory(make_settings(fake_server.base_url))
    raw = recorded("vercel_ai__deepseek_reasoner_reasoning_content.sse")
    cut = raw.index(b'"content":"') if b'"content":"' in raw else len(raw) // 2
    head = raw[: raw.rfind(b"\n\n", 0, cut) + 2]
    fake_server.queue(Reply(body=[head, Pause(1.0), raw[len(head) :]]))
    type_and_send(qtbot, window, "think")
    qtbot.waitUntil(lambda: "Thinking…" in transcript_text(window), timeout=5000)
    wait_idle(qtbot, window)
    assert "Thinking…" not in transcript_text(window) and "Thought for" in transcript_text(window)


def test_import_export_and_pdf_from_the_window(qtbot, window_factory, fake_server, tmp_path):
    import json
    import stat

    from tests.fakes.openai_server import TESTDATA

    window = window_factory(make_settings(fake_server.base_url))
    summary = window.files.import_file(TESTDATA / "chatgpt-export" / "conversations.json", "chatgpt")
    assert summary.startswith("Imported 192 conversations") and window.notice_bar.isVisible()
    qtbot.waitUntil(lambda: window.sidebar.conversation_list.model().rowCount() > 0, timeout=3000)
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    assert "not" in window.files.import_file(broken, "json")  # a clear message, nothing imported
    conversation = window.store.conversations()[0]
    window.open_conversation(conversation.id)
    target = tmp_path / "one.json"
    assert window.files.export_to(target, "json", [conversation.id])
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["conversations"][0]["title"] == conversation.title
    pdf = tmp_path / "one.pdf"
    assert window.files.save_pdf(pdf)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    window.notice_bar.dismiss()
    assert not window.files.export_to(target / "inside-a-file.md", "md", None)  # cannot be written there
    assert "Could not export" in window.notice_bar.text()


def test_prompt_preset_fills_the_system_prompt(qtbot, window_factory, fake_server):
    from dataclasses import replace

    from desktop_chat.core.settings import PromptPreset

    window = window_factory(
        replace(make_settings(fake_server.base_url), prompt_presets=(PromptPreset("Pirate", "Talk like a pirate."),))
    )
    window.edit_conversation_settings()
    dialog = window.findChild(ConversationSettingsDialog)
    dialog.presets.setCurrentIndex(1)
    dialog.presets.activated.emit(1)
    assert dialog.prompt.toPlainText() == "Talk like a pirate."
    dialog.accept()
    type_and_send(qtbot, window, "ahoy")
    wait_idle(qtbot, window)
    assert fake_server.requests[-1]["messages"][0]["content"] == "Talk like a pirate."


def test_disk_full_while_streaming_still_shows_the_reply(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    big = ["word " * 2000 + "\n\n" for _ in range(20)]  # ~200 KB of reply
    fake_server.queue(Reply(body=text_stream(big, delay=0.02)))
    type_and_send(qtbot, window, "fill the disk")
    qtbot.waitUntil(lambda: bool(fake_server.requests), timeout=5000)
    # The file may not grow any more: SQLite reports SQLITE_FULL, as on a full disk.
    pages = window.store.db.execute("PRAGMA page_count").fetchone()[0]
    window.store.db.execute(f"PRAGMA max_page_count = {pages}")
    wait_idle(qtbot, window, timeout=15000)
    assert transcript_text(window).count("word") >= 40000  # the whole reply is on screen
    assert (
        "disk is full" in window.notice_bar.text()
        and "shown but will not be in your history" in window.notice_bar.text()
    )
    window.store.db.execute("PRAGMA max_page_count = 1000000000")


def test_read_only_history_keeps_the_typed_message(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    window.store.db.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal
    type_and_send(qtbot, window, "please keep this")
    assert window.composer.toPlainText() == "please keep this"
    assert "read-only" in window.notice_bar.text() and fake_server.requests == []
    window.store.db.execute("PRAGMA query_only = OFF")


def test_a_renamed_provider_keeps_its_key_and_a_removed_one_takes_it_along(qtbot, window_factory, fake_server):
    from dataclasses import replace

    from desktop_chat.core.secrets import KeyStore
    from desktop_chat.core.settings import ProviderConfig
    from tests.fakes import memory_keyring

    groq = ProviderConfig("Groq", "https://api.groq.com/openai/v1", "llama-3.3-70b-versatile")
    settings = make_settings(fake_server.base_url)
    window = window_factory(replace(settings, providers=(*settings.providers, groq)))
    KeyStore().set(groq, "sk-groq")
    talk = window.store.create_conversation("On Groq", provider="Groq", model="llama-3.3-70b-versatile")
    window.open_conversation(talk.id)
    dialog = window.edit_providers()
    dialog.list.setCurrentRow(1)
    assert dialog.key.placeholderText().startswith("a key is stored")
    dialog.name.setText("Groq cloud")
    dialog._save()
    renamed = window.settings.current.provider("Groq cloud")
    assert renamed is not None and renamed.id == groq.id
    assert KeyStore().get(renamed) == "sk-groq"  # the key followed the rename
    assert window.store.conversation(talk.id).provider == "Groq cloud"  # and so did the conversation
    assert window.picker.provider_box.currentText() == "Groq cloud"
    dialog = window.edit_providers()
    dialog.list.setCurrentRow(1)
    dialog._remove()
    dialog._save()
    assert [p.name for p in window.settings.current.providers] == ["Test server"]
    assert KeyStore().get(renamed) is None and memory_keyring._load() == {}  # the key went with it


def test_providers_opens_ready_to_type_and_says_where_a_key_comes_from(qtbot, window_factory, monkeypatch):
    from PySide6.QtWidgets import QApplication

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    window = window_factory(Settings())
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.findChild(__import__("desktop_chat.ui.providers_dialog", fromlist=["x"]).ProvidersDialog)
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible(), timeout=3000)
    qtbot.waitUntil(
        lambda: QApplication.focusWidget() is dialog.name and not dialog.name.hasSelectedText(), timeout=3000
    )
    qtbot.keyClicks(QApplication.focusWidget(), " (work)")
    assert dialog.name.text() == "OpenAI (work)"  # typed keys go where the caret is
    assert "OPENAI_API_KEY" in dialog.key.placeholderText() and "stored" not in dialog.key.placeholderText()
    dialog.reject()
    window.services.keys.set(Settings().provider(OPENAI_NAME), "sk-kept")
    assert window.edit_providers().key.placeholderText().startswith("a key is stored")


def test_a_pdf_shows_formulas_typeset(qtbot, window_factory, fake_server, tmp_path):
    from desktop_chat.core.markdown import Palette
    from desktop_chat.core.math import Formula
    from desktop_chat.ui.math_images import math_images

    window = window_factory(make_settings(fake_server.base_url))
    store = window.store
    conversation = store.create_conversation("Math")
    question = store.add_message(conversation.id, None, "user", "sum?")
    store.add_message(
        conversation.id, question.id, "assistant", "It is $$\\sum_{k=1}^{n} k^3 = \\left(\\frac{n(n+1)}{2}\\right)^2$$"
    )
    window.open_conversation(conversation.id)
    plain, typeset_pdf = tmp_path / "plain.pdf", tmp_path / "math.pdf"
    # The page's formula: at the page's size and colours (not the transcript's).
    tex = "\\sum_{k=1}^{n} k^3 = \\left(\\frac{n(n+1)}{2}\\right)^2"
    name = Formula(tex, True, 16.0, Palette().text).name
    assert name not in math_images()._images
    assert window.files.save_pdf(typeset_pdf)
    # Typeset (by the helper) before the page was laid out: in the PDF as an image.
    assert name in math_images()._images
    assert b"/Subtype /Image" in typeset_pdf.read_bytes()
    store.add_message(conversation.id, question.id, "assistant", "No formula here.")
    window.open_conversation(conversation.id)
    assert window.files.save_pdf(plain)
    assert b"/Subtype /Image" not in plain.read_bytes()
