"""The history verbs as real processes over a real history file, with no network and no key."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from tests.fakes.openai_server import TESTDATA

CHATGPT = TESTDATA / "chatgpt-export" / "conversations.json"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "desktop_chat", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OPENAI_API_KEY": ""},
    )


def test_import_list_search_show_export(tmp_path, isolated_home):
    out = run("import", "chatgpt", str(CHATGPT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Imported 192 conversations")
    again = run("import", "chatgpt", str(CHATGPT))
    assert "Imported 0 conversations" in again.stdout and "192 were already in your history" in again.stdout

    listing = json.loads(run("history", "list", "--json", "--limit", "500").stdout)
    assert len(listing) == 192
    text_listing = run("history", "list", "--limit", "3").stdout.splitlines()
    assert len(text_listing) == 3

    hits = json.loads(run("history", "search", "django", "--json").stdout)
    assert hits and all("django" in (h["snippet"] + h["title"]).lower() for h in hits)
    assert run("history", "search", "zzzqqqxxx").returncode == 1

    first = hits[0]["conversation_id"]
    shown = json.loads(run("history", "show", str(first), "--json").stdout)
    assert shown["id"] == first and shown["messages"][0]["role"] == "user"
    assert run("history", "show", "999999").returncode == 1

    target = tmp_path / "all.json"
    exported = run("export", "--format", "json", "--out", str(target))
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    data = json.loads(target.read_text())
    assert len(data["conversations"]) == 192

    md = run("export", "--format", "md", str(first))
    assert md.returncode == 0 and md.stdout.startswith("# ")
    html = run("export", "--format", "html", str(first))
    assert "<!DOCTYPE html>" in html.stdout

    # Our JSON into a fresh profile gives the same history.
    other = tmp_path / "other"
    out = subprocess.run(
        [sys.executable, "-m", "desktop_chat", "import", "json", str(target), "--home", str(other)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "Imported 192 conversations" in out.stdout
    roundtrip = subprocess.run(
        [sys.executable, "-m", "desktop_chat", "export", "--format", "json", "--home", str(other)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    again = json.loads(roundtrip.stdout)
    key = lambda c: c["uid"]  # noqa: E731
    assert sorted(again["conversations"], key=key) == sorted(data["conversations"], key=key)


def test_import_errors_are_one_line(tmp_path, isolated_home):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = run("import", "json", str(bad))
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "not a JSON file" in out.stderr
    out = run("import", "chatgpt", str(tmp_path / "missing.json"))
    assert out.returncode == 1 and "no such file" in out.stderr
    out = run("export", "42")
    assert out.returncode == 1 and "no conversation with id 42" in out.stderr
