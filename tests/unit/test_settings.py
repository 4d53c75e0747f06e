"""settings.toml: validated, atomic, private; a broken file is kept aside and defaults used."""

from __future__ import annotations

import stat
import sys
from dataclasses import replace

import pytest

from desktop_chat.core.paths import resolve_paths
from desktop_chat.core.secrets import KeyringUnavailable, KeyStore, endpoint_for
from desktop_chat.core.session import NoEndpoint
from desktop_chat.core.settings import OPENAI_NAME, ProviderConfig, Settings, load_settings, save_settings


def test_round_trip_and_private_file(tmp_path):
    path = tmp_path / "cfg" / "settings.toml"
    settings = Settings().with_provider(
        ProviderConfig("Ollama", "http://localhost:11434/v1", "llama3", needs_key=False)
    )
    settings = replace(settings, temperature=0.3, system_prompt="Be brief.")
    save_settings(path, settings)
    assert load_settings(path).settings == settings
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "api_key" not in path.read_text()


def test_broken_toml_is_kept_aside(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("default_provider = [unclosed\n")
    result = load_settings(path)
    assert result.settings == Settings()
    assert result.problem and result.backup is not None
    assert result.backup.read_text() == "default_provider = [unclosed\n"
    assert not path.exists()


def test_invalid_values_are_reported(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("temperature = 7\n")
    result = load_settings(path)
    assert "between 0 and 2" in result.problem
    path.write_text('[[providers]]\nname = "X"\nbase_url = "ftp://x"\n')
    assert "http://" in load_settings(path).problem


def test_key_in_settings_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[[providers]]\nname = "X"\nbase_url = "http://x/v1"\napi_key = "sk-secret"\n')
    result = load_settings(path)
    assert result.problem is None
    assert any("keyring" in w for w in result.warnings)


def test_home_option_and_env(tmp_path, monkeypatch):
    paths = resolve_paths(tmp_path / "portable")
    assert paths.settings_file == tmp_path / "portable" / "settings.toml"
    assert paths.history_file == tmp_path / "portable" / "history.db"
    monkeypatch.setenv("DESKTOP_CHAT_HOME", str(tmp_path / "env"))
    assert resolve_paths().data_dir == tmp_path / "env"


def test_keys_from_keyring_and_env(monkeypatch):
    keys = KeyStore()
    openai = Settings().provider(OPENAI_NAME)
    with pytest.raises(NoEndpoint, match="OPENAI_API_KEY"):
        endpoint_for(openai, keys)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    endpoint = endpoint_for(openai, keys)
    assert endpoint.api_key == "sk-env" and endpoint.base_url == "http://127.0.0.1:9/v1"
    keys.set(OPENAI_NAME, "sk-stored")
    assert endpoint_for(openai, KeyStore()).api_key == "sk-stored"
    local = ProviderConfig("Local", "http://127.0.0.1:1/v1", needs_key=False)
    assert endpoint_for(local, keys).api_key is None


def test_no_keyring_keeps_the_key_for_the_session_and_says_so():
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    keys = KeyStore()
    with pytest.raises(KeyringUnavailable, match="this session only"):
        keys.set("P", "sk-x")
    assert keys.get(ProviderConfig("P", "http://x/v1")) == "sk-x"


def test_key_presence_is_known_without_the_keyring_only_where_it_can_be(monkeypatch, tmp_path):
    from tests.fakes import memory_keyring

    openai, other = ProviderConfig(OPENAI_NAME, "https://x/v1"), ProviderConfig("P", "http://x/v1")
    memory_keyring.put("P", "sk-p")
    keys = KeyStore()
    assert not keys.presence_known(openai) and not keys.presence_known(other)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert keys.presence_known(openai)  # the SDK's variable answers for OpenAI at once
    assert keys.look_up([openai, other]) == frozenset({"P"})  # what the keyring itself holds
    assert keys.presence_known(other)
    memory_keyring.remove("P")
    assert keys.get(other) == "sk-p"  # answered once per run, until forgotten
    keys.forget_lookups()
    assert not keys.presence_known(other) and keys.get(other) is None
    filed = KeyStore(key_file=tmp_path / "keys.json")
    filed.set("P", "sk-file")
    assert filed.presence_known(other)


def test_settings_remember_which_keys_were_seen_and_reject_junk(tmp_path):
    from desktop_chat.core.settings import SettingsError, load_settings, parse_settings, save_settings

    path = tmp_path / "settings.toml"
    save_settings(path, Settings(keys_seen=("OpenAI", "Groq")))
    assert load_settings(path).settings.keys_seen == ("OpenAI", "Groq")
    with pytest.raises(SettingsError, match="keys_seen"):
        parse_settings({"keys_seen": "OpenAI"})


def test_keys_are_read_in_a_helper_process(monkeypatch):
    import subprocess

    from desktop_chat.core.secrets import read_keys_in_helper
    from tests.fakes import memory_keyring

    memory_keyring.put("OpenAI", "sk-o")
    assert read_keys_in_helper(["OpenAI", "Nobody"]) == {"OpenAI": "sk-o", "Nobody": None}
    # The window's lookup goes through it (and fills the session's answers from it).
    keys = KeyStore()
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]) or real_run(*a, **k))
    assert keys.look_up([ProviderConfig(OPENAI_NAME, "https://x/v1")], elsewhere=True) == frozenset({OPENAI_NAME})
    assert len(calls) == 1 and calls[0][-1] == "desktop_chat.core.secrets"
    # A helper that cannot answer leaves the lookup to this process.
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: real_run([sys.executable, "-c", "raise SystemExit(3)"]))
    again = KeyStore()
    assert again.look_up([ProviderConfig(OPENAI_NAME, "https://x/v1")], elsewhere=True) == frozenset({OPENAI_NAME})


def test_the_helper_refuses_bad_input():
    import subprocess

    for bad in ("not json", '{"a": 1}', "[1, 2]"):
        out = subprocess.run(
            [sys.executable, "-m", "desktop_chat.core.secrets"], input=bad, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 2 and out.stdout == ""
