"""Settings declared once as data, read from and written to settings.toml."""

from __future__ import annotations

import time
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .files import write_private

OPENAI_NAME = "OpenAI"
OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class ProviderConfig:
    """A provider is an endpoint (plus a key kept elsewhere): OpenAI or any compatible server."""

    name: str
    base_url: str
    default_model: str = ""
    # Local servers (Ollama, LM Studio, llama.cpp) take no key; the SDK still wants one.
    needs_key: bool = True


@dataclass(frozen=True)
class PromptPreset:
    name: str
    prompt: str


@dataclass(frozen=True)
class Settings:
    providers: tuple[ProviderConfig, ...] = (ProviderConfig(OPENAI_NAME, OPENAI_URL, "gpt-4o-mini"),)
    default_provider: str = OPENAI_NAME
    default_model: str = ""
    system_prompt: str = ""
    temperature: float | None = None
    # Seconds to wait for the first token, and for the next one once a reply streams.
    first_token_timeout: float = 60.0
    idle_timeout: float = 30.0
    first_run_done: bool = False
    prompt_presets: tuple[PromptPreset, ...] = ()
    theme: str = "system"  # system, light, dark
    font_size: int = 0  # points for the transcript and composer; 0 = the system's
    send_key: str = "enter"  # enter, ctrl+enter (the other one makes a new line)
    quick_ask_shortcut: str = "Ctrl+Alt+Space"
    start_at_login: bool = False
    keep_in_tray: bool = False
    # Where API keys live: the system keyring, or (when there is none, and the user
    # chose it) a file in the config folder readable only by them.
    key_storage: str = "keyring"
    # Ask the model for a short title after the first exchange (else the first words are used).
    model_titles: bool = False
    # .gguf files added with "Add a local model…", served by the built-in local provider.
    local_models: tuple[str, ...] = ()
    # One-time explanations already given: no global shortcut here; the app stays in the tray.
    shortcut_notice_shown: bool = False
    tray_notice_shown: bool = False
    # Providers whose key the keyring held when last asked (names, never keys): the
    # window paints before the keyring answers and chooses by this meanwhile.
    keys_seen: tuple[str, ...] = ()

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)

    def with_provider(self, provider: ProviderConfig, old_name: str | None = None) -> Settings:
        """Add or replace a provider (by old_name, or by its own name)."""
        key = old_name or provider.name
        kept = [p for p in self.providers if p.name not in (key, provider.name)]
        index = next((i for i, p in enumerate(self.providers) if p.name == key), len(kept))
        kept.insert(min(index, len(kept)), provider)
        return replace(self, providers=tuple(kept))

    def without_provider(self, name: str) -> Settings:
        return replace(self, providers=tuple(p for p in self.providers if p.name != name))


class SettingsError(ValueError):
    """The settings file could not be used; the message says why, for the user."""


@dataclass
class LoadResult:
    settings: Settings
    # Set when the file was broken: what was wrong, and where the original was kept.
    problem: str | None = None
    backup: Path | None = None
    warnings: list[str] = field(default_factory=list)


_SCALARS: dict[str, tuple[type, ...]] = {
    "default_provider": (str,),
    "default_model": (str,),
    "system_prompt": (str,),
    "temperature": (int, float),
    "first_token_timeout": (int, float),
    "idle_timeout": (int, float),
    "first_run_done": (bool,),
    "theme": (str,),
    "font_size": (int,),
    "send_key": (str,),
    "quick_ask_shortcut": (str,),
    "start_at_login": (bool,),
    "keep_in_tray": (bool,),
    "key_storage": (str,),
    "model_titles": (bool,),
    "shortcut_notice_shown": (bool,),
    "tray_notice_shown": (bool,),
}
_CHOICES = {
    "theme": ("system", "light", "dark"),
    "send_key": ("enter", "ctrl+enter"),
    "key_storage": ("keyring", "file"),
}


