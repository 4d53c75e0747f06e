"""Every test runs with its own home folder, a test keyring and no real provider."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DESKTOP_CHAT_HOME", str(home))
    # Keys and base URLs of the developer's own environment never reach a test.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.fakes.memory_keyring.MemoryKeyring")
    import keyring

    from tests.fakes import memory_keyring

    monkeypatch.setenv(memory_keyring.FILE_ENV, str(tmp_path / "test-keyring.json"))
    memory_keyring.clear()
    keyring.set_keyring(memory_keyring.MemoryKeyring())
    # The helper process that reads keys for the window finds this backend from here.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # No proxy from the environment may route loopback traffic elsewhere.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return home


@pytest.fixture
def fake_server():
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        yield server
