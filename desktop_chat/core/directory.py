"""Every provider the app can talk to: the configured ones, the built-in local model,
and local servers found on this machine; and how to reach each."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .discovery import FoundServer
from .local_models import (
    DEFAULT_CONTEXT,
    LOCAL_NAME,
    TINY_MODEL_ID,
    TINY_SYSTEM_PROMPT,
    GgufInfo,
    LocalServer,
    LocalServerError,
    bundled_model,
    read_gguf_info,
    runtime_available,
)
from .providers import ChatRequest, Endpoint, Failure
from .secrets import KeyStore, endpoint_for, missing_key
from .session import NoEndpoint
from .settings import ProviderConfig, Settings

# Room left in the context for the reply itself.
REPLY_ROOM = 256
# Tokens a tokenizer may add beyond one a byte (a leading-space or start token).
TOKENIZER_SLACK = 8


@dataclass
class ProviderDirectory:
    settings: Settings
    keys: KeyStore
    local: LocalServer | None = None
    found: dict[str, FoundServer] = field(default_factory=dict)

    # The bundled tiny model's file, when installed.
    tiny: Path | None = None
    # Set while the keyring's answers are not in (the window paints before asking it):
    # meanwhile a provider is taken to have a key when the keyring held one last time.
    assume_keys: frozenset[str] | None = None

    @classmethod
    def create(cls, settings: Settings, keys: KeyStore) -> ProviderDirectory:
        if not runtime_available():
            return cls(settings, keys)
        tiny = bundled_model()
        return cls(settings, keys, LocalServer(tiny), tiny=tiny)

    def added_models(self) -> list[GgufInfo]:
        """The .gguf files the user added (Add a local model…) that are still there."""
        found = []
        for path in self.settings.local_models:
            try:
                found.append(read_gguf_info(Path(path)))
            except (OSError, ValueError, ImportError):
                continue
        return found

    @property
    def has_local(self) -> bool:
        return self.local is not None and (self.tiny is not None or bool(self.settings.local_models))

    def names(self) -> list[str]:
        names = [p.name for p in self.settings.providers]
        if self.has_local:
            names.append(LOCAL_NAME)
        names.extend(n for n in self.found if n not in names)
        return names

    def default_choice(self) -> tuple[str, str]:
        """The default provider and model for new chats: the settings' choice, or the tiny
        local model when that choice has no key (a fresh machine with no key still works)."""
        name = self.settings.default_provider
        config = self.settings.provider(name)
        model = self.settings.default_model or (config.default_model if config else "")
        if config is not None and self.has_local and config.needs_key and not self.has_key(config):
            return LOCAL_NAME, TINY_MODEL_ID
        return name, model

    def has_key(self, config: ProviderConfig) -> bool:
        if self.assume_keys is not None and not self.keys.presence_known(config):
            return config.name in self.assume_keys
        return bool(self.keys.get(config))

    def models_of(self, name: str) -> list[str] | None:
        """Models known without asking the network (local ones), else None."""
        if name == LOCAL_NAME:
            return ([TINY_MODEL_ID] if self.tiny else []) + [m.path.stem for m in self.added_models()]
        if name in self.found:
            return list(self.found[name].models)
        return None

    def default_model(self, name: str) -> str:
        known = self.models_of(name)
        if known:
            return known[0]
        config = self.settings.provider(name)
        return config.default_model if config else ""

    def check_endpoint(self, name: str) -> None:
        """Raise NoEndpoint if this provider cannot be used as things stand (no network used)."""
        if name == LOCAL_NAME or name in self.found:
            return
        config = self.settings.provider(name)
        if config is None:
            raise NoEndpoint(f"The provider '{name}' is not configured. Add it under File → Providers.")
        if config.needs_key and not self.has_key(config):
            raise NoEndpoint(missing_key(config))

    async def endpoint(self, name: str, model: str = "") -> Endpoint:
        if name == LOCAL_NAME:
            if self.local is None:
                raise NoEndpoint("The local model is not installed (pip install 'desktop-chat[local]').")
            added = next((m for m in self.added_models() if m.path.stem == model), None)
            try:
                if added is not None:
                    self.local.use_model(added.path, added.path.stem)
                elif self.tiny is not None:
                    self.local.use_model(self.tiny, TINY_MODEL_ID)
                return Endpoint(await self.local.ensure_running(), None)
            except LocalServerError as exc:
                raise NoEndpoint(str(exc)) from exc
        if name in self.found:
            return Endpoint(self.found[name].base_url, None)
        config = self.settings.provider(name)
        if config is None:
            raise NoEndpoint(f"The provider '{name}' is not configured. Add it under File → Providers.")
        return endpoint_for(config, self.keys)

    def system_prompt(self, name: str) -> str:
        """A system prompt to send when the conversation has none."""
        return TINY_SYSTEM_PROMPT if name == LOCAL_NAME else ""

    async def preflight(self, name: str, request: ChatRequest) -> Failure | None:
        """Refuse what cannot work before sending: a prompt longer than the local model's context."""
        if name != LOCAL_NAME or self.local is None:
            return None
        text = "\n".join(m["content"] for m in request.messages)
        limit = self.local.context if self.local else DEFAULT_CONTEXT
        if len(text.encode("utf-8")) + TOKENIZER_SLACK + REPLY_ROOM <= limit:
            # A token is never shorter than a byte (byte-level BPE, SentencePiece with
            # byte fallback), so this fits: no round trip to the tokenizer before the
            # request, which the first token would wait for.
            return None
        tokens = await self.local.count_tokens(text)
        if tokens is not None and tokens + REPLY_ROOM > limit:
            return Failure(
                "context",
                f"The conversation is longer than this model's context ({limit:,} tokens; this one needs "
                f"about {tokens:,}). Start a new chat, or edit an earlier message to leave older ones out.",
            )
        return None

    def shutdown(self) -> None:
        if self.local is not None:
            self.local.stop()


__all__ = ["ProviderDirectory", "ProviderConfig"]
