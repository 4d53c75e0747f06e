"""ToolsDialog: the tool servers (MCP) page — add, edit, enable and remove servers, import
an `mcpServers` file (Claude Desktop, Cursor), see each server's state, its tools and its
log, and take back "Always allow".

It edits a copy of the settings: Save writes the secret values (env and headers; to the
keyring, or the private key file the user chose), then the settings (the names of secret
values only; a value marked Plain is kept there), then deletes the values no longer
used. Cancel writes nothing. A server is started to show its tools: one whose
configuration is saved through its own connection (which chats use too), one being
edited as a trial connection with the values typed (ToolServers.trial); after Save the
registry keeps the trials of what was saved and closes what changed (ToolServers.settle).
"Revoke" acts at once: it is the app state, not the settings.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QFontDatabase, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_chat.core.secrets import KeyringUnavailable
from desktop_chat.core.services import Services
from desktop_chat.core.settings import SettingsWriteError
from desktop_chat.core.tools.config import ToolConfigError, ToolServerConfig, secret_account, server_id_for
from desktop_chat.core.tools.servers import ToolInfo, ToolServer, ToolServerError

LOG_LINES = 200
# Where Claude Desktop and Cursor keep their mcpServers files: the import starts there.
KNOWN_FILES = (
    "~/.cursor/mcp.json",
    "~/Library/Application Support/Claude/claude_desktop_config.json",
    "~/.config/Claude/claude_desktop_config.json",
    "~/AppData/Roaming/Claude/claude_desktop_config.json",
)
_NAME = re.compile(r"[^\s=:]+")
# Tasks that outlive the dialog (closing connections after it closed): kept alive here.
_BACKGROUND: set[asyncio.Task[Any]] = set()

OFF, IDLE, STARTING, RUNNING, FAILED = "off", "idle", "starting", "running", "failed"
_DOTS = {OFF: "#9aa0a6", IDLE: "#9aa0a6", STARTING: "#e8a33d", RUNNING: "#1e8e3e", FAILED: "#d93025"}


def split_command(line: str) -> list[str]:
    """A command line as the user typed it: program and arguments (shell quoting rules;
    on Windows, its own). Raises ValueError for an unclosed quote."""
    if sys.platform == "win32":
        return [
            part[1:-1] if len(part) > 1 and part[0] == part[-1] == '"' else part
            for part in shlex.split(line, posix=False)
        ]
    return shlex.split(line)


def join_command(command: str, args: tuple[str, ...]) -> str:
    if not command:
        return ""
    parts = [command, *args]
    return subprocess.list2cmdline(parts) if sys.platform == "win32" else shlex.join(parts)


def log_tail(path: Path, lines: int = LOG_LINES, limit: int = 256_000) -> str | None:
    """The last lines of a log file; None when there is none."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - limit))
            data = file.read()
    except OSError:
        return None
    found = data.decode("utf-8", "replace").splitlines()
    if size > limit and found:
        found = found[1:]  # (cut in the middle)
    return "\n".join(found[-lines:])


STATE_ROLE = Qt.ItemDataRole.UserRole + 1


