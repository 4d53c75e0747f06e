"""settings.toml: validated, atomic, private; a broken file is kept aside and defaults used."""

from __future__ import annotations

import stat
from dataclasses import replace

import pytest

from desktop_chat.core.paths import resolve_paths
from desktop_chat.core.settings import (
    ProviderConfig,
    Settings,
    SettingsError,
    SettingsStore,
    SettingsWriteError,
    load_settings,
    parse_settings,
    save_settings,
    settings_to_toml,
)


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


def test_each_setting_is_declared_once_with_its_doc_and_the_file_says_it():
    import dataclasses
    import tomllib

    for f in dataclasses.fields(Settings):
        assert Settings.option(f.name).doc, f.name  # type, default and doc in one place
    text = settings_to_toml(Settings(theme="dark"))
    assert '# Colours.\ntheme = "dark"' in text
    assert tomllib.loads(text)["theme"] == "dark"
    # What the Settings dialog offers comes from the same declaration.
    assert Settings.option("theme").values == ("system", "light", "dark")
    with pytest.raises(SettingsError, match="one of system, light, dark"):
        parse_settings({"theme": "purple"})
    with pytest.raises(SettingsError, match="0 \\(the system's size\\) or between 6 and 48"):
        parse_settings({"font_size": 3})
    assert parse_settings({"font_size": 0}).settings.font_size == 0
    with pytest.raises(SettingsError, match="positive"):
        parse_settings({"idle_timeout": 0})
    with pytest.raises(SettingsError, match="must be a number"):
        parse_settings({"temperature": True})


def test_providers_have_ids_that_an_older_file_gets_the_same_way_each_time(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[[providers]]\nname = "Groq"\nbase_url = "https://api.groq.com/openai/v1"\n')
    first, again = load_settings(path).settings, load_settings(path).settings
    assert first.providers[0].id and first.providers[0].id == again.providers[0].id
    assert first.providers[0].id == ProviderConfig("Groq", "https://x/v1").id
    save_settings(path, first)
    assert 'id = "' in path.read_text()
    renamed = first.with_provider(dataclasses_replace(first.providers[0], name="Groq cloud"))
    save_settings(path, renamed)
    assert load_settings(path).settings.providers[0].id == first.providers[0].id  # the id stays
    path.write_text(
        '[[providers]]\nname = "A"\nbase_url = "http://a/v1"\nid = "same"\n'
        '[[providers]]\nname = "B"\nbase_url = "http://b/v1"\nid = "same"\n'
    )
    assert "share the id" in load_settings(path).problem
    # An older file could hold two providers of one name: both are kept, each with its own id.
    path.write_text('[[providers]]\nname = "A"\nbase_url = "http://a/v1"\n' * 2)
    twins = load_settings(path).settings.providers
    assert len({p.id for p in twins}) == 2 and twins == load_settings(path).settings.providers


def dataclasses_replace(provider, **changes):
    from dataclasses import replace as _replace

    return _replace(provider, **changes)


def test_what_is_not_a_setting_moves_out_of_the_file(tmp_path):
    # An older settings.toml held app state too: it is read once for the state file, not warned about.
    path = tmp_path / "settings.toml"
    path.write_text('first_run_done = true\nkeys_seen = ["OpenAI"]\ntray_notice_shown = true\ntheme = "dark"\n')
    loaded = load_settings(path)
    assert loaded.problem is None and loaded.warnings == []
    assert loaded.moved == {"first_run_done": True, "keys_seen": ["OpenAI"], "tray_notice_shown": True}
    assert "first_run_done" not in settings_to_toml(loaded.settings)


def test_the_settings_store_writes_tells_and_survives_a_refusing_disk(tmp_path):
    path = tmp_path / "cfg" / "settings.toml"
    store = SettingsStore(Settings(), path)
    heard = []
    store.subscribe(lambda old, new: heard.append((old.theme, new.theme)))
    store.update(replace(store.current, theme="dark"))
    assert heard == [("system", "dark")] and load_settings(path).settings.theme == "dark"
    store.update(store.current)  # nothing changed: nothing written, nobody told
    assert len(heard) == 1
    path.unlink()
    path.mkdir()  # the file cannot be written any more (a folder is in its place)
    with pytest.raises(SettingsWriteError, match="apply until you quit"):
        store.update(replace(store.current, theme="light"))
    assert store.current.theme == "light" and heard[-1] == ("dark", "light")  # in force all the same
