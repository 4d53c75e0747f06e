"""The .deb, built from this checkout, checked by Debian's tools and installed in a clean root.

Slow (a PyInstaller build, lintian, a Debian root): marked `packaging`, so a quick
local run can skip it with `-m "not packaging"`. CI requires it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.test_real_window import display, wait_for, xdotool  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("dpkg-deb", "lintian", "desktop-file-validate", "appstreamcli", "debootstrap", "Xvfb", "xdotool", "strip")
ready = os.geteuid() == 0 and all(shutil.which(t) for t in TOOLS)
pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(
        not ready and not os.environ.get("DESKTOP_CHAT_REQUIRE_PACKAGING"), reason=f"needs root and {', '.join(TOOLS)}"
    ),
]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    env = {**os.environ, "BUILD_VENV": str(Path(sys.executable).parent.parent)}
    started = time.monotonic()
    out = subprocess.run(
        ["bash", "packaging/build-linux.sh"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    print(out.stdout, f"(build {time.monotonic() - started:.0f} s)")
    found = sorted((ROOT / "dist").glob("desktop-chat_*.deb"))
    assert found
    return found[-1]


def test_debian_tools_accept_it(deb):
    lint = subprocess.run(
        ["lintian", "--tag-display-limit", "0", str(deb)], capture_output=True, text=True, timeout=600
    )
    problems = [line for line in lint.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert lint.returncode == 0 and not problems, lint.stdout
    assert subprocess.run(["desktop-file-validate", str(ROOT / "resources" / "desktop-chat.desktop")]).returncode == 0
    metainfo = ROOT / "resources" / "io.github.desktop_chat.DesktopChat.metainfo.xml"
    assert subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)]).returncode == 0
    fields = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True).stdout
    for needed in ("libgl1", "libegl1", "libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libc6 (>= 2.36)"):
        assert needed in fields
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for path in (
        "./usr/bin/desktop-chat",
        "./usr/share/applications/desktop-chat.desktop",
        "./usr/share/metainfo/io.github.desktop_chat.DesktopChat.metainfo.xml",
        "./usr/share/icons/hicolor/48x48/apps/desktop-chat.png",
        "./usr/share/doc/desktop-chat/copyright",
        "./usr/lib/desktop-chat/_internal/PySide6/Qt/plugins/platforms/libqxcb.so",
    ):
        assert path in contents, path


SHOT = textwrap.dedent(
    """
    import sys
    from PySide6.QtGui import QGuiApplication
    app = QGuiApplication(["shot"])
    sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)
    """
)


def test_installs_runs_answers_and_removes_cleanly_in_a_clean_root(deb, display, fake_server, tmp_path):  # noqa: F811
    # Nothing queued: the test server echoes, which is what check-deb.sh expects of `ask`.
    wait_file, root_file = tmp_path / "typed", tmp_path / "root"
    env = {
        **os.environ,
        "CHECK_WAIT_FILE": str(wait_file),
        "CHECK_ROOT_FILE": str(root_file),
        "CHECK_MIN_CONVERSATIONS": "1",
    }
    check = subprocess.Popen(
        ["bash", "packaging/check-deb.sh", str(deb), fake_server.base_url, display],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        window = wait_for(
            lambda: (
                check.poll() is not None
                or xdotool(display, "search", "--onlyvisible", "--name", "Desktop Chat").stdout.split()
            ),
            timeout=900,
        )
        assert window and check.poll() is None, "the installed app showed no window:\n" + (
            check.stdout.read() if check.poll() is not None else ""
        )
        time.sleep(1.0)
        xdotool(display, "windowfocus", "--sync", window[0])
        xdotool(display, "type", "--delay", "5", "hi from X11")
        xdotool(display, "key", "Return")
        assert wait_for(lambda: any(r["messages"][-1]["content"] == "hi from X11" for r in fake_server.requests))
        time.sleep(1.5)
        shot = tmp_path / "installed-window.png"
        subprocess.run(
            [sys.executable, "-c", SHOT, str(shot)],
            env={**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
            timeout=60,
        )
        assert shot.exists() and shot.stat().st_size > 10_000
        shutil.copy(shot, ROOT / "dist" / "installed-window.png")
    finally:
        wait_file.touch()
        output, _ = check.communicate(timeout=600)
    print(output)
    assert check.returncode == 0, output
    assert "clean root check passed" in output
