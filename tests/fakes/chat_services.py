"""Services on the fake server: what the app builds at start, with one provider that points
at a FakeOpenAI and needs no key, and a history in a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_chat.core.services import Services
from desktop_chat.core.settings import ProviderConfig, Settings
from desktop_chat.core.store import HistoryStore

PROVIDER = "Test"


def services_on(base_url: str, history: Path | str, **settings: Any) -> Services:
    provider = ProviderConfig(PROVIDER, base_url, "test-model", needs_key=False)
    chosen = Settings(providers=(provider,), default_provider=PROVIDER, **settings)
    return Services.build(chosen, HistoryStore(history))
