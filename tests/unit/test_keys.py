"""API keys: stored under the provider's id, read in a helper process, moved from the
display names an older version used (written first, then the old entry deleted)."""

from __future__ import annotations

import subprocess
import sys

import keyring
import pytest

from desktop_chat.core.providers import NoEndpoint
from desktop_chat.core.secrets import (
    SERVICE,
    KeyringUnavailable,
    KeyStore,
    endpoint_for,
    key_account,
    read_keys_in_helper,
)
from desktop_chat.core.settings import OPENAI_NAME, ProviderConfig, Settings
from tests.fakes import memory_keyring

OPENAI = Settings().provider(OPENAI_NAME)
OTHER = ProviderConfig("P", "http://x/v1")


def test_keys_from_keyring_and_env(monkeypatch):
    keys = KeyStore()
    with pytest.raises(NoEndpoint, match="OPENAI_API_KEY"):
        endpoint_for(OPENAI, keys)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    endpoint = endpoint_for(OPENAI, keys)
    assert endpoint.api_key == "sk-env" and endpoint.base_url == "http://127.0.0.1:9/v1"
    keys.set(OPENAI, "sk-stored")
    assert endpoint_for(OPENAI, KeyStore()).api_key == "sk-stored"
    assert keyring.get_password(SERVICE, key_account(OPENAI)) == "sk-stored"  # under the id, not the name
    local = ProviderConfig("Local", "http://127.0.0.1:1/v1", needs_key=False)
    assert endpoint_for(local, keys).api_key is None


def test_a_key_follows_a_rename_and_leaves_with_its_provider():
    from dataclasses import replace

    keys = KeyStore()
    keys.set(OTHER, "sk-p")
    renamed = replace(OTHER, name="P, renamed")
    assert KeyStore().get(renamed) == "sk-p"
    keys.delete(renamed)
    assert KeyStore().get(OTHER) is None and memory_keyring._load() == {}


def test_no_keyring_keeps_the_key_for_the_session_and_says_so():
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    keys = KeyStore()
    with pytest.raises(KeyringUnavailable, match="this session only"):
        keys.set(OTHER, "sk-x")
    assert keys.get(OTHER) == "sk-x"


def test_key_presence_is_known_without_the_keyring_only_where_it_can_be(monkeypatch, tmp_path):
    memory_keyring.put(key_account(OTHER), "sk-p")
    keys = KeyStore()
    assert not keys.presence_known(OPENAI) and not keys.presence_known(OTHER)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert keys.presence_known(OPENAI)  # the SDK's variable answers for OpenAI at once
    assert keys.look_up([OPENAI, OTHER]) == frozenset({OTHER.id})  # what the keyring itself holds
    assert keys.presence_known(OTHER)
    memory_keyring.remove(key_account(OTHER))
    assert keys.get(OTHER) == "sk-p"  # answered once per run: the D-Bus round trip is not repeated
    assert not KeyStore().presence_known(OTHER) and KeyStore().get(OTHER) is None
    filed = KeyStore(key_file=tmp_path / "keys.json")
    filed.set(OTHER, "sk-file")
    assert filed.presence_known(OTHER)


def test_until_the_keyring_answers_a_key_is_assumed_as_last_time():
    memory_keyring.put(key_account(OTHER), "sk-p")
    keys = KeyStore(assumed=frozenset())
    assert not keys.has_key(OTHER) and not keys.answered  # not asked yet: as last time (none)
    assert keys.settle([OTHER]) == frozenset({OTHER.id})
    assert keys.answered and keys.has_key(OTHER)
    assert keys.settle([OTHER]) is None  # answered already


def test_keys_are_read_in_a_helper_process(monkeypatch):
    memory_keyring.put(key_account(OPENAI), "sk-o")
    wanted = [(key_account(OPENAI), None), ("provider:nobody", None)]
    keys, moved = read_keys_in_helper(wanted)
    assert keys == {key_account(OPENAI): "sk-o", "provider:nobody": None}
    assert moved == {key_account(OPENAI), "provider:nobody"}  # (nothing to move)
    # The window's lookup goes through it (and fills the session's answers from it).
    keys = KeyStore()
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]) or real_run(*a, **k))
    assert keys.look_up([OPENAI], elsewhere=True) == frozenset({OPENAI.id})
    assert len(calls) == 1 and calls[0][-1] == "desktop_chat.core.secrets"
    # A helper that cannot answer leaves the lookup to this process.
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: real_run([sys.executable, "-c", "raise SystemExit(3)"]))
    assert KeyStore().look_up([OPENAI], elsewhere=True) == frozenset({OPENAI.id})


