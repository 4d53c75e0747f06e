"""What the app remembers that is not a preference: first run done, explanations given,
which providers had a key last time. A small JSON file beside the history."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from .files import write_private


@dataclass(frozen=True)
class AppState:
    first_run_done: bool = False
    # One-time explanations already given: no global shortcut here; the app stays in the tray.
    shortcut_notice_shown: bool = False
    tray_notice_shown: bool = False
    # Ids of the providers whose key the keyring held when last asked (never keys): the
    # window paints before the keyring answers and chooses by this meanwhile.
    keys_seen: tuple[str, ...] = ()
    # Keys were moved from providers' display names to their ids (core/secrets.py).
    keys_renamed: bool = False
    # Models ("provider/model") whose last reply closed a </think> it never opened, and
    # those whose last reply had no such tag (core/reasoning.py ThinkHabits).
    think_unopened: tuple[str, ...] = ()
    think_plain: tuple[str, ...] = ()
    # Tools the user allowed always: "server id<TAB>tool<TAB>fingerprint of what the tool
    # said it does" (core/tools/trust.py); a tool that changes is asked about again.
    tools_always: tuple[str, ...] = ()


def _valid(value: Any, hint: Any) -> Any:
    if hint is bool:
        return value if isinstance(value, bool) else None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def state_from(data: dict[str, Any]) -> AppState:
    """What can be used of `data`; anything unknown or of the wrong type is left at its default."""
    hints = get_type_hints(AppState)
    values = {}
    for f in dataclasses.fields(AppState):
        if f.name in data and (value := _valid(data[f.name], hints[f.name])) is not None:
            values[f.name] = value
    return AppState(**values)


class StateFile:
    """The app state in force and its file. Writing it is best effort: it only saves the
    app a question or an explanation next time."""

    def __init__(self, state: AppState | None = None, path: Path | None = None) -> None:
        self._current = state or AppState()
        self.path = path

    @classmethod
    def load(cls, path: Path, moved: dict[str, Any] | None = None) -> StateFile:
        """Read the file; when there is none yet, start from what an older settings.toml held."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = moved or {}
        except (OSError, ValueError):
            data = {}
        return cls(state_from(data if isinstance(data, dict) else {}), path)

    @property
    def current(self) -> AppState:
        return self._current

    def update(self, new: AppState) -> None:
        """Put `new` in force and write it (give it as replace(state.current, ...): the
        names of what changed are then checked)."""
        if new == self._current:
            return
        self._current = new
        if self.path is not None:
            try:
                write_private(self.path, json.dumps(dataclasses.asdict(new), indent=1))
            except OSError:
                pass  # asked or explained again next time: nothing is lost
