"""Every provider the app can talk to: the configured ones, the built-in local model,
and local servers found on this machine; how to reach each; and which provider and
model a chat uses (`choose`, the one place that decides it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path

from .discovery import KNOWN_SERVERS, FoundServer, find_local_servers
from .events import Failure, FailureKind
from .local_models import (
    LOCAL_NAME,
    TINY_MODEL_ID,
    TINY_MODEL_LABEL,
    TINY_SYSTEM_PROMPT,
    GgufInfo,
    LocalServer,
    LocalServerError,
    bundled_model,
    read_gguf_info,
    runtime_available,
)
from .model_info import ModelInfo
from .providers import ChatRequest, Endpoint, NoEndpoint, ProviderClients
from .sdk import load_sdk
from .secrets import KeyStore, endpoint_for, missing_key
from .settings import ProviderConfig, Settings, SettingsStore

# Room left in the context for the reply itself.
REPLY_ROOM = 256
# Tokens a tokenizer may add beyond one a byte (a leading-space or start token).
TOKENIZER_SLACK = 8


@dataclass(frozen=True)
class Choice:
    """The provider and model a chat sends to."""

    provider: str
    model: str


class ProviderDirectory:
    def __init__(
        self,
        settings: SettingsStore,
        keys: KeyStore,
        clients: ProviderClients | None = None,
        local: LocalServer | None = None,
        tiny: Path | None = None,
    ) -> None:
        self._settings = settings
        self.keys = keys
        self.clients = clients or ProviderClients()
        self.local = local
        # The bundled tiny model's file, when installed.
        self.tiny = tiny
        # Local servers found running on this machine, by name.
        self.found: dict[str, FoundServer] = {}
        # Where to look for them (tests point these at their own ports).
        self.discovery_targets: tuple[tuple[str, int, str], ...] = KNOWN_SERVERS
        # Model ids each provider listed this run (asked once, when a picker opens), and
        # what the list said of each (context, vision).
        self.listed: dict[str, list[str]] = {}
        self.infos: dict[str, dict[str, ModelInfo]] = {}
        # Configured providers reached once this run (their key read, their client made).
        self._reached: set[str] = set()
        # --provider/--model of this launch: what new chats start with (not saved).
        self.preferred: tuple[str | None, str | None] = (None, None)

    @classmethod
    def create(cls, settings: SettingsStore, keys: KeyStore, clients: ProviderClients) -> ProviderDirectory:
        if not runtime_available():
            return cls(settings, keys, clients)
        tiny = bundled_model()
        return cls(settings, keys, clients, LocalServer(tiny), tiny=tiny)

    @property
    def settings(self) -> Settings:
        return self._settings.current

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

    def add_local_model(self, path: Path) -> GgufInfo:
        """Serve a .gguf file from the local provider from now on (kept in the settings).
        Raises NoEndpoint without the local runtime, ValueError or OSError for a file that
        is not a model, SettingsWriteError when the settings could not be saved."""
        if self.local is None:
            raise NoEndpoint("Local models need the local runtime: pip install 'desktop-chat[local]'.")
        info = read_gguf_info(path)
        settings = self.settings
        if str(path) not in settings.local_models:
            self._settings.update(replace(settings, local_models=(*settings.local_models, str(path))))
        return info

    def describe(self, name: str) -> str:
        """A line about a provider for its tooltip, where there is something to say."""
        if name == LOCAL_NAME:
            return TINY_MODEL_LABEL
        if name in self.found:
            return "Found running on this computer"
        return ""

    def model_labels(self, name: str) -> dict[str, str]:
        """Longer names for some models of a provider (the local model files)."""
        if name != LOCAL_NAME:
            return {}
        labels = {m.path.stem: m.label for m in self.added_models()}
        labels[TINY_MODEL_ID] = TINY_MODEL_LABEL
        return labels

    # Choosing

    def _default(self) -> Choice:
        """The settings' choice, or the tiny local model when that choice has no key
        (a fresh machine with no key still works)."""
        name = self.settings.default_provider
        config = self.settings.provider(name)
        model = self.settings.default_model or (config.default_model if config else "")
        if config is not None and self.has_local and config.needs_key and not self.keys.has_key(config):
            return Choice(LOCAL_NAME, TINY_MODEL_ID)
        return Choice(name, model)

    def choose(self, provider: str | None, model: str | None) -> Choice:
        """What a chat uses when asked for `provider` and `model` (either may be missing):
        an unknown provider gives the default one; a missing model the provider's default."""
        if provider is None or provider not in self.names():
            default = self._default()
            provider, model = default.provider, model or default.model
        if not model and provider == self.settings.default_provider:
            model = self.settings.default_model
        return Choice(provider, model or self.default_model(provider))

    def for_new_chats(self) -> Choice:
        return self.choose(*self.preferred)

    def models_of(self, name: str) -> list[str] | None:
        """Models known without asking the network (local ones, or listed already), else None."""
        if name == LOCAL_NAME:
            return ([TINY_MODEL_ID] if self.tiny else []) + [m.path.stem for m in self.added_models()]
        if name in self.found:
            return list(self.found[name].models)
        return self.listed.get(name)

    def default_model(self, name: str) -> str:
        if name == LOCAL_NAME or name in self.found:
            known = self.models_of(name)
            if known:
                return known[0]
        config = self.settings.provider(name)
        return config.default_model if config else ""

    # Reaching a provider

    def check_endpoint(self, name: str) -> None:
        """Raise NoEndpoint if this provider cannot be used as things stand (no network used)."""
        if name == LOCAL_NAME or name in self.found:
            return
        config = self.settings.provider(name)
        if config is None:
            raise NoEndpoint(f"The provider '{name}' is not configured. Add it under File → Providers.")
        if config.needs_key and not self.keys.has_key(config):
            raise NoEndpoint(missing_key(config))

    def providers_taking_keys(self) -> list[ProviderConfig]:
        return [p for p in self.settings.providers if p.needs_key]

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
        if name not in self._reached:
            # The first time: its key from the keyring (loading keyring's backends, a D-Bus
            # round trip) and its client (TLS set up), ~0.2 s, in a worker thread, not in the
            # window's loop. Later the key is known and the client kept.
            await load_sdk()
            loop = asyncio.get_running_loop()
            endpoint = await loop.run_in_executor(None, self._configured_endpoint, name)
            await loop.run_in_executor(None, self.clients.client, endpoint)
            self._reached.add(name)
            return endpoint
        return self._configured_endpoint(name)

    def _configured_endpoint(self, name: str) -> Endpoint:
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
        text = "\n".join(_text_of(m["content"]) for m in request.messages)
        limit = self.local.context
        if len(text.encode("utf-8")) + TOKENIZER_SLACK + REPLY_ROOM <= limit:
            # A token is never shorter than a byte (byte-level BPE, SentencePiece with
            # byte fallback), so this fits: no round trip to the tokenizer before the
            # request, which the first token would wait for.
            return None
        tokens = await self.local.count_tokens(text)
        if tokens is not None and tokens + REPLY_ROOM > limit:
            return Failure(
                FailureKind.CONTEXT,
                f"The conversation is longer than this model's context ({limit:,} tokens; this one needs "
                f"about {tokens:,}). Start a new chat, or edit an earlier message to leave older ones out.",
            )
        return None

    # Finding out

    async def list_models(self, name: str) -> list[str]:
        """The provider's models, asked over the network once per run; raises NoEndpoint or
        ProviderError with what to tell the user."""
        known = self.models_of(name)
        if known is not None:
            return known
        if name == LOCAL_NAME or name in self.found:
            endpoint = await self.endpoint(name)
        else:
            # A key from the keyring (a D-Bus round trip) and a new client (its TLS setup,
            # ~0.1 s): in a worker thread, not in the window's loop.
            await load_sdk()
            loop = asyncio.get_running_loop()
            endpoint = await loop.run_in_executor(None, self._configured_endpoint, name)
            await loop.run_in_executor(None, self.clients.client, endpoint)
        infos = await self.clients.list_models(endpoint)
        self.infos[name] = infos
        self.listed[name] = list(infos)
        return self.listed[name]

    def model_info(self, name: str, model: str) -> ModelInfo:
        """What is known of a model: from its provider's list (once listed), or of the
        built-in local model (its context; it does not see images)."""
        if name == LOCAL_NAME and self.local is not None:
            return ModelInfo(context=self.local.context, vision=False)
        return self.infos.get(name, {}).get(model, ModelInfo())

    async def discover(self) -> bool:
        """Probe for Ollama and LM Studio on this computer; True when what was found changed."""
        found = {server.name: server for server in await find_local_servers(self.discovery_targets)}
        if found == self.found:
            return False
        self.found = found
        return True

    def shutdown(self) -> None:
        if self.local is not None:
            self.local.stop()


def _text_of(content: object) -> str:
    """A message's text, whether its content is a string or content parts (an image counts
    as nothing here: the local model does not see)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
