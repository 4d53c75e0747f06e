"""Start at login: an XDG autostart entry on Linux (Windows and macOS come with the tray work)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENTRY = """[Desktop Entry]
Type=Application
Name=Desktop Chat
Comment=Chat with language models
Exec={command}
Icon=desktop-chat
Terminal=false
X-GNOME-Autostart-enabled=true
"""


def autostart_file() -> Path:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "autostart" / "desktop-chat.desktop"


def set_autostart(enabled: bool, command: str | None = None) -> Path | None:
    """Create or remove the entry; returns its path when one exists afterwards."""
    if not sys.platform.startswith("linux"):
        return None
    path = autostart_file()
    if not enabled:
        path.unlink(missing_ok=True)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(ENTRY.format(command=command or "desktop-chat"))
    return path
