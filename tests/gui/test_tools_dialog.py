"""The Tools (MCP) page: servers added through its form (secret values to the keyring, only
their names to the settings file), started to list their tools, turned off, imported from
an mcpServers file (off, for review), "Always allow" taken back; Cancel writes nothing.
Real widgets, clicked; the server a real MCP process (tests/fakes/mcp_server.py); the
keyring the test one (tests/fakes/memory_keyring.py)."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QPushButton

from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.services import Services
from desktop_chat.core.settings import Settings, SettingsStore, load_settings, save_settings
from desktop_chat.core.state import StateFile
from desktop_chat.core.store import HistoryStore
from desktop_chat.core.tools.config import ToolServerConfig, secret_account
from desktop_chat.ui.tools_dialog import RUNNING, ToolsDialog, log_tail
from tests.fakes import memory_keyring

ROOT = Path(__file__).parents[2]
CALC = ToolServerConfig("calc", sys.executable, ("-m", "tests.fakes.mcp_server"), str(ROOT))
WAIT = 20000  # ms, for a server to start (a Python process importing the SDK)


@pytest.fixture
def make_services(qtbot, qloop, tmp_path):
    made: list[Services] = []

    def make(*servers: ToolServerConfig, **settings) -> Services:
        path = tmp_path / "settings.toml"
        store = SettingsStore(Settings(tool_servers=servers, **settings), path)
        if servers or settings:
            save_settings(path, store.current)
        services = Services.build(
            store, HistoryStore(tmp_path / "history.db"), state=StateFile(path=tmp_path / "state.json"), keys=KeyStore()
        )
        services.tools.servers.log_dir = tmp_path / "tool-logs"
        made.append(services)
        return services

    yield make
    for services in made:
        closing = asyncio.ensure_future(services.tools.servers.close())
        qtbot.waitUntil(closing.done, timeout=15000)
        services.store.close()


def open_dialog(qtbot, services: Services) -> ToolsDialog:
    dialog = ToolsDialog(services)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click(qtbot, button) -> None:
    QApplication.processEvents()  # (rows just added are laid out first, as before a user's click)
    assert button.isVisible() and button.isEnabled()
    # A check box is clicked on its box (the widget may be wider than its text).
    at = QPoint(8, button.height() // 2) if isinstance(button, QCheckBox) else button.rect().center()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=at)


def settled(qtbot, dialog: ToolsDialog) -> None:
    qtbot.waitUntil(lambda: dialog.settled is not None and dialog.settled.done(), timeout=15000)


def tool_names(dialog: ToolsDialog) -> list[str]:
    items = [dialog.tool_list.topLevelItem(i) for i in range(dialog.tool_list.topLevelItemCount())]
    return [item.text(0).split()[0] for item in items]


def running(dialog: ToolsDialog, row: int = 0) -> bool:
    return dialog._state(dialog._drafts[row]).word == RUNNING


def state_word(dialog: ToolsDialog, row: int) -> str:
    return dialog.list.item(row).data(Qt.ItemDataRole.UserRole + 1)


def test_a_server_added_through_the_form_keeps_secrets_in_the_keyring_and_shows_its_tools(
    qtbot, make_services, tmp_path
):
    services = make_services()
    dialog = open_dialog(qtbot, services)
    assert dialog.pages.currentIndex() == 0  # "No tool servers yet"
    click(qtbot, dialog.add_button)
    assert dialog.list.count() == 1 and dialog.enabled.isChecked()
    dialog.name.setText("calc")
    qtbot.keyClicks(dialog.command, shlex.join([sys.executable, "-m", "tests.fakes.mcp_server"]))
    dialog.cwd.setText(str(ROOT))
    click(qtbot, dialog.env.add_button)
    click(qtbot, dialog.env.add_button)
    secret, plain = dialog.env.rows
    qtbot.keyClicks(secret.name, "API_TOKEN")
    assert secret.value.echoMode() == secret.value.EchoMode.Password  # typed in masked
    assert secret.value.accessibleName() == "Value of API_TOKEN"
    qtbot.keyClicks(plain.name, "TZ")
    click(qtbot, plain.plain)
    qtbot.keyClicks(plain.value, "UTC")
    # A secret with no value is refused, said in words.
    click(qtbot, dialog.restart)
    assert dialog.error.text() == "Type a value for API_TOKEN, or remove it."
    qtbot.keyClicks(secret.value, "tok-123")

    # Started as typed (a trial: nothing saved yet), its tools listed.
    click(qtbot, dialog.restart)
    assert dialog.error.text() == ""
    qtbot.waitUntil(lambda: running(dialog), timeout=WAIT)
    assert tool_names(dialog)[:2] == ["add", "sleepy"]
    assert "Running, " in state_word(dialog, 0)
    assert services.settings.current.tool_servers == () and memory_keyring._load() == {}

    click(qtbot, dialog.save_button)
    assert dialog.result() == dialog.DialogCode.Accepted
    [saved] = services.settings.current.tool_servers
    written = (tmp_path / "settings.toml").read_text()
    assert "tok-123" not in written and "API_TOKEN" in written and "UTC" in written
    assert saved.secret_env == ("API_TOKEN",) and saved.plain_env == (("TZ", "UTC"),)
    assert load_settings(tmp_path / "settings.toml").settings.tool_servers == (saved,)
    assert KeyStore().secret(secret_account(saved, "env", "API_TOKEN")) == "tok-123"
    settled(qtbot, dialog)

    # The trial, now saved, is the server's connection: the secret reached its process.
    server = services.tools.servers.server(saved)
    assert server.running
    answer = asyncio.ensure_future(server.call("secret_from_env", {"name": "API_TOKEN"}))
    qtbot.waitUntil(answer.done, timeout=WAIT)
    assert answer.result().content[0].text == "tok-123"

    # Opened again: the secret shown masked, never read in; the plain one as it is.
    again = open_dialog(qtbot, services)
    secret, plain = again.env.rows
    assert (secret.name.text(), secret.value.text(), secret.plain.isChecked()) == ("API_TOKEN", "", False)
    assert "kept safe" in secret.value.placeholderText()
    assert (plain.name.text(), plain.value.text(), plain.plain.isChecked()) == ("TZ", "UTC", True)
    qtbot.waitUntil(lambda: running(again), timeout=WAIT)  # (the same connection)
    assert services.tools.servers.server(saved) is server
    click(qtbot, again.cancel_button)
    settled(qtbot, again)


def test_turning_a_server_off_stops_it(qtbot, make_services, tmp_path):
    services = make_services(CALC)
    dialog = open_dialog(qtbot, services)
    qtbot.waitUntil(lambda: running(dialog), timeout=WAIT)
    server = services.tools.servers.server(CALC)
    assert server.running and "add" in tool_names(dialog)
    log = log_tail(services.tools.servers.log_dir / f"{CALC.id}.log")
    assert log is not None and "starting" in log  # what the server wrote to stderr
    click(qtbot, dialog.enabled)
    assert state_word(dialog, 0) == "Off" and tool_names(dialog) == []
    assert dialog.state.text().startswith("Off.") and not dialog.restart.isEnabled()
    click(qtbot, dialog.save_button)
    [saved] = services.settings.current.tool_servers
    assert not saved.enabled and "enabled = false" in (tmp_path / "settings.toml").read_text()
    settled(qtbot, dialog)
    assert not server.running  # closed with the change


def test_an_imported_file_comes_in_off_with_its_notes(qtbot, make_services, tmp_path):
    services = make_services()
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "github": {"command": "npx", "args": ["-y", "server-github"], "env": {"GITHUB_TOKEN": "ghp_x"}},
                    "time": {"command": "uvx", "args": ["mcp-server-time"], "autoApprove": ["get_current_time"]},
                    "broken": {"args": ["no command"]},
                }
            }
        )
    )
    dialog = open_dialog(qtbot, services)
    assert dialog.import_file(source)
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == ["github", "time"]
    assert [state_word(dialog, i) for i in range(2)] == ["Off", "Off"]
    assert dialog.list.currentRow() == 0 and dialog.name.text() == "github"  # shown for review
    assert not dialog.enabled.isChecked()
    assert dialog.command.text() == "npx -y server-github"
    [token] = dialog.env.rows
    assert token.name.text() == "GITHUB_TOKEN" and not token.plain.isChecked()
    assert token.value.echoMode() == token.value.EchoMode.Password
    notes = dialog.notes.text()
    assert dialog.notes.isVisible() and "Added, off: github, time." in notes
    assert "'broken' has neither a command nor a url" in notes and "'time'" in notes and "ignored" in notes
    assert services.settings.current.tool_servers == () and memory_keyring._load() == {}  # not before Save

    click(qtbot, dialog.save_button)
    github, time = services.settings.current.tool_servers
    assert not github.enabled and not time.enabled
    assert KeyStore().secret(secret_account(github, "env", "GITHUB_TOKEN")) == "ghp_x"
    assert "ghp_x" not in (tmp_path / "settings.toml").read_text()
    settled(qtbot, dialog)


def test_a_file_that_cannot_be_imported_says_why(qtbot, make_services, tmp_path):
    services = make_services()
    dialog = open_dialog(qtbot, services)
    bad = tmp_path / "mcp.json"
    bad.write_text("{ not json")
    assert not dialog.import_file(bad)
    assert dialog.error.text().startswith("mcp.json could not be imported: The file is not JSON")
    bad.write_text('{"servers": []}')
    assert not dialog.import_file(bad)
    assert 'no "mcpServers" table' in dialog.error.text()
    assert dialog.list.count() == 0 and not dialog.notes.isVisible()
    click(qtbot, dialog.cancel_button)
    settled(qtbot, dialog)


def test_always_allow_is_taken_back(qtbot, make_services):
    services = make_services(CALC)
    starting = asyncio.ensure_future(services.tools.servers.server(CALC).start())
    qtbot.waitUntil(starting.done, timeout=WAIT)
    add, sleepy = starting.result()[:2]
    services.tools.trust.allow(CALC, add)
    services.tools.trust.allow(CALC, sleepy)
    dialog = open_dialog(qtbot, services)
    qtbot.waitUntil(lambda: running(dialog), timeout=WAIT)
    first = dialog.tool_list.topLevelItem(0)
    cell = dialog.tool_list.itemWidget(first, 2)
    assert cell is not None and "Always allowed" in cell.findChild(type(dialog.state)).text()
    revoke = cell.findChild(QPushButton)
    assert revoke.accessibleName() == "Revoke Always allow: add"
    click(qtbot, revoke)
    assert [a.tool for a in services.tools.trust.entries()] == ["sleepy"]
    assert dialog.tool_list.topLevelItem(0).text(2) == "Asks first"
    click(qtbot, dialog.revoke_all)
    assert services.state.current.tools_always == () and not dialog.revoke_all.isEnabled()
    click(qtbot, dialog.cancel_button)
    settled(qtbot, dialog)


def test_cancel_writes_nothing(qtbot, make_services, tmp_path):
    config = ToolServerConfig("calc", "true", secret_env=("API_TOKEN",), enabled=False)
    memory_keyring.put(secret_account(config, "env", "API_TOKEN"), "tok-old")
    services = make_services(config)
    before_file = (tmp_path / "settings.toml").read_text()
    before_keys = memory_keyring._load()
    dialog = open_dialog(qtbot, services)
    dialog.name.setText("renamed")
    qtbot.keyClicks(dialog.env.rows[0].value, "tok-new")
    click(qtbot, dialog.read_only)
    click(qtbot, dialog.add_button)  # (commits the edits into the page's copy)
    dialog.command.setText("true")
    assert [dialog.list.item(i).text() for i in range(2)] == ["renamed", "New server"]
    click(qtbot, dialog.remove_button)
    click(qtbot, dialog.remove_button)
    assert dialog.list.count() == 0 and dialog.pages.currentIndex() == 0 and not dialog.remove_button.isEnabled()
    click(qtbot, dialog.cancel_button)
    settled(qtbot, dialog)
    assert services.settings.current.tool_servers == (config,) and not services.settings.current.tools_read_only_allowed
    assert (tmp_path / "settings.toml").read_text() == before_file
    assert memory_keyring._load() == before_keys


def test_no_keyring_saves_nothing_and_says_so(qtbot, make_services, monkeypatch):
    services = make_services()

    def refuse(account: str, key: str) -> None:
        raise RuntimeError("no backend")

    monkeypatch.setattr("desktop_chat.core.secrets._keyring_set", refuse)
    dialog = open_dialog(qtbot, services)
    click(qtbot, dialog.add_button)
    dialog.enabled.setChecked(False)
    dialog.command.setText("true")
    click(qtbot, dialog.env.add_button)
    row = dialog.env.rows[0]
    row.name.setText("TOKEN")
    row.value.setText("s3cret")
    click(qtbot, dialog.save_button)
    assert "No system keyring" in dialog.error.text() and dialog.isVisible()
    assert services.settings.current.tool_servers == () and services.keys.session_keys == {}
    # Marked plain, it is kept in the settings file instead.
    click(qtbot, row.plain)
    click(qtbot, dialog.save_button)
    [saved] = services.settings.current.tool_servers
    assert saved.plain_env == (("TOKEN", "s3cret"),) and saved.secret_env == ()
    settled(qtbot, dialog)


def test_a_removed_server_takes_its_secrets_and_trust_along_and_a_value_made_plain_leaves_the_keyring(
    qtbot, make_services
):
    old = ToolServerConfig("old", "true", secret_env=("TOKEN",), enabled=False)
    kept = ToolServerConfig("kept", "true", secret_env=("KEY",), enabled=False)
    memory_keyring.put(secret_account(old, "env", "TOKEN"), "tok")
    memory_keyring.put(secret_account(kept, "env", "KEY"), "k-1")
    services = make_services(old, kept)
    services.state.update(replace(services.state.current, tools_always=(f"{old.id}\tadd\tabc",)))
    dialog = open_dialog(qtbot, services)
    assert dialog.tool_list.topLevelItem(0).text(0) == "add"  # allowed always, though not running
    click(qtbot, dialog.remove_button)
    assert dialog.name.text() == "kept"
    [key] = dialog.env.rows
    assert key.value.text() == ""  # masked: not read in
    click(qtbot, key.plain)
    assert key.value.text() == "k-1" and key.value.echoMode() == key.value.EchoMode.Normal  # shown: it becomes plain
    click(qtbot, dialog.save_button)
    [saved] = services.settings.current.tool_servers
    assert saved.plain_env == (("KEY", "k-1"),) and saved.secret_env == ()
    assert memory_keyring._load() == {} and services.state.current.tools_always == ()
    settled(qtbot, dialog)


def test_tools_left_out_for_their_schema_are_said(qtbot, make_services):
    liar = replace(CALC, name="liar", id="", args=(*CALC.args, "--lying-schemas"))
    services = make_services(liar)
    dialog = open_dialog(qtbot, services)
    qtbot.waitUntil(lambda: running(dialog), timeout=WAIT)
    assert "add" in tool_names(dialog)
    assert "was left out" in dialog.state.text()
