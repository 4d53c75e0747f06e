"""Settings declared once as data (type, default, choices, doc), read from and written to
settings.toml, and the one object that owns the settings in force (SettingsStore)."""

from __future__ import annotations

import dataclasses
import time
import tomllib
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from desktop_chat.errors import DesktopChatError, SaveFailed

from .files import write_private
from .tools.config import ToolConfigError, ToolServerConfig, parse_tool_servers, tool_server_table

OPENAI_NAME = "OpenAI"
OPENAI_URL = "https://api.openai.com/v1"

# Facts about this installation that are not preferences; kept in the state file
# (core/state.py) since 0.2, still read from an older settings.toml once.
MOVED_TO_STATE = ("first_run_done", "shortcut_notice_shown", "tray_notice_shown", "keys_seen")

T = TypeVar("T")


def provider_id_for(name: str) -> str:
    """The id a provider had before ids were written down: the same for the same name, so
    an older settings file gives the same ids at every start until it is saved again.
    (CRC-32, not uuid5: hashlib would cost the first paint 3 ms; the few names a user has
    do not collide, and the parser gives a twin an id of its own.)"""
    return f"{zlib.crc32(f'desktop-chat:provider:{name}'.encode()):08x}"


def new_provider_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class ProviderConfig:
    """A provider is an endpoint (plus a key kept elsewhere): OpenAI or any compatible server.

    `id` is its identity (keys are stored under it); `name` is what the user calls it and
    may change."""

    name: str
    base_url: str
    default_model: str = ""
    # Local servers (Ollama, LM Studio, llama.cpp) take no key; the SDK still wants one.
    needs_key: bool = True
    id: str = ""
    # Send a reply's reasoning back with the conversation (DeepSeek's thinking mode with
    # tools answers 400 without it; most providers want it left out).
    send_reasoning: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", provider_id_for(self.name))


@dataclass(frozen=True)
class PromptPreset:
    name: str
    prompt: str


@dataclass(frozen=True)
class Option:
    """What the settings file and the Settings dialog know about one setting."""

    doc: str
    # (value, what the Settings dialog shows for it)
    choices: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # Values must be greater than this (timeouts).
    above: float | None = None
    # What a 0 outside minimum..maximum means, when it is allowed ("the system's").
    zero_means: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)


def option(default: T, doc: str, **details: Any) -> T:
    """A setting: its default and what else the file and the dialog know of it."""
    return field(default=default, metadata={"option": Option(doc, **details)})


