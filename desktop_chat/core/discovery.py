"""Local model servers found on this machine (Ollama, LM Studio): probed on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from .local_models import _request

# Their usual ports; tests point the probes elsewhere.
KNOWN_SERVERS = (("Ollama", 11434, "/api/tags"), ("LM Studio", 1234, "/v1/models"))
PROBE_TIMEOUT = 0.4


@dataclass(frozen=True)
class FoundServer:
    name: str
    base_url: str  # the OpenAI-compatible endpoint
    models: tuple[str, ...]


def _models(name: str, body: bytes) -> tuple[str, ...]:
    data = json.loads(body)
    if name == "Ollama":
        return tuple(sorted(m["name"] for m in data.get("models", []) if isinstance(m, dict) and "name" in m))
    return tuple(sorted(m["id"] for m in data.get("data", []) if isinstance(m, dict) and "id" in m))


async def _probe(name: str, port: int, path: str) -> FoundServer | None:
    body = await _request(port, "GET", path, timeout=PROBE_TIMEOUT)
    if body is None:
        return None
    try:
        models = _models(name, body)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return FoundServer(name, f"http://127.0.0.1:{port}/v1", models)


async def find_local_servers(servers: tuple[tuple[str, int, str], ...] = KNOWN_SERVERS) -> list[FoundServer]:
    """All probes at once; each gives up quickly, and nothing leaves the machine."""
    found = await asyncio.gather(*(_probe(name, port, path) for name, port, path in servers))
    return [server for server in found if server is not None]