def parse_settings(data: dict[str, Any]) -> tuple[Settings, list[str]]:
    """Validate a TOML table into Settings. Unknown keys are reported, not fatal."""
    warnings: list[str] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("providers", "prompt_presets", "local_models", "keys_seen"):
            continue
        if key not in _SCALARS:
            warnings.append(f"unknown setting '{key}' ignored")
            continue
        if isinstance(value, bool) and bool not in _SCALARS[key]:
            raise SettingsError(f"'{key}' must be a number, not {value!r}")
        if not isinstance(value, _SCALARS[key]):
            raise SettingsError(f"'{key}' has the wrong type: {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and float in _SCALARS[key]:
            value = float(value)
        values[key] = value
    for key, allowed in _CHOICES.items():
        if key in values and values[key] not in allowed:
            raise SettingsError(f"'{key}' must be one of {', '.join(allowed)}, not {values[key]!r}")
    if "font_size" in values and not (values["font_size"] == 0 or 6 <= values["font_size"] <= 48):
        raise SettingsError("'font_size' must be 0 (the system's) or between 6 and 48")
    if "temperature" in values and not 0 <= values["temperature"] <= 2:
        raise SettingsError("'temperature' must be between 0 and 2")
    for key in ("first_token_timeout", "idle_timeout"):
        if key in values and values[key] <= 0:
            raise SettingsError(f"'{key}' must be a positive number of seconds")
    if "providers" in data:
        raw = data["providers"]
        if not isinstance(raw, list):
            raise SettingsError("'providers' must be a list of [[providers]] tables")
        providers = []
        for i, entry in enumerate(raw, 1):
            if not isinstance(entry, dict):
                raise SettingsError(f"provider #{i} is not a table")
            name, url = entry.get("name"), entry.get("base_url")
            if not isinstance(name, str) or not name.strip():
                raise SettingsError(f"provider #{i} needs a 'name'")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise SettingsError(f"provider '{name}' needs a 'base_url' starting with http:// or https://")
            if "api_key" in entry:
                warnings.append(f"provider '{name}': api_key in settings.toml ignored; keys live in the keyring")
            providers.append(
                ProviderConfig(
                    name=name.strip(),
                    base_url=url,
                    default_model=str(entry.get("default_model", "")),
                    needs_key=bool(entry.get("needs_key", True)),
                )
            )
        values["providers"] = tuple(providers)
    if "local_models" in data:
        if not isinstance(data["local_models"], list) or not all(isinstance(p, str) for p in data["local_models"]):
            raise SettingsError("'local_models' must be a list of .gguf file paths")
        values["local_models"] = tuple(data["local_models"])
    if "keys_seen" in data:
        if not isinstance(data["keys_seen"], list) or not all(isinstance(n, str) for n in data["keys_seen"]):
            raise SettingsError("'keys_seen' must be a list of provider names")
        values["keys_seen"] = tuple(data["keys_seen"])
    if "prompt_presets" in data:
        raw = data["prompt_presets"]
        if not isinstance(raw, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("prompt"), str) for e in raw
        ):
            raise SettingsError("'prompt_presets' must be [[prompt_presets]] tables with a name and a prompt")
        values["prompt_presets"] = tuple(PromptPreset(e["name"], e["prompt"]) for e in raw)
    return Settings(**values), warnings


def settings_to_toml(settings: Settings) -> str:
    import tomli_w

    data = asdict(settings)
    if data["temperature"] is None:
        del data["temperature"]
    data["providers"] = [asdict(p) for p in settings.providers]
    data["prompt_presets"] = [asdict(p) for p in settings.prompt_presets]
    data["local_models"] = list(settings.local_models)
    data["keys_seen"] = list(settings.keys_seen)
    header = (
        "# Desktop Chat settings. Edit while the app is closed; invalid files are kept\n"
        "# aside as a backup and defaults are used. API keys never go here: they live\n"
        "# in the system keyring.\n\n"
    )
    return header + tomli_w.dumps(data)


def load_settings(path: Path) -> LoadResult:
    """Read settings; a broken file is moved aside, never lost, and defaults are used."""
    if not path.exists():
        return LoadResult(Settings())
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
        settings, warnings = parse_settings(data)
        return LoadResult(settings, warnings=warnings)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, SettingsError) as exc:
        backup = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.replace(backup)
        except OSError:
            backup = None  # type: ignore[assignment]
        return LoadResult(Settings(), problem=str(exc), backup=backup)


def save_settings(path: Path, settings: Settings) -> None:
    """Write atomically and privately (0600)."""
    write_private(path, settings_to_toml(settings))
