"""Where the app keeps its files: platformdirs by default, one folder with --home."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "DESKTOP_CHAT_HOME"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def key_file(self) -> Path:
        """Only used when there is no keyring and the user chose a private file."""
        return self.config_dir / "keys.json"

    @property
    def state_file(self) -> Path:
        """What the app remembers that is not a setting (core/state.py)."""
        return self.data_dir / "state.json"

    @property
    def history_file(self) -> Path:
        return self.data_dir / "history.db"

    def ensure(self) -> None:
        # Every folder the app makes is private to the user (0700).
        for folder in (self.config_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def resolve_paths(home: str | os.PathLike[str] | None = None) -> AppPaths:
    """--home wins, then $DESKTOP_CHAT_HOME, then the platform's usual folders."""
    chosen = home or os.environ.get(HOME_ENV)
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return AppPaths(config_dir=root, data_dir=root)
    import platformdirs

    return AppPaths(
        config_dir=Path(platformdirs.user_config_dir("desktop-chat", appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir("desktop-chat", appauthor=False)),
    )
