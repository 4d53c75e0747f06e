"""The services built once at start: from the user's files, with what an older version left."""

from __future__ import annotations

import json

from desktop_chat.core.paths import resolve_paths
from desktop_chat.core.profile import IN_USE
from desktop_chat.core.secrets import key_account
from desktop_chat.core.services import HistoryUse, open_services
from desktop_chat.core.settings import OPENAI_NAME, Settings
from tests.fakes import memory_keyring


def test_an_older_settings_file_gives_its_app_state_to_the_state_file(tmp_path):
    paths = resolve_paths(tmp_path / "p")
    paths.ensure()
    paths.settings_file.write_text('first_run_done = true\nkeys_seen = ["OpenAI"]\ntheme = "dark"\n')
    openai = Settings().provider(OPENAI_NAME)
    services = open_services(paths, HistoryUse.WINDOW)
    assert services.notices == []  # nothing to warn about: those keys moved on purpose
    state = services.state.current
    assert state.first_run_done and state.keys_seen == (openai.id,)  # names then, ids now
    assert services.keys.assumed == {openai.id}  # the window paints as last time
    assert services.keys.legacy_names == {openai.id: "OpenAI"}  # keys under names may still move
    assert services.settings.current.theme == "dark"
    memory_keyring.put("OpenAI", "sk-under-the-name")  # where the older version kept the key
    held = services.keys.look_up(services.directory.providers_taking_keys())  # the keyring answers...
    services.remember_keys(held)
    services.close()
    saved = json.loads(paths.state_file.read_text())  # ...and the key moved to the provider's id
    assert saved["keys_renamed"] is True and saved["keys_seen"] == [openai.id]
    assert memory_keyring._load() == {f"desktop-chat\n{key_account(openai)}": "sk-under-the-name"}
    again = open_services(paths, HistoryUse.COMMAND)
    assert again.keys.legacy_names == {} and again.keys.assumed is None  # the command line asks directly
    assert again.state.current.first_run_done
    again.close()


def test_each_use_of_the_history(tmp_path):
    paths = resolve_paths(tmp_path / "p")
    window = open_services(paths, HistoryUse.WINDOW)
    assert (paths.data_dir / IN_USE).exists()
    command = open_services(paths, HistoryUse.COMMAND)  # `ask` while the window is open
    command.store.create_conversation("from the command line")
    command.close()
    assert (paths.data_dir / IN_USE).exists()  # still the window's
    assert [c.title for c in window.store.conversations()] == ["from the command line"]
    window.close()
    assert not (paths.data_dir / IN_USE).exists()
    memory = open_services(paths, HistoryUse.NONE)  # `ask --no-log`
    assert memory.store.conversations() == []
    memory.close()
