"""Fixtures the core tests share."""

from __future__ import annotations

import pytest

from tests.fakes.chat_services import PROVIDER, services_on


@pytest.fixture
def chat(tmp_path, fake_server):
    """Services on a history file and the loopback server, and a new conversation on it."""
    services = services_on(fake_server.base_url, tmp_path / "h.db", first_token_timeout=5.0, idle_timeout=2.0)
    conversation = services.store.create_conversation(provider=PROVIDER, model="test-model")
    yield services, conversation
    services.store.close()
