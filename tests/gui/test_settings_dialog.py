"""The settings dialog and what it changes; keys without a keyring; why a message cannot be sent."""

from __future__ import annotations

import json
import stat

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from desktop_chat.core.secrets import KeyStore, key_account
from desktop_chat.core.settings import OPENAI_NAME, Settings, load_settings, save_settings, settings_to_toml
from desktop_chat.ui.theme import apply_scheme, is_dark
from tests.gui.conftest import make_settings
from tests.gui.helpers import type_and_send, wait_idle


def test_settings_dialog_round_trip(qtbot, window_factory, fake_server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    window = window_factory(make_settings(fake_server.base_url))
    app = QApplication.instance()
    dialog = window.edit_settings()
    qtbot.waitUntil(dialog.isVisible)
    dialog.system_prompt.setPlainText("Answer in haiku.")
    dialog._add_preset("Pirate", "Talk like a pirate.")
    dialog.theme.setCurrentIndex(2)  # dark
    dialog.font_size.setValue(15)
    dialog.send_key.setCurrentIndex(1)  # Ctrl+Enter
    dialog.shortcut.setKeySequence(QKeySequence("Ctrl+Alt+K"))
    dialog.start_at_login.setChecked(True)
    try:
        dialog._save()
        saved = window.settings.current
        assert saved.system_prompt == "Answer in haiku." and saved.theme == "dark" and saved.font_size == 15
        assert saved.send_key == "ctrl+enter" and saved.quick_ask_shortcut == "Ctrl+Alt+K"
        assert [p.name for p in saved.prompt_presets] == ["Pirate"]
        path = tmp_path / "s.toml"
        save_settings(path, saved)
        assert load_settings(path).settings == saved  # all of it survives the file
        # Applied at once:
        assert is_dark(app)
        assert window.composer.font().pointSizeF() == 15
        autostart = tmp_path / "xdg" / "autostart" / "desktop-chat.desktop"
        assert autostart.exists() and "Exec=desktop-chat" in autostart.read_text()
        # Ctrl+Enter sends now; Enter makes a new line.
        window.composer.setFocus()
        qtbot.keyClicks(window.composer, "one")
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
        qtbot.keyClicks(window.composer, "two")
        assert window.composer.toPlainText() == "one\ntwo" and fake_server.requests == []
        qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        wait_idle(qtbot, window)
        assert fake_server.requests[-1]["messages"][0] == {"role": "system", "content": "Answer in haiku."}
        dialog = window.edit_settings()
        dialog.start_at_login.setChecked(False)
        dialog._save()
        assert not autostart.exists()
    finally:
        apply_scheme(app, "system")


def test_no_key_says_why_it_cannot_send(qtbot, window_factory):
    window = window_factory(Settings())  # OpenAI, no key anywhere
    assert window.send_blocker.isVisible()
    assert "No API key for OpenAI" in window.send_blocker.text()
    assert not window.send_button.isEnabled()
    type_and_send(qtbot, window, "hello?")
    assert window.composer.toPlainText() == "hello?"  # kept, not sent
    assert window.conversation is None
    window.services.keys.set(Settings().provider(OPENAI_NAME), "sk-now-there-is-one")
    window.update_send_state()
    assert not window.send_blocker.isVisible() and window.send_button.isEnabled()


def test_without_a_keyring_keys_can_go_to_a_private_file(qtbot, window_factory, tmp_path):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    window = window_factory(Settings())
    key_file = window.provider_setup.key_file = tmp_path / "cfg" / "keys.json"
    dialog = window.edit_providers()
    qtbot.keyClicks(dialog.key, "sk-file-key")
    dialog._save()
    boxes = [w for w in QApplication.topLevelWidgets() if w.windowTitle() == "No keyring" and w.isVisible()]
    assert boxes, "the user is asked what to do"
    next(b for b in boxes[-1].buttons() if b.text() == "Keep in a private file").click()
    qtbot.waitUntil(key_file.exists, timeout=3000)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    openai = window.settings.current.provider(OPENAI_NAME)
    assert json.loads(key_file.read_text()) == {key_account(openai): "sk-file-key"}
    assert window.settings.current.key_storage == "file"
    assert "sk-file-key" not in settings_to_toml(window.settings.current)
    # A new start reads it from the file.
    assert KeyStore(key_file=key_file).get(openai) == "sk-file-key"
    assert not window.send_blocker.isVisible()
