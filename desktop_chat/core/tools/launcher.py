"""The launcher every stdio tool server is started through, on Linux, so that no server
outlives the app, even after `kill -9` of it.

The SDK starts a server in a session of its own and ends it when the app closes it; but a
killed app closes nothing, and a server busy in a call was seen to survive its client's
`kill -9` (and `npx` leaves node grandchildren). So the SDK starts this launcher instead:
it asks the kernel for SIGTERM when its parent dies (`PR_SET_PDEATHSIG`: tied to the thread
that started it, the app's event-loop thread, which lives as long as the app), starts the
real server as its child in the same process group with the same stdin, stdout and
stderr, and waits. When it gets SIGTERM (the app died, or the SDK's own shutdown) it ends
the whole group: SIGTERM, then SIGKILL after a grace period. It imports nothing of the app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

LAUNCHER_FLAG = "--tool-launcher"
GRACE_S = 2.0
PR_SET_PDEATHSIG = 1


def command_for(command: str, args: list[str]) -> tuple[str, list[str]]:
    """The command and arguments to give the SDK for a server (through the launcher where
    the kernel has PR_SET_PDEATHSIG; as it is elsewhere)."""
    if not sys.platform.startswith("linux"):
        return command, args
    if getattr(sys, "frozen", False):
        return sys.executable, [LAUNCHER_FLAG, "--", command, *args]  # the installed app launches them
    # -P: the launch folder is not put on the path (a json.py there would be imported).
    return sys.executable, ["-P", "-m", "desktop_chat.core.tools.launcher", "--", command, *args]


def _die_with_parent() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("tool launcher: no command given", file=sys.stderr)
        return 2
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return 1  # (the app died before the request took effect)
    try:
        child = subprocess.Popen(argv)
    except OSError as exc:
        print(f"tool launcher: cannot start {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127

    def end_group(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # (the group's SIGTERM reaches us too)
        group = os.getpgrp()
        try:
            os.killpg(group, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + GRACE_S
        # (Not child.poll(): the child.wait() this handler interrupted holds Popen's lock,
        # so poll() says "running" until the grace is out.)
        while time.monotonic() < deadline and _running(child.pid):
            time.sleep(0.05)
        try:
            os.killpg(group, signal.SIGKILL)  # (and the launcher with them)
        except OSError:
            pass
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, end_group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


def _running(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