@dataclass(frozen=True)
class Settings:
    """The user's preferences, as settings.toml holds them. Frozen: a change is a new value,
    given to SettingsStore.update."""

    providers: tuple[ProviderConfig, ...] = option(
        (ProviderConfig(OPENAI_NAME, OPENAI_URL, "gpt-4o-mini"),),
        "Endpoints the app can use ([[providers]] tables: name, base_url, default_model, needs_key, id,"
        " send_reasoning).",
    )
    default_provider: str = option(OPENAI_NAME, "Provider for new chats (a name from [[providers]]).")
    default_model: str = option("", "Model for new chats; empty: the provider's default_model.")
    system_prompt: str = option("", "System prompt for new chats.")
    temperature: float | None = option(
        None, "Temperature for new chats; left out: the provider's.", minimum=0, maximum=2
    )
    context_tokens: int = option(
        8_192,
        "Tokens of context to assume for a model whose provider does not say (attached documents are cut to fit).",
        minimum=1_024,
        maximum=10_000_000,
    )
    first_token_timeout: float = option(60.0, "Seconds to wait for the first token of a reply.", above=0)
    idle_timeout: float = option(30.0, "Seconds to wait for the next token once a reply streams.", above=0)
    prompt_presets: tuple[PromptPreset, ...] = option(
        (), "System prompts to pick from ([[prompt_presets]] tables: name, prompt)."
    )
    theme: str = option(
        "system", "Colours.", choices=(("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))
    )
    font_size: int = option(
        0, "Points for the transcript and the message box.", minimum=6, maximum=48, zero_means="the system's size"
    )
    send_key: str = option(
        "enter",
        "The key that sends; the other one adds a line.",
        choices=(
            ("enter", "Enter sends, Shift+Enter adds a line"),
            ("ctrl+enter", "Ctrl+Enter sends, Enter adds a line"),
        ),
    )
    reasoning: str = option(
        "fold",
        "A reply's reasoning (the model thinking) once its answer starts.",
        choices=(("fold", "Folded away (click to read)"), ("show", "Shown above the answer")),
    )
    quick_ask_shortcut: str = option("Ctrl+Alt+Space", "The global shortcut that opens quick ask.")
    start_at_login: bool = option(False, "Start Desktop Chat at login.")
    keep_in_tray: bool = option(False, "Closing the window keeps the app running in the tray.")
    key_storage: str = option(
        "keyring",
        "Where API keys live: the system keyring, or (where there is none, by your choice) a file only you can read.",
        choices=(("keyring", "System keyring"), ("file", "Private file")),
    )
    model_titles: bool = option(False, "Ask the model for a short title after the first reply.")
    local_models: tuple[str, ...] = option((), ".gguf files served by the built-in local provider.")
    tool_servers: tuple[ToolServerConfig, ...] = option(
        (),
        "Tool servers (MCP) offered to models ([[tool_servers]] tables: name, command and args, or url;"
        " secret_env/secret_headers name values kept in the keyring; enabled).",
    )
    tools_read_only_allowed: bool = option(
        False,
        "Run tools that their server marks read-only without asking first (a server's word, not a promise).",
    )
    tool_rounds: int = option(
        20,
        "At most this many rounds of tool calls in one reply; then the model is asked to answer.",
        minimum=1,
        maximum=200,
    )

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)

    def with_provider(self, provider: ProviderConfig) -> Settings:
        """Add a provider, or replace the one with its id (in its place)."""
        providers = list(self.providers)
        index = next((i for i, p in enumerate(providers) if p.id == provider.id), None)
        if index is None:
            providers.append(provider)
        else:
            providers[index] = provider
        return replace(self, providers=tuple(providers))

    @staticmethod
    def option(name: str) -> Option:
        found: Option = next(f.metadata["option"] for f in dataclasses.fields(Settings) if f.name == name)
        return found


class SettingsError(DesktopChatError, ValueError):
    """The settings file could not be used; the message says why, for the user."""


class SettingsWriteError(SaveFailed):
    """The settings could not be written; they apply until the app quits."""


@dataclass
class LoadResult:
    settings: Settings
    # Set when the file was broken: what was wrong, and where the original was kept.
    problem: str | None = None
    backup: Path | None = None
    warnings: list[str] = field(default_factory=list)
    # Keys an older version kept here that now live in the state file (MOVED_TO_STATE).
    moved: dict[str, Any] = field(default_factory=dict)


# How each kind of value is read and checked, from the declaration.
_TABLES = ("providers", "prompt_presets", "local_models", "tool_servers")


def _accepted_types(hint: object) -> tuple[type, ...]:
    if hint is bool:
        return (bool,)
    if hint is int:
        return (int,)
    if hint in (float, float | None):
        return (int, float)
    return (str,)


def _check(name: str, value: object, hint: object, rule: Option) -> object:
    accepted = _accepted_types(hint)
    if isinstance(value, bool) and bool not in accepted:
        raise SettingsError(f"'{name}' must be {'a number' if int in accepted else 'text'}, not {value!r}")
    if not isinstance(value, accepted):
        raise SettingsError(f"'{name}' has the wrong type: {value!r}")
    if rule.choices and value not in rule.values:
        raise SettingsError(f"'{name}' must be one of {', '.join(rule.values)}, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    number = float(value) if float in accepted else value
    if rule.above is not None and number <= rule.above:
        raise SettingsError(f"'{name}' must be a positive number of seconds")
    if rule.minimum is not None and rule.maximum is not None and not rule.minimum <= number <= rule.maximum:
        if not (rule.zero_means and number == 0):
            zero = f"0 ({rule.zero_means}) or " if rule.zero_means else ""
            raise SettingsError(f"'{name}' must be {zero}between {rule.minimum:g} and {rule.maximum:g}")
    return number


def _providers(raw: Any, warnings: list[str]) -> tuple[ProviderConfig, ...]:
    if not isinstance(raw, list):
        raise SettingsError("'providers' must be a list of [[providers]] tables")
    providers: list[ProviderConfig] = []
    for i, entry in enumerate(raw, 1):
        if not isinstance(entry, dict):
            raise SettingsError(f"provider #{i} is not a table")
        name, url, ident = entry.get("name"), entry.get("base_url"), entry.get("id", "")
        if not isinstance(name, str) or not name.strip():
            raise SettingsError(f"provider #{i} needs a 'name'")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SettingsError(f"provider '{name}' needs a 'base_url' starting with http:// or https://")
        if not isinstance(ident, str):
            raise SettingsError(f"provider '{name}': 'id' must be text")
        if "api_key" in entry:
            warnings.append(f"provider '{name}': api_key in settings.toml ignored; keys live in the keyring")
        provider = ProviderConfig(
            name=name.strip(),
            base_url=url,
            default_model=str(entry.get("default_model", "")),
            needs_key=bool(entry.get("needs_key", True)),
            id=ident,
            send_reasoning=entry.get("send_reasoning") is True,
        )
        if any(p.id == provider.id for p in providers):
            if ident:
                raise SettingsError(f"providers '{name}' and another share the id {provider.id!r}")
            # An older file (no ids yet) with two providers of one name: the second gets an
            # id of its own, the same at every start.
            provider = replace(provider, id=provider_id_for(f"{provider.name}#{i}"))
        providers.append(provider)
    return tuple(providers)


def _presets(raw: Any) -> tuple[PromptPreset, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("prompt"), str) for e in raw
    ):
        raise SettingsError("'prompt_presets' must be [[prompt_presets]] tables with a name and a prompt")
    return tuple(PromptPreset(e["name"], e["prompt"]) for e in raw)


def _paths(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise SettingsError("'local_models' must be a list of .gguf file paths")
    return tuple(raw)


def parse_settings(data: dict[str, Any]) -> LoadResult:
    """Validate a TOML table into Settings. Unknown keys are reported, not fatal."""
    hints = get_type_hints(Settings)
    rules = {f.name: f.metadata["option"] for f in dataclasses.fields(Settings)}
    result = LoadResult(Settings())
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in MOVED_TO_STATE:
            result.moved[key] = value
        elif key == "providers":
            values[key] = _providers(value, result.warnings)
        elif key == "prompt_presets":
            values[key] = _presets(value)
        elif key == "local_models":
            values[key] = _paths(value)
        elif key == "tool_servers":
            try:
                values[key] = parse_tool_servers(value)
            except ToolConfigError as exc:
                raise SettingsError(str(exc)) from None
        elif key in rules:
            values[key] = _check(key, value, hints[key], rules[key])
        else:
            result.warnings.append(f"unknown setting '{key}' ignored")
    result.settings = Settings(**values)
    return result


def settings_to_toml(settings: Settings) -> str:
    """The file as the app writes it: each setting under a comment saying what it is."""
    import tomli_w

    lines = [
        "# Desktop Chat settings. Edit while the app is closed; an invalid file is kept",
        "# aside as a backup and defaults are used. API keys never go here: they live",
        "# in the system keyring.",
        "",
    ]
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if f.name in _TABLES or value is None:
            continue
        lines.append(f"# {f.metadata['option'].doc}")
        lines.append(tomli_w.dumps({f.name: value}).rstrip())
    tables = {
        "local_models": list(settings.local_models),
        "providers": [dataclasses.asdict(p) for p in settings.providers],
        "prompt_presets": [dataclasses.asdict(p) for p in settings.prompt_presets],
        "tool_servers": [tool_server_table(s) for s in settings.tool_servers],
    }
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(tables)


def load_settings(path: Path) -> LoadResult:
    """Read settings; a broken file is moved aside, never lost, and defaults are used."""
    if not path.exists():
        return LoadResult(Settings())
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
        return parse_settings(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, SettingsError) as exc:
        aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.replace(aside)
        except OSError:
            return LoadResult(Settings(), problem=str(exc))
        return LoadResult(Settings(), problem=str(exc), backup=aside)


def save_settings(path: Path, settings: Settings) -> None:
    """Write atomically and privately (0600)."""
    write_private(path, settings_to_toml(settings))


SettingsListener = Callable[[Settings, Settings], None]


class SettingsStore:
    """The one owner of the settings in force. Everything that needs a setting reads
    `current` when it needs it; a change goes through update(), which writes the file
    and tells each listener (old, new)."""

    def __init__(self, settings: Settings | None = None, path: Path | None = None) -> None:
        self._current = settings or Settings()
        self.path = path
        self._listeners: list[SettingsListener] = []

    @property
    def current(self) -> Settings:
        return self._current

    def subscribe(self, listener: SettingsListener) -> None:
        self._listeners.append(listener)

    def update(self, settings: Settings) -> None:
        """Put `settings` in force and write them. If the file cannot be written they stay
        in force for this run and SettingsWriteError says why."""
        old, self._current = self._current, settings
        problem = None
        if self.path is not None and settings != old:
            try:
                save_settings(self.path, settings)
            except OSError as exc:
                problem = f"Your settings could not be saved ({exc.strerror or exc}); they apply until you quit."
        if settings != old:
            for listener in list(self._listeners):
                listener(old, settings)
        if problem:
            raise SettingsWriteError(problem)
