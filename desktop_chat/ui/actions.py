"""Every command of the app in one table (name, menu text, shortcut, where it is offered),
and the actions on one message of the transcript. Menus, the sidebar's context menu and
the tray are all built from the table; whoever does the work binds a handler to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget


class Command(Enum):
    NEW_CHAT = "new-chat"
    SETTINGS = "settings"
    PROVIDERS = "providers"
    TOOLS = "tools"
    USE_TOOLS = "use-tools"
    ADD_LOCAL_MODEL = "add-local-model"
    IMPORT_CHATGPT = "import-chatgpt"
    IMPORT_JSON = "import-json"
    EXPORT_CONVERSATION = "export-conversation"
    EXPORT_ALL = "export-all"
    PRINT = "print"
    SAVE_PDF = "save-pdf"
    QUIT = "quit"
    COPY_LAST_REPLY = "copy-last-reply"
    FOCUS_COMPOSER = "focus-composer"
    SEARCH = "search"
    RENAME = "rename"
    DELETE = "delete"
    TOGGLE_PIN = "toggle-pin"
    STOP = "stop"
    REGENERATE_LAST = "regenerate-last"
    CONVERSATION_SETTINGS = "conversation-settings"
    SHOW_WINDOW = "show-window"
    QUICK_ASK = "quick-ask"
    FIND = "find"
    COPY_CONVERSATION = "copy-conversation"
    ZOOM_IN = "zoom-in"
    ZOOM_OUT = "zoom-out"
    ZOOM_RESET = "zoom-reset"
    FOCUS_SIDEBAR = "focus-sidebar"
    FOCUS_TRANSCRIPT = "focus-transcript"
    NEXT_PANE = "next-pane"


FILE, EDIT, VIEW, CHAT = "&File", "&Edit", "&View", "&Chat"


@dataclass(frozen=True)
class CommandSpec:
    command: Command
    text: str  # with its mnemonic (&)
    shortcut: str | None = None
    menu: str | None = None
    # Another key for it (Ctrl+= where + needs Shift).
    also: str | None = None
    separator_before: bool = False
    # Also offered by the tray icon's menu, and by the sidebar's right-click menu.
    tray: bool = False
    sidebar: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(Command.NEW_CHAT, "&New chat", "Ctrl+N", FILE),
    CommandSpec(Command.SETTINGS, "&Settings…", "Ctrl+,", FILE),
    CommandSpec(Command.PROVIDERS, "&Providers…", "Ctrl+Shift+,", FILE),
    CommandSpec(Command.TOOLS, "&Tools (MCP servers)…", None, FILE),
    CommandSpec(Command.ADD_LOCAL_MODEL, "Add a &local model…", None, FILE),
    CommandSpec(Command.IMPORT_CHATGPT, "&Import ChatGPT export…", None, FILE, separator_before=True),
    CommandSpec(Command.IMPORT_JSON, "Import Desktop Chat &JSON…", None, FILE),
    CommandSpec(Command.EXPORT_CONVERSATION, "&Export conversation…", "Ctrl+E", FILE),
    CommandSpec(Command.EXPORT_ALL, "Export &all conversations…", None, FILE),
    CommandSpec(Command.PRINT, "&Print conversation…", "Ctrl+P", FILE),
    CommandSpec(Command.SAVE_PDF, "Save conversation as P&DF…", None, FILE),
    CommandSpec(Command.QUIT, "&Quit", "Ctrl+Q", FILE, separator_before=True, tray=True),
    CommandSpec(Command.COPY_LAST_REPLY, "Copy last &reply", "Ctrl+Shift+C", EDIT),
    CommandSpec(Command.COPY_CONVERSATION, "Copy &conversation", None, EDIT),
    CommandSpec(Command.FIND, "&Find in conversation…", "Ctrl+F", EDIT, separator_before=True),
    CommandSpec(Command.SEARCH, "&Search all conversations…", "Ctrl+K", EDIT),
    CommandSpec(Command.TOGGLE_PIN, "&Pin conversation", "Ctrl+Shift+P", EDIT, sidebar=True),
    CommandSpec(Command.RENAME, "Re&name conversation", "F2", EDIT, sidebar=True),
    CommandSpec(Command.DELETE, "&Delete conversation", "Ctrl+Shift+Delete", EDIT, sidebar=True),
    CommandSpec(Command.ZOOM_IN, "Zoom &in", "Ctrl++", VIEW, also="Ctrl+="),
    CommandSpec(Command.ZOOM_OUT, "Zoom &out", "Ctrl+-", VIEW),
    CommandSpec(Command.ZOOM_RESET, "&Actual size", "Ctrl+0", VIEW),
    CommandSpec(Command.FOCUS_SIDEBAR, "Go to conversation &list", "Ctrl+Shift+L", VIEW, separator_before=True),
    CommandSpec(Command.FOCUS_TRANSCRIPT, "Go to &transcript", "Ctrl+Shift+T", VIEW),
    CommandSpec(Command.FOCUS_COMPOSER, "Go to &message box", "Ctrl+L", VIEW),
    CommandSpec(Command.NEXT_PANE, "&Next pane", "F6", VIEW),
    # Esc also gives up editing an earlier message.
    CommandSpec(Command.STOP, "&Stop reply", "Esc", CHAT),
    CommandSpec(Command.REGENERATE_LAST, "&Regenerate last reply", "Ctrl+R", CHAT),
    CommandSpec(Command.CONVERSATION_SETTINGS, "Conversation &settings…", "Ctrl+Shift+S", CHAT),
    CommandSpec(Command.USE_TOOLS, "Use &tools in this chat", "Ctrl+Shift+U", CHAT),
    CommandSpec(Command.SHOW_WINDOW, "&Open", tray=True),
    CommandSpec(Command.QUICK_ASK, "&Quick ask", tray=True),
)


class Commands:
    """One QAction per command, owned by the main window (so its shortcuts work there).
    A command does nothing until a handler is bound; `enabled_when` is asked on refresh()."""

    def __init__(self, window: QWidget) -> None:
        self.window = window
        self._actions: dict[Command, QAction] = {}
        self._enabled_when: dict[Command, Callable[[], bool]] = {}
        self._checked_when: dict[Command, Callable[[], bool]] = {}
        for entry in COMMANDS:
            action = QAction(entry.text, window)
            if entry.shortcut:
                keys = [QKeySequence(entry.shortcut)] + ([QKeySequence(entry.also)] if entry.also else [])
                action.setShortcuts(keys)
            action.setEnabled(False)
            window.addAction(action)
            self._actions[entry.command] = action

    def bind(
        self,
        command: Command,
        handler: Callable[[], object],
        enabled_when: Callable[[], bool] | None = None,
        checked_when: Callable[[], bool] | None = None,
    ) -> None:
        """Do `handler` for the command; it is offered when `enabled_when` says so (always if
        None), and shown ticked when `checked_when` says so."""
        action = self._actions[command]
        action.triggered.connect(lambda _checked=False: handler())
        if enabled_when is not None:
            self._enabled_when[command] = enabled_when
        if checked_when is not None:
            action.setCheckable(True)
            self._checked_when[command] = checked_when
        self._update(command)

    def refresh(self) -> None:
        """Enable and tick each command as its conditions say, now (after the state they read changed)."""
        for command in {*self._enabled_when, *self._checked_when}:
            self._update(command)

    def _update(self, command: Command) -> None:
        action = self._actions[command]
        enabled = self._enabled_when.get(command)
        action.setEnabled(enabled() if enabled is not None else True)
        checked = self._checked_when.get(command)
        if checked is not None:
            action.setChecked(checked())

    def fill_menu_bar(self, bar: QMenuBar) -> None:
        menus: dict[str, QMenu] = {}
        for entry in COMMANDS:
            if entry.menu is None:
                continue
            if entry.menu not in menus:
                menus[entry.menu] = bar.addMenu(entry.menu)
            if entry.separator_before:
                menus[entry.menu].addSeparator()
            menus[entry.menu].addAction(self._actions[entry.command])

    def menu(self, which: str, parent: QWidget | None = None) -> QMenu:
        """A menu of the commands marked for `which` ("tray" or "sidebar")."""
        menu = QMenu(parent)
        for entry in COMMANDS:
            if getattr(entry, which):
                menu.addAction(self._actions[entry.command])
        return menu


class MessageAction(Enum):
    """What can be done to one message of the transcript (the buttons under it)."""

    COPY = "copy"
    EDIT = "edit"
    REGENERATE = "regenerate"
    RETRY = "retry"
    CONTINUE = "continue"
    PREVIOUS = "prev"
    NEXT = "next"
