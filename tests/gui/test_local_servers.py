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
        window.discovery_targets = (("Ollama", ollama.port, "/api/tags"),)
        window.model_box.showPopup()  # opening the picker looks again
        qtbot.waitUntil(lambda: window.provider_box.findText("Ollama") >= 0, timeout=5000)
        window.model_box.hidePopup()
        window.provider_box.setCurrentText("Ollama")
        assert window.model_box.currentText() == "llama3.2:latest"
        assert not window.send_blocker.isVisible()  # no key needed
        ollama.queue(Reply(body=text_stream(["from ollama"])))
        type_and_send(qtbot, window, "hi local")
        wait_idle(qtbot, window)
        assert "from ollama" in transcript_text(window)
        assert ollama.requests[-1]["model"] == "llama3.2:latest"
        assert fake_server.requests == []


def test_no_key_means_the_tiny_local_model_labelled_honestly(qtbot, qloop, tmp_path):
    from desktop_chat.core.directory import ProviderDirectory
    from desktop_chat.core.local_models import LOCAL_NAME, TINY_MODEL_ID, LocalServer
    from desktop_chat.core.providers import ProviderClients
    from desktop_chat.core.secrets import KeyStore
    from desktop_chat.core.settings import Settings
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.ui.main_window import MainWindow

    model = tmp_path / "tiny.gguf"  # the server is not started in this test: only the choice is
    model.write_bytes(b"GGUF")
    directory = ProviderDirectory(Settings(), KeyStore(), LocalServer(model), tiny=model)
    store = HistoryStore(tmp_path / "h.db")
    window = MainWindow(Settings(), store, KeyStore(), ProviderClients(), lambda s: None, directory=directory)
    window.discovery_targets = ()
    qtbot.addWidget(window)
    window.show()
    assert window.provider_box.currentText() == LOCAL_NAME and window.model_box.currentText() == TINY_MODEL_ID
    assert window.model_note.isVisible() and "often wrong" in window.model_note.text()
    assert not window.send_blocker.isVisible()
    window.provider_box.setCurrentText("OpenAI")  # no key: says why it cannot send
    assert window.send_blocker.isVisible() and not window.model_note.isVisible()
    window.shutdown()
    qtbot.waitUntil(
        lambda: all(t is None or t.done() for t in (window.models_task, window.discovery_task)), timeout=5000
    )
    store.close()


def _window_with_tiny_model(qtbot, tmp_path, settings, saved):
    from desktop_chat.core.directory import ProviderDirectory
    from desktop_chat.core.local_models import LocalServer
    from desktop_chat.core.providers import ProviderClients
    from desktop_chat.core.secrets import KeyStore
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.ui.main_window import MainWindow

    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    keys = KeyStore()
    directory = ProviderDirectory(settings, keys, LocalServer(model), tiny=model)
    store = HistoryStore(tmp_path / f"h{len(saved)}.db")
    window = MainWindow(settings, store, keys, ProviderClients(), saved.append, directory=directory)
    window.discovery_targets = ()
    qtbot.addWidget(window)
    window.show()
    return window, store


def test_window_paints_before_the_keyring_answers_then_follows_it(qtbot, qloop, tmp_path):
    from desktop_chat.core.local_models import LOCAL_NAME
    from desktop_chat.core.settings import Settings
    from tests.fakes import memory_keyring

    memory_keyring.put("OpenAI", "sk-in-the-keyring")
    memory_keyring.close_gate()  # the keyring waits, as behind an unlock prompt
    saved: list[Settings] = []
    window, store = _window_with_tiny_model(qtbot, tmp_path, Settings(), saved)
    # Painted and usable while the keyring has not answered; never seen a key: the local model.
    qtbot.waitUntil(lambda: window._painted, timeout=3000)
    qtbot.wait(100)
    assert not window.keys_answered
    assert window.provider_box.currentText() == LOCAL_NAME and not window.send_blocker.isVisible()
    memory_keyring.open_gate()
    qtbot.waitUntil(lambda: window.keys_answered, timeout=10000)
    # The keyring holds an OpenAI key: the new chat goes to OpenAI, and that is remembered (names only).
    assert window.provider_box.currentText() == "OpenAI" and not window.send_blocker.isVisible()
    assert saved[-1].keys_seen == ("OpenAI",)
    assert "sk-in-the-keyring" not in repr(saved[-1])
    window.shutdown()
    store.close()

    # Next start: the keyring is slow again, but the window already shows what it will say.
    memory_keyring.close_gate()
    window, store = _window_with_tiny_model(qtbot, tmp_path, saved[-1], saved)
    qtbot.waitUntil(lambda: window._painted, timeout=3000)
    assert not window.keys_answered and window.provider_box.currentText() == "OpenAI"
    # The key was removed from the keyring meanwhile: once it answers, back to the local model.
    memory_keyring.remove("OpenAI")  # (the gate holds back reads only)
    memory_keyring.open_gate()
    qtbot.waitUntil(lambda: window.keys_answered, timeout=10000)
    assert window.provider_box.currentText() == LOCAL_NAME
    assert saved[-1].keys_seen == ()
    window.shutdown()
    store.close()


def test_a_choice_made_before_the_keyring_answers_is_kept(qtbot, qloop, tmp_path):
    from desktop_chat.core.settings import Settings
    from tests.fakes import memory_keyring

    memory_keyring.put("OpenAI", "sk-in-the-keyring")
    memory_keyring.close_gate()
    saved: list[Settings] = []
    window, store = _window_with_tiny_model(qtbot, tmp_path, Settings(keys_seen=("OpenAI",)), saved)
    qtbot.waitUntil(lambda: window._painted, timeout=3000)
    window.provider_box.setCurrentText("Local (offline)")  # the user picked before the answer came
    memory_keyring.open_gate()
    qtbot.waitUntil(lambda: window.keys_answered, timeout=10000)
    assert window.provider_box.currentText() == "Local (offline)"
    window.shutdown()
    store.close()