def test_the_helper_refuses_bad_input():
    for bad in ("not json", '{"a": 1}', "[1, 2]", '["OpenAI"]', '[["a", 1]]'):
        out = subprocess.run(
            [sys.executable, "-m", "desktop_chat.core.secrets"], input=bad, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 2 and out.stdout == ""


def test_keys_stored_under_names_move_to_ids_in_the_helper_and_once():
    # What an older version left: keys under the providers' display names.
    memory_keyring.put("OpenAI", "sk-old-openai")
    memory_keyring.put("P", "sk-old-p")
    keys = KeyStore(legacy_names={OPENAI.id: "OpenAI", OTHER.id: "P"})
    assert keys.look_up([OPENAI, OTHER], elsewhere=True) == frozenset({OPENAI.id, OTHER.id})
    assert keys.legacy_names == {}  # all moved: nothing to look for next time
    assert memory_keyring._load() == {
        f"{SERVICE}\n{key_account(OPENAI)}": "sk-old-openai",
        f"{SERVICE}\n{key_account(OTHER)}": "sk-old-p",
    }
    # Safe to run again: nothing under the names, the keys where they are.
    again = KeyStore(legacy_names={OPENAI.id: "OpenAI", OTHER.id: "P"})
    assert again.look_up([OPENAI, OTHER], elsewhere=True) == frozenset({OPENAI.id, OTHER.id})
    assert len(memory_keyring._load()) == 2


class RefusingKeyring(memory_keyring.MemoryKeyring):
    """The test keyring, made to refuse writes or deletes, as a locked or read-only one does."""

    refuse: set[str] = set()

    def set_password(self, service, username, password):
        if "set" in self.refuse:
            raise keyring.errors.PasswordSetError("locked")
        super().set_password(service, username, password)

    def delete_password(self, service, username):
        if "delete" in self.refuse:
            raise keyring.errors.PasswordDeleteError("locked")
        super().delete_password(service, username)


def test_a_move_cut_short_loses_nothing_and_is_finished_at_a_later_start(tmp_path):
    from desktop_chat.core.paths import resolve_paths
    from desktop_chat.core.services import HistoryUse, open_services

    keyring.set_keyring(RefusingKeyring())
    paths = resolve_paths(tmp_path / "p")
    paths.ensure()
    paths.settings_file.write_text('theme = "dark"\n')  # a profile an older version used
    memory_keyring.put("OpenAI", "sk-old")

    def start(refuse):
        """A start of the window: the keyring is asked (here, in this process) and the answer kept."""
        RefusingKeyring.refuse = refuse
        services = open_services(paths, HistoryUse.WINDOW)
        held = services.keys.look_up([OPENAI])
        services.remember_keys(held)
        services.close()
        return held, services.state.current.keys_renamed

    # The new entry cannot be written: the old one stays, the key is used all the same, and
    # the move is left for the next start.
    assert start({"set"}) == (frozenset({OPENAI.id}), False)
    assert memory_keyring._load() == {f"{SERVICE}\nOpenAI": "sk-old"}
    # Written, but the old entry could not be deleted: both are there, still not done...
    assert start({"delete"}) == (frozenset({OPENAI.id}), False)
    assert len(memory_keyring._load()) == 2
    # ...and the next start finishes the move, and says so.
    assert start(set()) == (frozenset({OPENAI.id}), True)
    assert memory_keyring._load() == {f"{SERVICE}\n{key_account(OPENAI)}": "sk-old"}
    # From then on the name is not looked at any more.
    assert start(set()) == (frozenset({OPENAI.id}), True)


def test_a_private_key_file_moves_its_names_to_ids_too(tmp_path):
    import json

    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"OpenAI": "sk-filed"}))
    keys = KeyStore(key_file=path, legacy_names={OPENAI.id: "OpenAI"})
    assert keys.get(OPENAI) == "sk-filed"
    assert json.loads(path.read_text()) == {key_account(OPENAI): "sk-filed"}
