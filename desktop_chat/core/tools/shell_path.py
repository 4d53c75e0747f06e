"""The PATH of the user's login shell, for a tool server whose program is not on the app's.

An app started from the desktop menu or the Dock gets the session's bare PATH, without
what ~/.profile, ~/.bashrc or ~/.zshrc add (nvm's node and npx, uv's uvx in ~/.local/bin,
Homebrew), so `npx ...` and `uvx ...` servers that start from a terminal would not start
from the menu. As Chatbox (through sindresorhus's shell-env) and VS Code do, the login
shell is asked once, interactive so that ~/.bashrc is read too, with markers around the
PATH it prints (a greeting or a prompt may print too). Never on Windows, where programs
find their PATH in the registry.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading

TIMEOUT = 5.0  # a shell whose start-up files hang (or ask something) is given up on

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_lock = threading.Lock()
_known: dict[str, str | None] = {}  # by shell: asked once for the process


def login_shell_path(timeout: float = TIMEOUT) -> str | None:
    """The PATH the user's login shell makes, or None (Windows, no shell, or it failed).
    Blocks for up to `timeout` the first time: call it from a worker thread."""
    if sys.platform == "win32":
        return None
    shell = os.environ.get("SHELL") or ("/bin/zsh" if sys.platform == "darwin" else "/bin/sh")
    with _lock:
        if shell not in _known:
            _known[shell] = _ask(shell, timeout)
        return _known[shell]


def _ask(shell: str, timeout: float) -> str | None:
    mark = f"_DESKTOP_CHAT_{secrets.token_hex(6)}_"
    script = f"printf '%s' {mark}; printenv PATH; printf '%s' {mark}; exit"
    env = dict(os.environ, DISABLE_AUTO_UPDATE="true", ZSH_TMUX_AUTOSTARTED="true", ZSH_TMUX_AUTOSTART="false")
    try:
        # A session of its own: an interactive shell must not take the terminal the app
        # may have been started from, and a timeout ends all it started.
        shell_process = subprocess.Popen(
            [shell, "-ilc", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    except OSError:
        return None
    try:
        out, _ = shell_process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end_group(shell_process)
        return None
    parts = _ANSI.sub("", out.decode("utf-8", "replace")).split(mark)
    if len(parts) < 3:
        return None
    path = parts[1].strip()
    return path or None


def _end_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        process.communicate(timeout=1.0)
    except subprocess.TimeoutExpired:
        pass  # (a grandchild holds the pipe open; it was sent SIGKILL too)