class _ServerDelegate(QStyledItemDelegate):
    """A server in the list: a dot for its state, its name, and under it its state in a
    quieter colour, each cut short with … to the list's width."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(120, option.fontMetrics.height() * 2 + 12)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        self.initStyleOption(option, index)
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        name, state, icon = option.text, str(index.data(STATE_ROLE) or ""), index.data(Qt.ItemDataRole.DecorationRole)
        option.text, option.icon = "", QIcon()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        rect = option.rect.adjusted(6, 6, -6, -6)
        if isinstance(icon, QIcon):
            icon.paint(painter, QRect(rect.left() - 2, rect.top(), 16, 16))
        text = rect.adjusted(20, 0, 0, 0)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = (
            QPalette.ColorGroup.Active if option.state & QStyle.StateFlag.State_Active else QPalette.ColorGroup.Inactive
        )
        strong = option.palette.color(
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        quiet = QColor(strong) if selected else option.palette.color(group, QPalette.ColorRole.PlaceholderText)
        metrics = option.fontMetrics
        painter.save()
        painter.setFont(option.font)
        painter.setPen(strong)
        line = metrics.height()
        painter.drawText(
            QRect(text.left(), text.top(), text.width(), line),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(name, Qt.TextElideMode.ElideRight, text.width()),
        )
        painter.setPen(quiet)
        painter.drawText(
            QRect(text.left(), text.top() + line, text.width(), line),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(state, Qt.TextElideMode.ElideRight, text.width()),
        )
        painter.restore()


def _dot(color: str) -> QIcon:
    pixmap = QPixmap(24, 24)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(6, 6, 12, 12)
    painter.end()
    return QIcon(pixmap)


@dataclass
class Pair:
    """One environment variable or header as the page edits it."""

    name: str
    value: str = ""  # a plain value; or a secret value typed (or imported), stored on Save
    plain: bool = False
    stored: str = ""  # the name its secret value is kept under now ("": none kept)


@dataclass(eq=False)  # (each draft is itself: found in the list by identity)
class Draft:
    """One server as the page edits it: both kinds' fields are kept while the user
    switches between them; `built` is what Save writes."""

    config: ToolServerConfig
    kind: str  # "command" or "url"
    env: list[Pair] = field(default_factory=list)
    headers: list[Pair] = field(default_factory=list)
    tried: object = None  # what it was last started as

    @classmethod
    def of(cls, config: ToolServerConfig, values: dict[str, str] | None = None) -> Draft:
        """From a configuration; `values`: secret values by keyring account (an import's);
        without them, its secret values are the ones kept now."""

        def pairs(kind: str, secret: tuple[str, ...], plain: tuple[tuple[str, str], ...]) -> list[Pair]:
            found = []
            for name in secret:
                if values is None:
                    found.append(Pair(name, stored=name))
                else:
                    found.append(Pair(name, values.get(secret_account(config, kind, name), "")))
            return found + [Pair(name, value, plain=True) for name, value in plain]

        return cls(
            config,
            "url" if config.url else "command",
            pairs("env", config.secret_env, config.plain_env),
            pairs("header", config.secret_headers, config.plain_headers),
        )

    def active(self) -> tuple[str, list[Pair]]:
        return ("env", self.env) if self.kind == "command" else ("header", self.headers)

    def built(self) -> ToolServerConfig:
        kind, pairs = self.active()
        secret = tuple(p.name for p in pairs if not p.plain)
        plain = tuple((p.name, p.value) for p in pairs if p.plain)
        if kind == "env":
            return replace(self.config, url="", secret_env=secret, plain_env=plain, secret_headers=(), plain_headers=())
        return replace(
            self.config,
            command="",
            args=(),
            cwd="",
            secret_headers=secret,
            plain_headers=plain,
            secret_env=(),
            plain_env=(),
        )


@dataclass
class State:
    """What the page knows of a server's connection."""

    word: str = OFF
    tools: list[ToolInfo] = field(default_factory=list)
    error: str = ""
    server_name: str = ""
    notes: list[str] = field(default_factory=list)  # tools it offers that were left out, and why

    def said(self) -> str:
        if self.word == STARTING:
            return "Starting…"
        if self.word == RUNNING:
            return f"Running, {len(self.tools)} tool{'' if len(self.tools) == 1 else 's'}"
        if self.word == FAILED:
            return f"Failed: {self.error}"
        return "Not started" if self.word == IDLE else "Off"


class _PairRow:
    def __init__(self, editor: PairsEditor, pair: Pair) -> None:
        self.what = editor.what
        self.stored = pair.stored
        self.name = QLineEdit(pair.name)
        self.name.setCursorPosition(0)  # (a long name shown from its start)
        self.name.setPlaceholderText(editor.name_hint)
        self.value = QLineEdit(pair.value)
        self.plain = QCheckBox("Plain")
        self.plain.setChecked(pair.plain)
        self.plain.setToolTip(
            "Keep this value in the settings file, in plain text: for what is not secret (a path, a port). "
            "Otherwise it is kept in the system keyring."
        )
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setAutoRaise(True)
        self.remove.setToolTip(f"Remove this {editor.what}")
        self.name.textChanged.connect(self.rename)
        self.plain.toggled.connect(lambda plain: editor.made_plain(self, plain))
        self.shown()
        self.rename()

    def rename(self) -> None:
        name = self.name.text().strip()
        called = name or f"the new {self.what}"
        self.name.setAccessibleName(f"Name of {self.what} {name}" if name else f"Name of the new {self.what}")
        self.value.setAccessibleName(f"Value of {called}")
        self.plain.setAccessibleName(f"Keep the value of {called} plain, in the settings file")
        self.remove.setAccessibleName(f"Remove {called}")

    def shown(self) -> None:
        """Plain values are shown; secret ones masked, one kept already never read in."""
        plain = self.plain.isChecked()
        self.value.setEchoMode(QLineEdit.EchoMode.Normal if plain else QLineEdit.EchoMode.Password)
        if plain:
            self.value.setPlaceholderText("value (kept in the settings file)")
        elif self.stored:
            self.value.setPlaceholderText("●●●●●●  kept safe — type to replace it")
        else:
            self.value.setPlaceholderText("secret value (kept in the keyring)")

    def pair(self) -> Pair:
        return Pair(self.name.text().strip(), self.value.text(), self.plain.isChecked(), self.stored)

    def widgets(self) -> list[QWidget]:
        return [self.name, self.value, self.plain, self.remove]


class PairsEditor(QWidget):
    """A server's environment variables (or headers): name, value, and Plain, a row each.
    `reveal` reads a kept secret value: only when the user makes it plain."""

    def __init__(
        self, what: str, add_text: str, reveal: Callable[[str], str | None], changed: Callable[[], None]
    ) -> None:
        super().__init__()
        self.what = what
        self.changed = changed
        self.name_hint = "HEADER-NAME" if what == "header" else "NAME"
        self.reveal = reveal
        self.rows: list[_PairRow] = []
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(4)
        self.grid.setColumnStretch(0, 1)
        self.grid.setColumnStretch(1, 1)
        self.add_button = QPushButton(add_text)
        self.add_button.setAccessibleName(f"Add a {what}")
        self.add_button.clicked.connect(lambda: self.add(Pair(""), focus=True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self.grid)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch()
        layout.addLayout(row)

    def set_pairs(self, pairs: list[Pair]) -> None:
        for row in self.rows:
            for widget in row.widgets():
                self.grid.removeWidget(widget)
                widget.deleteLater()
        self.rows = []
        for pair in pairs:
            self.add(pair)

    def add(self, pair: Pair, focus: bool = False) -> None:
        row = _PairRow(self, pair)
        row.remove.clicked.connect(lambda: self.drop(row))
        self.rows.append(row)
        self._lay_out()
        if focus:
            row.name.setFocus()

    def drop(self, row: _PairRow) -> None:
        index = self.rows.index(row)
        self.rows.remove(row)
        for widget in row.widgets():
            self.grid.removeWidget(widget)
            widget.deleteLater()
        self._lay_out()
        follow = self.rows[min(index, len(self.rows) - 1)].name if self.rows else self.add_button
        follow.setFocus()

    def _lay_out(self) -> None:
        for i, row in enumerate(self.rows):
            for column, widget in enumerate(row.widgets()):
                self.grid.addWidget(widget, i, column)
        self.changed()

    def focus_chain(self) -> list[QWidget]:
        """Along each row, then the button that adds one."""
        return [w for row in self.rows for w in row.widgets()] + [self.add_button]

    def made_plain(self, row: _PairRow, plain: bool) -> None:
        if plain and row.stored and not row.value.text():
            # What becomes plain text in the settings file is shown before it is saved.
            row.value.setText(self.reveal(row.stored) or "")
        row.shown()

    def pairs(self) -> list[Pair]:
        return [row.pair() for row in self.rows]


class ToolsDialog(QDialog):
    """The Tools (MCP) page: `ToolsDialog(services, parent).open()`. Save writes; Cancel
    writes nothing."""

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tool servers — Desktop Chat")
        self.setObjectName("toolsDialog")
        self.setAccessibleName("Tool servers")
        self.services = services
        self.registry = services.tools.servers
        self.trust = services.tools.trust
        self.keys = services.keys
        settings = services.settings.current
        self._drafts = [Draft.of(c) for c in settings.tool_servers]
        self._current = -1
        self._states: dict[str, State] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # After the dialog closed: the registry settling its connections (tests wait on it).
        self.settled: asyncio.Task[None] | None = None

        # Left: the servers.
        self.list = QListWidget()
        self.list.setAccessibleName("Tool servers")
        self.list.setAccessibleDescription("Each server, with its state")
        self.list.setItemDelegate(_ServerDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setUniformItemSizes(True)
        self.list.currentRowChanged.connect(self._show_row)
        self.add_button = QPushButton("&Add")
        self.add_button.setAccessibleName("Add a server")
        self.add_button.clicked.connect(self._add)
        self.remove_button = QPushButton("Re&move")
        self.remove_button.setAccessibleName("Remove the server")
        self.remove_button.clicked.connect(self._remove)
        self.import_button = QPushButton("&Import…")
        self.import_button.setAccessibleName("Import an mcpServers file")
        self.import_button.setToolTip(
            "Add the servers of an mcpServers JSON file, as Claude Desktop and Cursor write it; they come in off, "
            "for you to look over and turn on."
        )
        self.import_button.clicked.connect(self._choose_import)
        left = QWidget()
        side = QVBoxLayout(left)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        side.addLayout(row)
        side.addWidget(self.import_button)

        # Right: the server's form, then its tools and its log.
        self.name = QLineEdit()
        self.name.setAccessibleName("Server name")
        self.is_command = QRadioButton("&Command")
        self.is_command.setAccessibleName("Runs a command (stdio)")
        self.is_command.setToolTip("A program the app starts, talking to it over its standard input and output")
        self.is_url = QRadioButton("&URL")
        self.is_url.setAccessibleName("Is at a URL (HTTP)")
        self.is_url.setToolTip("A server already running somewhere, reached over HTTP (Streamable HTTP, or SSE)")
        kinds = QButtonGroup(self)
        kinds.addButton(self.is_command)
        kinds.addButton(self.is_url)
        self.is_command.toggled.connect(self._show_kind)
        kind = QWidget()
        kind_row = QHBoxLayout(kind)
        kind_row.setContentsMargins(0, 0, 0, 0)
        kind_row.addWidget(self.is_command)
        kind_row.addWidget(self.is_url)
        kind_row.addStretch()
        self.command = QLineEdit()
        self.command.setAccessibleName("Command and arguments")
        self.command.setPlaceholderText("npx -y @modelcontextprotocol/server-filesystem ~/Documents")
        self.command.setToolTip("The program and its arguments, on one line; quote an argument that has spaces")
        self.cwd = QLineEdit()
        self.browse = browse = QPushButton("Browse…")
        self.cwd.setAccessibleName("Working folder")
        self.cwd.setPlaceholderText("(the app's own)")
        browse.setAccessibleName("Choose the working folder")
        browse.clicked.connect(self._choose_folder)
        folder = QWidget()
        folder_row = QHBoxLayout(folder)
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.cwd, 1)
        folder_row.addWidget(browse)
        self.url = QLineEdit()
        self.url.setAccessibleName("Server URL")
        self.url.setPlaceholderText("https://example.com/mcp")
        self.env = PairsEditor("variable", "Add &variable", lambda n: self._reveal("env", n), self._tab_order)
        self.env.setAccessibleName("Environment variables")
        self.headers = PairsEditor("header", "Add &header", lambda n: self._reveal("header", n), self._tab_order)
        self.headers.setAccessibleName("Headers")
        self.enabled = QCheckBox("&Enabled: its tools are offered to models")
        self.enabled.setAccessibleName("Enabled")
        self.enabled.toggled.connect(self._enabled_toggled)

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow("&Name", self.name)
        self.form.addRow("Kind", kind)
        self.form.addRow("Comman&d", self.command)
        self.form.addRow("&Working folder", folder)
        self.form.addRow("UR&L", self.url)
        self.form.addRow("Environment", self.env)
        self.form.addRow("Headers", self.headers)
        self.form.addRow("", self.enabled)
        self._folder_row = folder

        # Its tools.
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state.setAccessibleName("Server state")
        self.tool_list = QTreeWidget()
        self.tool_list.setAccessibleName("Its tools")
        self.tool_list.setColumnCount(3)
        self.tool_list.setHeaderLabels(["Tool", "Description", "Permission"])
        self.tool_list.setRootIsDecorated(False)
        self.tool_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tool_list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.restart = QPushButton("&Restart")
        self.restart.setAccessibleName("Restart the server")
        self.restart.clicked.connect(self._restart)
        self.revoke_all = QPushButton("Rev&oke all")
        self.revoke_all.setAccessibleName("Revoke Always allow for all its tools")
        self.revoke_all.setToolTip("Ask again before any tool of this server runs")
        self.revoke_all.clicked.connect(self._revoke_all)
        tools_page = QWidget()
        tools_layout = QVBoxLayout(tools_page)
        tools_layout.addWidget(self.state)
        tools_layout.addWidget(self.tool_list, 1)
        row = QHBoxLayout()
        row.addWidget(self.restart)
        row.addStretch()
        row.addWidget(self.revoke_all)
        tools_layout.addLayout(row)

        # Its log.
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setAccessibleName("Server log, its last lines")
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.open_log = QPushButton("Open log &file")
        self.open_log.setAccessibleName("Open the log file")
        self.open_log.clicked.connect(self._open_log)
        log_page = QWidget()
        log_layout = QVBoxLayout(log_page)
        log_layout.addWidget(self.log_view, 1)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.open_log)
        log_layout.addLayout(row)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("The server's tools and log")
        self.tabs.addTab(tools_page, "&Tools")
        self.tabs.addTab(log_page, "Lo&g")
        self.tabs.currentChanged.connect(lambda _: self._show_log())

        editor = QWidget()
        right = QVBoxLayout(editor)
        right.setContentsMargins(0, 0, 0, 0)
        right.addLayout(self.form)
        right.addWidget(self.tabs, 1)
        empty = QLabel(
            "No tool servers yet.\n\nAdd one, or import the mcpServers file of Claude Desktop or Cursor: "
            "its servers come in off, for you to look over before you turn them on."
        )
        empty.setWordWrap(True)
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages = QStackedWidget()
        self.pages.addWidget(empty)
        self.pages.addWidget(editor)

        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(self.pages)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([230, 670])

        # The whole page.
        self.notes = QLabel()
        self.notes.setObjectName("toolsNotes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("background: #fff4ce; color: #3b2e00; border-radius: 6px; padding: 6px 8px;")
        self.notes.setAccessibleName("Import notes")
        self.notes.hide()
        self.read_only = QCheckBox("Run tools their server marks read-only without as&king")
        self.read_only.setAccessibleName("Run tools their server marks read-only without asking")
        self.read_only.setToolTip(
            "Caution: a server says which of its tools only read, and that is its word, not a promise. A faulty "
            "or hostile server can mark as read-only a tool that changes your files or sends your data away. "
            "Turn this on only if you trust every enabled server."
        )
        self.read_only.setChecked(settings.tools_read_only_allowed)
        self.read_only.toggled.connect(lambda _: self._show_tools())
        self.error = QLabel()
        self.error.setStyleSheet("color: #d93025")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Problem")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(self.notes)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.read_only)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(920, 640)

        self._tab_order()
        self._refresh_list()
        for draft in self._drafts:
            if draft.config.enabled:
                self._start(draft)
        if self._drafts:
            self.list.setCurrentRow(0)
        else:
            self._show_row(-1)

    def _tab_order(self) -> None:
        """Down the list and its buttons, the form (its variables row by row), the tools,
        the log, the option, Save and Cancel (widgets hidden are passed over)."""
        if not hasattr(self, "cancel_button"):
            return  # (still being built)
        chain = [
            self.list,
            self.add_button,
            self.remove_button,
            self.import_button,
            self.name,
            self.is_command,
            self.is_url,
            self.command,
            self.cwd,
            self.browse,
            *self.env.focus_chain(),
            self.url,
            *self.headers.focus_chain(),
            self.enabled,
            self.tabs,
            self.tool_list,
            self.restart,
            self.revoke_all,
            self.log_view,
            self.open_log,
            self.read_only,
            self.save_button,
            self.cancel_button,
        ]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)

    # The list

    def _state(self, draft: Draft) -> State:
        if not draft.config.enabled:
            return State(OFF)
        return self._states.get(draft.config.id) or State(IDLE)

    def _refresh_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for draft in self._drafts:
            item = QListWidgetItem()
            self.list.addItem(item)
            self._label(item, draft)
        self.list.setCurrentRow(self._current)
        self.list.blockSignals(False)

    def _label(self, item: QListWidgetItem, draft: Draft) -> None:
        state = self._state(draft)
        said = state.said()
        item.setText(draft.config.name)  # (what typing a name in the list finds)
        item.setData(STATE_ROLE, said)
        item.setIcon(_dot(_DOTS[state.word]))
        item.setToolTip(f"{draft.config.name}: {said}")
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{draft.config.name}, {said}")

    def _update_item(self, draft: Draft) -> None:
        if draft in self._drafts:
            item = self.list.item(self._drafts.index(draft))
            if item is not None:
                self._label(item, draft)

    def _show_row(self, row: int) -> None:
        if row != self._current and self._current >= 0 and not self._commit():
            self.list.blockSignals(True)
            self.list.setCurrentRow(self._current)
            self.list.blockSignals(False)
            return
        self._current = row
        self.remove_button.setEnabled(row >= 0)
        if row < 0:
            self.pages.setCurrentIndex(0)
            return
        self.pages.setCurrentIndex(1)
        draft = self._drafts[row]
        config = draft.config
        self.name.setText(config.name)
        self.command.setText(join_command(config.command, config.args))
        self.cwd.setText(config.cwd)
        self.url.setText(config.url)
        self.env.set_pairs(draft.env)
        self.headers.set_pairs(draft.headers)
        (self.is_command if draft.kind == "command" else self.is_url).setChecked(True)
        self._show_kind()
        self.enabled.blockSignals(True)
        self.enabled.setChecked(config.enabled)
        self.enabled.blockSignals(False)
        self._show_tools()
        self._show_log()

    def _show_kind(self) -> None:
        command = self.is_command.isChecked()
        for widget, shown in (
            (self.command, command),
            (self._folder_row, command),
            (self.env, command),
            (self.url, not command),
            (self.headers, not command),
        ):
            self.form.setRowVisible(widget, shown)

    # Editing

    def _commit(self) -> bool:
        """The form into the server being edited, if it is right; else say what is wrong.
        A server whose configuration changed is started again (or stopped: turned off)."""
        if not 0 <= self._current < len(self._drafts):
            return True
        draft = self._drafts[self._current]
        problem, command, args, pairs = None, "", [], []
        name = self.name.text().strip()
        kind = "command" if self.is_command.isChecked() else "url"
        url = self.url.text().strip()
        if not name:
            problem = "A server needs a name."
        elif any(d.config.name == name for d in self._drafts if d is not draft):
            problem = f"There is already a server named {name}."
        elif kind == "command":
            try:
                command, *args = split_command(self.command.text()) or [""]
            except ValueError:
                problem = "The command has a quote that is not closed."
            if not problem and not command:
                problem = "Give the command that starts the server (as: npx -y @modelcontextprotocol/server-memory)."
        elif not url.startswith(("http://", "https://")):
            problem = "The URL must start with http:// or https://."
        editor = self.env if kind == "command" else self.headers
        if not problem:
            pairs = [p for p in editor.pairs() if p.name or p.value]
            problem = _pairs_problem(pairs, editor.what)
        if problem:
            self.error.setText(problem)
            return False
        draft.config = replace(
            draft.config,
            name=name,
            command=command if kind == "command" else draft.config.command,
            args=tuple(args) if kind == "command" else draft.config.args,
            cwd=self.cwd.text().strip() if kind == "command" else draft.config.cwd,
            url=url,
            enabled=self.enabled.isChecked(),
        )
        draft.kind = kind
        if kind == "command":
            draft.env = pairs
        else:
            draft.headers = pairs
        self.error.clear()
        self._update_item(draft)
        if self._tried(draft) != draft.tried:
            self._start(draft)
        return True

    def _enabled_toggled(self, on: bool) -> None:
        if not self._commit():
            return
        if on:
            self.tabs.setCurrentIndex(0)

    def _add(self) -> None:
        if not self._commit():
            return
        name, n = "New server", 2
        while any(d.config.name == name for d in self._drafts):
            name, n = f"New server {n}", n + 1
        self._drafts.append(Draft(ToolServerConfig(name, id=self._new_id(name)), "command"))
        self._refresh_list()
        self.list.setCurrentRow(len(self._drafts) - 1)
        self.name.setFocus()
        self.name.selectAll()

    def _new_id(self, name: str) -> str:
        """Its own id, never one a server had (trust and secrets are kept under it)."""
        taken = {d.config.id for d in self._drafts}
        taken |= {c.id for c in self.services.settings.current.tool_servers}
        taken |= {a.server_id for a in self.trust.entries()}
        ident = server_id_for(name)
        while ident in taken:
            ident = f"mcp-{secrets.token_hex(4)}"
        return ident

    def _remove(self) -> None:
        row = self._current
        if not 0 <= row < len(self._drafts):
            return
        draft = self._drafts.pop(row)
        self._stop(draft)
        self._current = -1
        self.error.clear()
        self._refresh_list()
        if self._drafts:
            self.list.setCurrentRow(min(row, len(self._drafts) - 1))
            self.list.setFocus()
        else:
            self._show_row(-1)  # (no row to change to: "No tool servers yet")
            self.add_button.setFocus()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Working folder", self.cwd.text() or str(Path.home()))
        if folder:
            self.cwd.setText(folder)

    def _reveal(self, kind: str, name: str) -> str | None:
        if not 0 <= self._current < len(self._drafts):
            return None
        return self.keys.secret(secret_account(self._drafts[self._current].config, kind, name))

    # Import

    def _choose_import(self) -> None:
        start = next((Path(p).expanduser() for p in KNOWN_FILES if Path(p).expanduser().exists()), Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Import tool servers", str(start), "mcpServers files (*.json);;All files (*)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> bool:
        """Add the servers of an `mcpServers` file, off, the first one shown for review;
        its notes said. Nothing is written before Save."""
        if not self._commit():
            return False
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.error.setText(f"{path.name} cannot be read ({getattr(exc, 'strerror', None) or exc}).")
            return False
        built = [d.built() for d in self._drafts]
        by_object = {id(b): d for b, d in zip(built, self._drafts, strict=True)}
        try:
            servers, values, result = self.registry.merge_import(text, built, enable=False)
        except ToolConfigError as exc:
            self.error.setText(f"{path.name} could not be imported: {exc}")
            return False
        drafts = [by_object.get(id(c)) or Draft.of(c, values) for c in servers]
        for draft in self._drafts:
            if draft not in drafts:
                self._stop(draft)  # (updated: it comes back off)
        self._drafts = drafts
        said = []
        if result.added:
            said.append(f"Added, off: {', '.join(result.added)}.")
        if result.updated:
            said.append(f"Updated, now off: {', '.join(result.updated)}.")
        said.append("Look each one over, turn on those you trust, and Save.")
        self.notes.setText(" ".join(said + result.notes))
        self.notes.show()
        self.error.clear()
        self._current = -1
        self._refresh_list()
        first = (result.added or result.updated)[0]
        self.list.setCurrentRow(next(i for i, d in enumerate(self._drafts) if d.config.name == first))
        self.list.setFocus()
        return True

    # Connections

    def _tried(self, draft: Draft) -> object:
        config = draft.built()
        return (config, self._typed(draft, config)) if config.enabled else None

    def _typed(self, draft: Draft, config: ToolServerConfig) -> tuple[tuple[str, str], ...]:
        """The secret values not kept yet: typed, or moved to a new name."""
        kind, pairs = draft.active()
        typed = []
        for pair in pairs:
            if pair.plain:
                continue
            if pair.value:
                typed.append((pair.name, pair.value))
            elif pair.stored and pair.stored != pair.name:
                value = self.keys.secret(secret_account(config, kind, pair.stored))
                if value is not None:
                    typed.append((pair.name, value))
        return tuple(typed)

    def _start(self, draft: Draft, again: bool = False) -> None:
        """Start it (off the GUI thread: a task on the event loop) and list its tools."""
        config = draft.built()
        draft.tried = self._tried(draft)
        old = self._tasks.pop(config.id, None)
        if old is not None:
            old.cancel()
        if not config.enabled:
            self._stop(draft)
            return
        typed = dict(self._typed(draft, config))
        saved = {c.id: c for c in self.services.settings.current.tool_servers}
        shared = not typed and saved.get(config.id) == config
        env, headers = (typed, {}) if draft.kind == "command" else ({}, typed)
        self._states[config.id] = State(STARTING)
        self._update_item(draft)
        self._show_tools()
        self._tasks[config.id] = asyncio.ensure_future(self._run(draft, config, shared, env, headers, again))

    async def _run(
        self,
        draft: Draft,
        config: ToolServerConfig,
        shared: bool,
        env: dict[str, str],
        headers: dict[str, str],
        again: bool,
    ) -> None:
        server: ToolServer | None = None
        try:
            if shared:
                server = await self.registry.connection(config)
            else:
                server = await self.registry.trial(config, env, headers)
            if again:
                await server.close()
            tools = await server.start()
        except ToolServerError as exc:
            state = State(FAILED, error=(server.error if server is not None else None) or str(exc))
        except Exception as exc:  # (a bug must not leave it "Starting…")
            state = State(FAILED, error=str(exc) or type(exc).__name__)
        else:
            state = State(RUNNING, list(tools), server_name=server.server_name, notes=list(server.notes))
        if self._tasks.get(config.id) is not asyncio.current_task():
            return  # (started again meanwhile)
        del self._tasks[config.id]
        self._states[config.id] = state
        self._update_item(draft)
        if self._selected() is draft:
            self._show_tools()
            self._show_log()

    def _stop(self, draft: Draft) -> None:
        ident = draft.config.id
        task = self._tasks.pop(ident, None)
        if task is not None:
            task.cancel()
        self._states[ident] = State(OFF)
        draft.tried = None
        _keep(self.registry.end_trial(ident))
        self._update_item(draft)
        if self._selected() is draft:
            self._show_tools()

    def _restart(self) -> None:
        if not self._commit():
            return
        draft = self._selected()
        if draft is not None and draft.config.enabled:
            self._start(draft, again=True)

    def _selected(self) -> Draft | None:
        return self._drafts[self._current] if 0 <= self._current < len(self._drafts) else None

    # Its tools and log

    def _show_tools(self) -> None:
        draft = self._selected()
        self.tool_list.clear()
        if draft is None:
            return
        ident = draft.config.id
        state = self._state(draft)
        if not draft.config.enabled:
            self.state.setText("Off. Turn it on to start it and see its tools.")
        elif state.word == STARTING:
            self.state.setText("Starting…")
        elif state.word == FAILED:
            self.state.setText(f"Not running: {state.error}")
        elif state.word == RUNNING:
            who = f" ({state.server_name})" if state.server_name else ""
            left_out = "".join(f"\n{note}" for note in state.notes)
            self.state.setText(f"Running{who}: {state.said().removeprefix('Running, ')}.{left_out}")
        else:
            self.state.setText("Not started.")
        self.state.setStyleSheet("color: #d93025" if state.word == FAILED and draft.config.enabled else "")
        self.restart.setEnabled(draft.config.enabled)
        self.restart.setText("&Restart" if state.word == RUNNING else "Sta&rt")
        self.restart.setAccessibleName("Restart the server" if state.word == RUNNING else "Start the server")
        allowed = {a.tool: a for a in self.trust.entries() if a.server_id == ident}
        shown = set()
        for tool in state.tools if state.word == RUNNING else []:
            shown.add(tool.name)
            summary = tool.description.strip().splitlines()[0] if tool.description.strip() else ""
            item = QTreeWidgetItem([tool.name + ("  (read-only)" if tool.read_only else ""), summary, ""])
            item.setToolTip(1, tool.description.strip())
            self.tool_list.addTopLevelItem(item)
            if tool.name in allowed and self.trust.allowed(draft.config, tool):
                self._revocable(item, tool.name, "Always allowed")
            elif tool.name in allowed:
                self._revocable(item, tool.name, "Changed since allowed: asks")
            elif tool.read_only and self.read_only.isChecked():
                item.setText(2, "Runs without asking (read-only)")
            else:
                item.setText(2, "Asks first")
        for name in sorted(set(allowed) - shown):
            item = QTreeWidgetItem([name, "(not listed now: the server is not running)", ""])
            self.tool_list.addTopLevelItem(item)
            self._revocable(item, name, "Always allowed")
        # Rows as tall as those with a button: an even list.
        height = QPushButton("Revoke").sizeHint().height() + 2
        metrics = self.tool_list.fontMetrics()
        for i in range(self.tool_list.topLevelItemCount()):
            row = self.tool_list.topLevelItem(i)
            if row is not None:
                row.setSizeHint(0, QSize(metrics.horizontalAdvance(row.text(0)) + 16, height))
        self.revoke_all.setEnabled(bool(allowed))

    def _revocable(self, item: QTreeWidgetItem, tool: str, said: str) -> None:
        item.setData(2, Qt.ItemDataRole.AccessibleTextRole, said)
        cell = QWidget()
        row = QHBoxLayout(cell)
        row.setContentsMargins(4, 0, 4, 0)
        label = QLabel(said)
        button = QPushButton("Revoke")
        button.setAccessibleName(f"Revoke Always allow: {tool}")
        button.setToolTip(f"Ask again before {tool} runs")
        button.clicked.connect(lambda: self._revoke(tool))
        row.addWidget(label)
        row.addWidget(button)
        self.tool_list.setItemWidget(item, 2, cell)

    def _revoke(self, tool: str) -> None:
        draft = self._selected()
        if draft is not None:
            self.trust.revoke(draft.config.id, tool)
            self._show_tools()

    def _revoke_all(self) -> None:
        draft = self._selected()
        if draft is not None:
            self.trust.revoke(draft.config.id)
            self._show_tools()
            self.revoke_all.setFocus()

    def log_path(self, draft: Draft) -> Path:
        return self.registry.log_dir / f"{draft.config.id}.log"

    def _show_log(self) -> None:
        draft = self._selected()
        if draft is None or self.tabs.currentIndex() != 1:
            return
        text = log_tail(self.log_path(draft))
        self.open_log.setEnabled(text is not None)
        if text is None:
            self.log_view.setPlainText("")
            self.log_view.setPlaceholderText("Nothing logged yet: what a started server writes to stderr shows here.")
        elif not text and draft.kind == "url":
            self.log_view.setPlainText("")
            self.log_view.setPlaceholderText("Nothing logged: a server at a URL keeps its own log.")
        else:
            self.log_view.setPlainText(text)
            self.log_view.verticalScrollBar().setValue(self.log_view.verticalScrollBar().maximum())

    def _open_log(self) -> None:
        draft = self._selected()
        if draft is not None and self.log_path(draft).exists():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_path(draft))))

    # Save and close

    def _save(self) -> None:
        if not self._commit():
            return
        keys = self.keys
        before = self.services.settings.current
        servers = [d.built() for d in self._drafts]
        writes: dict[str, str] = {}
        kept: set[str] = set()
        for draft, config in zip(self._drafts, servers, strict=True):
            kind, pairs = draft.active()
            for pair in pairs:
                if pair.plain:
                    continue
                account = secret_account(config, kind, pair.name)
                kept.add(account)
                if pair.value:
                    writes[account] = pair.value
                elif pair.stored and pair.stored != pair.name:
                    value = keys.secret(secret_account(config, kind, pair.stored))
                    if value is not None:
                        writes[account] = value
        old = {secret_account(c, "env", n) for c in before.tool_servers for n in c.secret_env}
        old |= {secret_account(c, "header", n) for c in before.tool_servers for n in c.secret_headers}
        try:
            for account, value in writes.items():
                keys.set_secret(account, value)
        except KeyringUnavailable:
            for account in writes:
                keys.session_keys.pop(account, None)  # (not used this session either)
            self.error.setText(
                "No system keyring is available to keep the secret values of env and headers; nothing was saved. "
                "Mark them Plain to keep them in the settings file, or keep keys in a private file "
                "(offered when you save a provider's key)."
            )
            return
        except OSError as exc:
            self.error.setText(
                f"The secret values could not be written to {keys.key_file} ({exc.strerror or exc}); nothing was saved."
            )
            return
        problem = None
        try:
            self.services.settings.update(
                replace(before, tool_servers=tuple(servers), tools_read_only_allowed=self.read_only.isChecked())
            )
        except SettingsWriteError as exc:
            problem = str(exc)  # (in force for this run all the same)
        for account in old - kept:
            try:
                keys.delete_secret(account)
            except OSError:
                pass  # (the private file refused: the value stays where it was, unused)
        # A removed server's trust goes with it: another server may get its id one day.
        for ident in {c.id for c in before.tool_servers} - {c.id for c in servers}:
            self.trust.revoke(ident)
        self.accept()
        if problem:
            box = QMessageBox(
                QMessageBox.Icon.Warning, "Tool servers", problem, QMessageBox.StandardButton.Ok, self.parentWidget()
            )
            box.open()

    def done(self, result: int) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks = {}
        # Saved: trials of what was saved are kept as its connections, the rest closed.
        # Cancelled: the trials are closed; the saved servers' connections stay.
        self.settled = _keep(self.registry.settle(keep_trials=result == QDialog.DialogCode.Accepted))
        super().done(result)


def _pairs_problem(pairs: list[Pair], what: str) -> str | None:
    names = [p.name for p in pairs]
    for pair in pairs:
        if not pair.name:
            return f"Each {what} needs a name."
        if not _NAME.fullmatch(pair.name):
            return f"'{pair.name}' cannot be the name of a {what} (no spaces, = or :)."
        if names.count(pair.name) > 1:
            return f"The {what} {pair.name} is given twice."
        if not pair.plain and not pair.value and not pair.stored:
            return f"Type a value for {pair.name}, or remove it."
    return None


def _keep(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """A task that may outlive the dialog, kept until it is done."""
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task
