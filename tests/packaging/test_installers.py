"""What can be checked here of the Windows and macOS packaging: the NSIS script compiles
(Debian's makensis), and the release workflow uses the shared spec on the right runners."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not shutil.which("makensis") and not os.environ.get("DESKTOP_CHAT_REQUIRE_PACKAGING"),
    reason="needs makensis (apt-get install nsis)",
)
def test_nsis_installer_script_compiles_without_warnings(tmp_path):
    bundle = tmp_path / "desktop-chat"
    bundle.mkdir()
    (bundle / "desktop-chat.exe").write_bytes(b"MZ placeholder for the PyInstaller bundle")
    out = tmp_path / "DesktopChat-installer.exe"
    result = subprocess.run(
        ["makensis", "-V2", "-WX", f"-DSOURCE={bundle}", f"-DOUTFILE={out}", "desktop-chat.nsi"],
        cwd=ROOT / "packaging" / "windows",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:2] == b"MZ"
    script = (ROOT / "packaging" / "windows" / "desktop-chat.nsi").read_text()
    assert "RequestExecutionLevel user" in script and "$LOCALAPPDATA" in script and "WriteUninstaller" in script


def test_release_workflow_builds_every_platform_from_the_shared_spec():
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    for needed in (
        "windows-2022",
        "macos-14",
        "macos-13",
        "packaging/desktop-chat.spec",
        "makensis",
        "hdiutil",
        "--version",
    ):
        assert needed in workflow, needed
