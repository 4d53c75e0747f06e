"""MainWindow: lays out the sidebar, the header, the transcript and the composer, and wires
them to the chat (ChatPresenter), the commands table and the dialogs. The work itself is
done by the pieces it wires: core/chat.py sends and streams, ui/sidebar.py keeps the
list, ui/model_picker.py the provider and model, ui/import_export.py the files."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_chat import APP_NAME
from desktop_chat.core.conversation import COMPLETE, Conversation, Message
from desktop_chat.core.local_models import LOCAL_NAME, TINY_MODEL_ID
from desktop_chat.core.providers import NoEndpoint
from desktop_chat.core.sdk import warm_up_sdk
from desktop_chat.core.services import Services
from desktop_chat.core.settings import Settings
from desktop_chat.errors import SaveFailed

from .actions import Command, Commands
from .chat_presenter import ChatPresenter
from .composer import Composer
from .find_bar import FindBar
from .icons import icon
from .import_export import ImportExport
from .labels import ElidedLabel
from .model_picker import ModelPicker
from .notices import NoticeBar
from .operations import Writes
from .preferences import Preferences
from .provider_setup import KeyLookup, ProviderSetup
from .sidebar import Sidebar
from .theme import is_dark
from .transcript import TranscriptView

if TYPE_CHECKING:
    # Dialogs are imported when first opened: not on the way to the first paint.
    from .providers_dialog import ProvidersDialog
    from .search_dialog import SearchDialog
    from .settings_dialog import SettingsDialog

TINY_MODEL_NOTE = (
    "Tiny offline model — for trying the app without a key; its answers are often wrong. "
    "Add a key under File → Providers, or add a local model, for real answers."
)


class MainWindow(QMainWindow):
    # After the window closed and its work was cancelled; the app quits on it.
    closed = Signal()
    # Once, when the window has painted for the first time: start-up work that can
    # wait (the keyring, the quick-ask window, looking for local servers) starts here.
    first_painted = Signal()

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.store = services.store
        self.settings = services.settings
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.resize(1100, 720)
        # Set by the app's desktop integration, when there is one.
        self.tray: QSystemTrayIcon | None = None
        self._quitting = False
        self._painted = False
        self.commands = Commands(self)
        self._build()
        self._connect()
        self.new_chat()
        for notice in services.notices:
            self.show_notice(notice)

    # Layout

    def _build(self) -> None:
        self.notice_bar = NoticeBar()
        self.writes = Writes(self.show_notice)
        self.chat_view = TranscriptView()
        self.find_bar = FindBar(self.chat_view)
        self.composer = Composer()
        self.presenter = ChatPresenter(self.services, self.chat_view, self.composer, self)
        self.chat = self.presenter.chat
        self.sidebar = Sidebar(self.store, self.writes, self.commands, self._shown_id)
        self.picker = ModelPicker(self.chat, self.services.directory)
        self.preferences = Preferences(self.settings)
        self.preferences.follow(self.chat_view, self.composer)
        self.files = ImportExport(self, self.store, lambda: self.chat.conversation, self.show_notice, self.status)
        self.provider_setup = ProviderSetup(self, self.services, self.writes, self.status)
        self.key_lookup = KeyLookup(self.services, self)

        self.title_label = ElidedLabel()
        self.title_label.setObjectName("conversationTitle")
        self.title_label.setAccessibleName("Conversation title")
        self.title_label.setMinimumWidth(120)  # (a narrow window cuts it with …, never to nothing)
        self.settings_button = QPushButton("Chat options")
        self.settings_button.setAccessibleName("Conversation settings")
        self.settings_button.setToolTip("System prompt and temperature for this conversation")
        top = QHBoxLayout()
        top.addWidget(self.title_label, 1)
        top.addWidget(self.picker)
        top.addWidget(self.settings_button)

        self.edit_banner = QLabel("Editing an earlier message — Enter sends it as a new version, Esc cancels.")
        self.edit_banner.setObjectName("editBanner")
        self.edit_banner.hide()
        self.send_blocker = QLabel()
        self.send_blocker.setObjectName("sendBlocker")
        self.send_blocker.setAccessibleName("Why the message cannot be sent")
        self.send_blocker.setWordWrap(True)
        self.send_blocker.hide()
        self.model_note = QLabel(TINY_MODEL_NOTE)
        self.model_note.setObjectName("modelNote")
        self.model_note.setWordWrap(True)
        self.model_note.hide()
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send")
        self.send_button.setToolTip("Send (Enter)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.hide()
        self.attach_button = QToolButton()
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setAccessibleName("Attach files")
        self.attach_button.setToolTip("Attach files (or drop them here, or paste an image)")
        self.attach_button.setAutoRaise(True)
        self.attach_button.setIcon(icon("paperclip", "#656d76"))
        self.attach_button.clicked.connect(self.choose_attachments)
        self.tools_button = QToolButton()
        self.tools_button.setObjectName("toolsButton")
        self.tools_button.setAccessibleName("Use tools in this chat")
        self.tools_button.setCheckable(True)
        self.tools_button.setAutoRaise(True)
        self.tools_button.setIcon(icon("wrench", "#656d76"))
        self.tools_button.clicked.connect(lambda on: self.chat.set_tools(on))
        self.tools_button.hide()  # (shown once a tool server is configured)
        buttons = QVBoxLayout()
        buttons.addStretch()  # (at the bottom, beside the line being typed)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.tools_button)
        row.addWidget(self.attach_button)
        buttons.addLayout(row)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.composer, 1)
        bottom.addLayout(buttons)

        main = QWidget()
        column = QVBoxLayout(main)
        column.setContentsMargins(4, 8, 8, 8)
        column.addLayout(top)
        column.addWidget(self.notice_bar)
        column.addWidget(self.find_bar)
        column.addWidget(self.chat_view, 1)
        column.addWidget(self.edit_banner)
        column.addWidget(self.send_blocker)
        column.addWidget(self.model_note)
        column.addWidget(self.composer.attachment_bar)
        column.addLayout(bottom)
        self.composer.attachment_bar.problem.connect(self.show_notice)
        self.setAcceptDrops(True)

        splitter = QSplitter()
        splitter.addWidget(self.sidebar)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 850])
        self.setCentralWidget(splitter)
        self.usage_label = QLabel()
        self.usage_label.setAccessibleName("Token usage")
        self.statusBar().addPermanentWidget(self.usage_label)

    # Wiring

    def _connect(self) -> None:
        presenter, chat = self.presenter, self.chat
        presenter.may_send = self._may_send
        presenter.busyChanged.connect(self._busy_changed)
        presenter.conversationChanged.connect(self._conversation_changed)
        presenter.replyFinished.connect(self._show_usage)
        presenter.noticeRaised.connect(self.show_notice)
        presenter.statusChanged.connect(self.status)
        presenter.editingChanged.connect(self._editing_changed)
        presenter.switched.connect(self.usage_label.clear)  # the last reply's figures are that chat's
        self.composer.cancelRequested.connect(presenter.stop_or_cancel)
        # Typing means a request is coming: load the SDK meanwhile, in the background.
        self.composer.textChanged.connect(self._warm_up)
        self.send_button.clicked.connect(self.composer.submit)
        self.stop_button.clicked.connect(chat.stop)
        self.settings_button.clicked.connect(self.edit_conversation_settings)
        self.sidebar.newChatRequested.connect(self.new_chat)
        self.sidebar.conversationChosen.connect(self.open_conversation)
        self.sidebar.trashed.connect(
            lambda conversation_id: self.new_chat() if self._shown_id() == conversation_id else None
        )
        self.sidebar.restored.connect(self.open_conversation)
        self.settings.subscribe(self._settings_changed)
        self.first_painted.connect(self.key_lookup.start)
        self.key_lookup.answered.connect(self._keys_answered)

        commands = self.commands
        commands.bind(Command.NEW_CHAT, self.new_chat)
        commands.bind(Command.SETTINGS, self.edit_settings)
        commands.bind(Command.PROVIDERS, self.edit_providers)
        commands.bind(Command.ADD_LOCAL_MODEL, self.choose_local_model)
        commands.bind(Command.QUIT, self.quit_app)
        commands.bind(Command.COPY_LAST_REPLY, presenter.copy_last_reply)
        commands.bind(Command.COPY_CONVERSATION, presenter.copy_conversation, lambda: chat.conversation is not None)
        commands.bind(Command.FIND, self.find_bar.open_bar)
        commands.bind(Command.ZOOM_IN, lambda: self.zoom(+1))
        commands.bind(Command.ZOOM_OUT, lambda: self.zoom(-1))
        commands.bind(Command.ZOOM_RESET, lambda: self.zoom(0))
        commands.bind(Command.FOCUS_COMPOSER, self.composer.setFocus)
        commands.bind(Command.FOCUS_SIDEBAR, self.sidebar.conversation_list.setFocus)
        commands.bind(Command.FOCUS_TRANSCRIPT, self.focus_transcript)
        commands.bind(Command.NEXT_PANE, self.next_pane)
        self.find_bar.closed.connect(self.composer.setFocus)
        presenter.switched.connect(self.find_bar.close_bar)
        commands.bind(Command.SEARCH, self.open_search)
        commands.bind(Command.STOP, presenter.stop_or_cancel, lambda: chat.busy or presenter.editing is not None)
        commands.bind(
            Command.REGENERATE_LAST, chat.regenerate_last, lambda: chat.conversation is not None and not chat.busy
        )
        commands.bind(Command.CONVERSATION_SETTINGS, self.edit_conversation_settings)
        commands.bind(
            Command.USE_TOOLS,
            lambda: chat.set_tools(not chat.tools_on),
            lambda: bool(self.settings.current.tool_servers),
            lambda: chat.tools_on,
        )
        commands.bind(Command.TOOLS, self.edit_tools)
        presenter.toolsChanged.connect(self._show_tools_state)
        self.files.bind(commands)
        commands.fill_menu_bar(self.menuBar())

    def zoom(self, step: int) -> None:
        """Bigger (+1) or smaller (-1) text in the transcript and the message box, or the
        system's size (0); kept in the settings as the text size."""
        current = self.settings.current
        limits = Settings.option("font_size")
        size = current.font_size or round(QGuiApplication.font().pointSizeF())
        new = 0 if step == 0 else max(int(limits.minimum or 6), min(int(limits.maximum or 48), size + step))
        if new != current.font_size:
            self.writes.run(lambda: self.settings.update(replace(current, font_size=new)))
        self.status(f"Text size {new} pt" if new else "Text size: the system's")

    def focus_transcript(self) -> None:
        self.chat_view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def next_pane(self) -> None:
        """F6: the conversation list, the transcript, the message box, round again."""
        panes: list[QWidget] = [self.sidebar.conversation_list, self.chat_view, self.composer]
        focus = QApplication.focusWidget()
        here = next((i for i, pane in enumerate(panes) if focus and (focus is pane or pane.isAncestorOf(focus))), -1)
        target = panes[(here + 1) % len(panes)]
        if target is self.chat_view:
            self.focus_transcript()
        else:
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _shown_id(self) -> int | None:
        return self.chat.conversation.id if self.chat.conversation else None

    @property
    def conversation(self) -> Conversation | None:
        return self.chat.conversation

    def _busy_changed(self, busy: bool) -> None:
        self.stop_button.setVisible(busy)
        self.send_button.setVisible(not busy)
        self.commands.refresh()

    def _conversation_changed(self) -> None:
        conversation = self.chat.conversation
        title = conversation.title if conversation and conversation.title else "New chat"
        self.title_label.setText(title)
        self.setWindowTitle(f"{title} — {APP_NAME}" if conversation else APP_NAME)
        self.picker.show_choice()
        self.sidebar.select(self._shown_id())
        self.update_send_state()
        self._show_tools_state()

    def _show_tools_state(self) -> None:
        """The tools button: shown once a server is configured; on when this chat offers tools."""
        servers = self.settings.current.tool_servers
        enabled = [s.name for s in servers if s.enabled]
        on = self.chat.tools_on
        self.tools_button.setVisible(bool(servers))
        self.tools_button.setChecked(on)
        if not enabled:
            tip = "Tools: no tool server is enabled (File → Tools)"
        elif on:
            tip = f"Tools on: the model may call the tools of {', '.join(enabled)}; each call asks you first (Ctrl+Shift+U turns them off)"
        else:
            tip = "Tools off in this chat (Ctrl+Shift+U turns them on)"
        self.tools_button.setToolTip(tip)
        self.tools_button.setAccessibleDescription(tip)
        self.commands.refresh()

    def _warm_up(self) -> None:
        """Typing means a request is coming: the SDK loads meanwhile, and the tool servers
        this chat will offer start."""
        warm_up_sdk()
        if self.chat.tools_on:
            self.services.tools.warm_up()

    def edit_tools(self) -> None:
        from .tools_dialog import ToolsDialog

        dialog = ToolsDialog(self.services, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # (it saves its own settings and secrets)
        dialog.open()

    def _editing_changed(self, editing: bool) -> None:
        self.edit_banner.setVisible(editing)
        self.commands.refresh()

    def _settings_changed(self, old: Settings, new: Settings) -> None:
        self.picker.fill_providers()
        self.picker.show_choice()
        self.update_send_state()
        self._show_tools_state()

    def _show_usage(self, reply: Message) -> None:
        if reply.prompt_tokens is not None or reply.completion_tokens is not None:
            self.usage_label.setText(
                f"Last reply: {reply.prompt_tokens or 0} prompt + {reply.completion_tokens or 0} completion tokens"
            )
        elif reply.status == COMPLETE:
            self.usage_label.setText("Last reply: token usage not reported by the provider")
        else:
            self.usage_label.clear()

    def choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Attach files",
            str(Path.home()),
            "Images and documents (*.png *.jpg *.jpeg *.gif *.bmp *.webp *.tif *.tiff *.pdf *.txt *.md *.html *.htm *.csv *.json *.py *.js *.ts *.c *.h *.cpp *.rs *.go *.java *.sh *.yaml *.yml *.toml *.xml);;All files (*)",
        )
        if paths:
            self.composer.attachment_bar.add_paths([Path(p) for p in paths])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.composer.attach(event.mimeData()):
            event.acceptProposedAction()
            self.composer.setFocus()

    def show_notice(self, text: str) -> None:
        """A message the user must see (a broken file, a missing keyring), above the transcript."""
        self.notice_bar.show_notice(text)

    def status(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 8000)
        else:
            self.statusBar().clearMessage()

    # Conversations

    def new_chat(self) -> None:
        self.chat.new_chat()
        self.composer.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        if conversation_id != self._shown_id():
            self.chat.open(conversation_id)

    def continue_from_quick_ask(self, conversation_id: int | None, draft: str) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()
        if conversation_id is not None:
            self.chat.open(conversation_id)
        if draft.strip():
            self.composer.setPlainText(draft)
        self.composer.setFocus()

    def open_search(self) -> SearchDialog:
        from .search_dialog import SearchDialog

        dialog = SearchDialog(self.store, self)
        dialog.chosen.connect(self.show_search_hit)
        dialog.open()
        dialog.field.setFocus()
        return dialog

    def show_search_hit(self, conversation_id: int, message_id: int, text: str) -> None:
        """Open the conversation on the branch that holds the message, scrolled to it, matches marked."""
        if self.chat.open_at(conversation_id, message_id):
            self.presenter.reveal(message_id, text)

    def edit_conversation_settings(self) -> None:
        from .conversation_settings import ConversationSettingsDialog

        prompt, temperature = self.chat.conversation_settings()
        presets = self.settings.current.prompt_presets
        dialog = ConversationSettingsDialog(prompt, temperature, self, presets=presets)
        dialog.accepted.connect(lambda: self.chat.set_conversation_settings(*dialog.values()))
        dialog.open()

    # Providers, keys and models

    def update_send_state(self) -> None:
        """Say plainly, above the composer, when a message cannot be sent and why."""
        choice = self.chat.choice
        try:
            self.services.directory.check_endpoint(choice.provider)
            problem = ""
        except NoEndpoint as exc:
            problem = str(exc)
        self.send_blocker.setText(f"Can't send: {problem}" if problem else "")
        self.send_blocker.setVisible(bool(problem))
        self.send_button.setEnabled(not problem)
        tiny = choice.provider == LOCAL_NAME and choice.model == TINY_MODEL_ID
        self.model_note.setVisible(tiny and not problem)

    def _may_send(self) -> bool:
        self.key_lookup.settle()
        self.update_send_state()
        return not self.send_blocker.isVisible()  # the reason is shown; the text stays

    def _keys_answered(self) -> None:
        self.chat.keys_answered()
        self.update_send_state()

    def choose_local_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a local model", str(Path.home()), "GGUF models (*.gguf)")
        if path:
            self.add_local_model(Path(path))

    def add_local_model(self, path: Path) -> str | None:
        """Add a .gguf file to the local provider and choose it; returns its model id, or None (and says why)."""
        try:
            info = self.services.directory.add_local_model(path)
        except (NoEndpoint, SaveFailed) as exc:
            self.show_notice(str(exc))
            return None
        except (OSError, ValueError, ImportError) as exc:
            self.show_notice(f"Could not add {path.name}: {exc}")
            return None
        self.chat.set_choice(LOCAL_NAME, path.stem)
        self.status(f"Added {info.label}")
        return path.stem

    # Dialogs

    def edit_settings(self) -> SettingsDialog:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings.current, self)
        dialog.accepted.connect(lambda: self.writes.run(lambda: self.settings.update(dialog.result_settings)))

        def to_providers() -> None:
            dialog.reject()
            self.edit_providers()

        dialog.providers_button.clicked.connect(to_providers)
        dialog.open()
        return dialog

    def edit_providers(self, intro: str = "") -> ProvidersDialog:
        return self.provider_setup.edit(intro)

    # Colours

    def update_colors(self) -> None:
        """Re-render the transcript in the scheme now in force (light or dark)."""
        app = QGuiApplication.instance()
        dark = is_dark(app) if isinstance(app, QGuiApplication) else False
        if dark == self.chat_view.palette_colors.dark:
            return
        self.chat_view.set_dark(dark)
        if not self.chat.busy:
            self.chat.show_current()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange):
            self.update_colors()
        super().changeEvent(event)

    # Start and end

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        self.start_deferred_work()

    def start_deferred_work(self) -> None:
        """Emit first_painted, once: on the first paint, or at once when starting hidden."""
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.first_painted.emit)

    def shutdown(self) -> None:
        """Cancel everything in flight: the reply (kept, marked stopped), model listing, probes."""
        self.chat.shutdown()
        self.picker.shutdown()
        self.key_lookup.cancel()

    @property
    def idle(self) -> bool:
        lookup = self.key_lookup.task
        return self.chat.idle and self.picker.idle and (lookup is None or lookup.done())

    async def wait_for_tasks(self) -> None:
        """Let cancelled work finish its clean-up (a stopped reply is saved as 'stopped')."""
        await self.chat.wait()
        pending = [t for t in (self.picker.models_task, self.picker.discovery_task, self.key_lookup.task) if t]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def quit_app(self) -> None:
        """Quit for real (Ctrl+Q, the tray's Quit), even when closing would keep it in the tray."""
        self._quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.settings.current.keep_in_tray and self.tray is not None and not self._quitting:
            # Closing hides the window; the app goes on in the tray (said once).
            event.ignore()
            self.hide()
            state = self.services.state
            if not state.current.tray_notice_shown:
                self.tray.showMessage(
                    "Desktop Chat is still running",
                    "It stays in the tray: click the icon to open it, or choose Quit from its menu.",
                )
                state.update(replace(state.current, tray_notice_shown=True))
            return
        self.shutdown()
        super().closeEvent(event)
        self.closed.emit()
