"""`desktop-chat mcp import` and `mcp list` as real processes: servers from an mcpServers
file, their secrets in the (test) keyring, a real stdio server listed with its tools, and
one that cannot start listed with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def mcp(*args):
    return subprocess.run(
        [sys.executable, "-m", "desktop_chat", "mcp", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def test_import_then_list(isolated_home, tmp_path):
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "ours": {
                        "command": sys.executable,
                        "args": ["-m", "tests.fakes.mcp_server"],
                        "cwd": str(ROOT),
                        "env": {"API_TOKEN": "tok-secret-123"},
                        "autoApprove": ["add"],
                    },
                    "gone": {"command": "/nonexistent/server"},
                }
            }
        )
    )
    imported = mcp("import", str(config))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "Added (enabled): ours, gone\n"
    assert "Server 'ours': its list of tools to run without asking was ignored" in imported.stderr
    settings = (isolated_home / "settings.toml").read_text()
    assert "tok-secret-123" not in settings and "API_TOKEN" in settings

    listed = mcp("list")
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert text.startswith(f"ours (running) — {sys.executable} -m tests.fakes.mcp_server\n  add: Add two integers.\n")
    assert "gone (failed) — /nonexistent/server\n  The tool server 'gone' could not start: there is no program" in text
    as_json = json.loads(mcp("list", "--json").stdout)
    assert [s["state"] for s in as_json] == ["running", "failed"]
    assert [t["name"] for t in as_json[0]["tools"]] == [
        "add",
        "sleepy",
        "secret_from_env",
        "whoami",
        "spawn_grandchild",
        "crash",
    ]

    # Imported again, switched off: updated, not added; listed without being started.
    again = mcp("import", "--disabled", str(config))
    assert again.stdout == "Updated (disabled): ours, gone\n"
    assert [s["state"] for s in json.loads(mcp("list", "--json").stdout)] == ["disabled", "disabled"]


def test_a_file_that_cannot_be_used_says_why(isolated_home, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"a": {"url": "ftp://nope"}}}')
    out = mcp("import", str(bad))
    assert out.returncode == 1
    assert out.stderr == "desktop-chat: Server 'a': its url must start with http:// or https://; left out.\n"
    missing = mcp("import", str(tmp_path / "none.json"))
    assert missing.returncode == 1 and "cannot be read: No such file or directory" in missing.stderr
    assert not (isolated_home / "settings.toml").exists()


def test_list_says_which_tools_were_left_out_and_why(isolated_home, tmp_path):
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"liar": _ours_with("--lying-schemas")}}))
    assert mcp("import", str(config)).returncode == 0
    listed = mcp("list")
    assert listed.returncode == 0, listed.stderr
    notes = [line for line in listed.stdout.splitlines() if line.startswith("  ! ")]
    assert notes and all("was left out" in line for line in notes)
    as_json = json.loads(mcp("list", "--json").stdout)
    assert as_json[0]["notes"] == [line[4:] for line in notes]
    assert "add" in [t["name"] for t in as_json[0]["tools"]]


def _ours_with(*extra):
    return {"command": sys.executable, "args": ["-m", "tests.fakes.mcp_server", *extra], "cwd": str(ROOT)}
