"""MainWindow: sidebar, transcript, composer, model picker; drives one ChatSession."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFont, QGuiApplication, QKeySequence, QPaintEvent, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from desktop_chat import APP_NAME
from desktop_chat.core.conversation import Conversation, Message, MessageTree, version_label
from desktop_chat.core.directory import ProviderDirectory
from desktop_chat.core.discovery import KNOWN_SERVERS, find_local_servers
from desktop_chat.core.files import write_private
from desktop_chat.core.local_models import LOCAL_NAME, TINY_MODEL_ID, TINY_MODEL_LABEL, read_gguf_info
from desktop_chat.core.providers import (
    ProviderClients,
    ProviderError,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    warm_up_sdk,
)
from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.session import ChatSession, NoEndpoint, PendingReply
from desktop_chat.core.settings import PromptPreset, ProviderConfig, Settings
from desktop_chat.core.store import HistoryStore, StoreWriteError
from desktop_chat.platform.autostart import set_autostart

from .chat_view import ChatView, MessageItem
from .composer import Composer
from .conversation_list import ConversationList
from .theme import apply_scheme, is_dark

if TYPE_CHECKING:
    # Dialogs are imported when first opened: not on the way to the first paint.
    from .providers_dialog import ProvidersDialog
    from .quick_ask import QuickAskController
    from .search_dialog import SearchDialog
    from .settings_dialog import SettingsDialog

# Messages rendered when a conversation opens, and how many more "Show earlier" adds.
TRANSCRIPT_WINDOW = 60
EARLIER_PAGE = 200


class ModelPicker(QComboBox):
    """An editable model list that says when it is about to open, so it can be filled then."""

    popupAboutToShow = Signal()

    def showPopup(self) -> None:
        self.popupAboutToShow.emit()
        super().showPopup()


class ConversationSettingsDialog(QDialog):
    def __init__(
        self,
        conversation_prompt: str,
        temperature: float | None,
        parent: QWidget | None = None,
        presets: tuple[PromptPreset, ...] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversation settings — Desktop Chat")
        self.prompt = QPlainTextEdit(conversation_prompt)
        self.presets = QComboBox()
        self.presets.setAccessibleName("System prompt preset")
        self.presets.addItem("Presets…", "")
        for preset in presets:
            self.presets.addItem(preset.name, preset.prompt)
        self.presets.setVisible(bool(presets))
        self.presets.activated.connect(
            lambda index: self.prompt.setPlainText(self.presets.itemData(index)) if index > 0 else None
        )
        self.prompt.setAccessibleName("System prompt")
        self.prompt.setPlaceholderText("You are a helpful assistant.")
        self.use_temperature = QCheckBox("Set temperature")
        self.temperature = QDoubleSpinBox()
        self.temperature.setAccessibleName("Temperature")
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(temperature if temperature is not None else 1.0)
        self.use_temperature.setChecked(temperature is not None)
        self.temperature.setEnabled(temperature is not None)
        self.use_temperature.toggled.connect(self.temperature.setEnabled)
        form = QFormLayout(self)
        form.addRow("", self.presets)
        form.addRow("System prompt", self.prompt)
        row = QHBoxLayout()
        row.addWidget(self.use_temperature)
        row.addWidget(self.temperature)
        form.addRow(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(480, 300)

    def values(self) -> tuple[str, float | None]:
        temperature = self.temperature.value() if self.use_temperature.isChecked() else None
        return self.prompt.toPlainText().strip(), temperature


class MainWindow(QMainWindow):
    # After the window closed and its work was cancelled; the app quits on it.
    closed = Signal()
    # Once, when the window has painted for the first time: start-up work that can
    # wait (the keyring, the quick-ask window, looking for local servers) starts here.
    first_painted = Signal()

    def __init__(
        self,
        settings: Settings,
        store: HistoryStore,
        keys: KeyStore,
        clients: ProviderClients,
        save_settings: Callable[[Settings], None],
        notices: list[str] | None = None,
        key_file: Path | None = None,
        directory: ProviderDirectory | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clients = clients
        self._save_settings = save_settings
        # Where keys go if there is no keyring and the user agrees to a private file.
        self.key_file = key_file
        # Every provider: configured, the built-in local model, local servers found.
        self.directory = directory or ProviderDirectory(settings, keys)
        self.session = ChatSession(
            store,
            clients,
            self.directory.endpoint,
            first_token_timeout=settings.first_token_timeout,
            idle_timeout=settings.idle_timeout,
            preflight=self.directory.preflight,
            default_system_prompt=self.directory.system_prompt,
        )
        self.discovery_task: asyncio.Task[None] | None = None
        # Where to look for local servers (tests point these at their own ports).
        self.discovery_targets = KNOWN_SERVERS
        self.conversation: Conversation | None = None
        self.tree = MessageTree()
        self.reply_task: asyncio.Task[None] | None = None
        self.models_task: asyncio.Task[None] | None = None
        self.title_task: asyncio.Task[None] | None = None
        self._models: dict[str, list[str]] = {}
        self.editing: int | None = None
        self._retry_not_before = 0.0
        # How many of the last messages of the shown branch are rendered.
        self._window = TRANSCRIPT_WINDOW
        # Set by the app's desktop integration, when there is one.
        self.quick_ask: QuickAskController | None = None
        self.tray: QSystemTrayIcon | None = None
        self.shortcut_changed: Callable[[str], None] | None = None
        self._quitting = False
        # --provider/--model: the choice for new chats in this run.
        self._startup_choice: tuple[str | None, str | None] = (None, None)
        self.pending: PendingReply | None = None
        self._painted = False
        # The keyring is asked after the first paint (it can take long); until it
        # answers, providers are taken to have a key if they had one last time.
        self.directory.assume_keys = frozenset(settings.keys_seen)
        self._default_shown = ""
        self.first_painted.connect(self.look_up_keys)

        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.resize(1100, 720)
        self._build()
        self._build_actions()
        self._fill_providers()
        self.refresh_conversations()
        self.new_chat()
        self.apply_preferences()
        for notice in notices or []:
            self.show_notice(notice)

    # Layout

    def _build(self) -> None:
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(8, 8, 4, 8)
        self.new_button = QPushButton("+  New chat")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_chat)
        self.conversation_list = ConversationList(self.store)
        self.conversation_list.clicked.connect(
            lambda index: self.open_conversation(self.conversation_list.current_id())
        )
        self.conversation_list.activated.connect(
            lambda index: self.open_conversation(self.conversation_list.current_id())
        )
        self.conversation_list.model_.renamed.connect(self._renamed)
        self.conversation_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.conversation_list.customContextMenuRequested.connect(self._list_menu)
        self.undo_bar = QWidget()
        self.undo_bar.setObjectName("undoBar")
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(6, 2, 2, 2)
        self.undo_label = QLabel()
        self.undo_label.setWordWrap(True)
        undo = QPushButton("Undo")
        undo.setAccessibleName("Undo delete")
        undo.clicked.connect(self.undo_delete)
        undo_row.addWidget(self.undo_label, 1)
        undo_row.addWidget(undo)
        self.undo_bar.hide()
        self._trashed: list[int] = []
        self._undo_timer = QTimer(self, singleShot=True, interval=15000)
        self._undo_timer.timeout.connect(self.undo_bar.hide)
        side.addWidget(self.new_button)
        side.addWidget(self.conversation_list)
        side.addWidget(self.undo_bar)

        self.title_label = QLabel()
        self.title_label.setObjectName("conversationTitle")
        self.title_label.setAccessibleName("Conversation title")
        self.provider_box = QComboBox()
        self.provider_box.setAccessibleName("Provider")
        self.provider_box.setToolTip("Provider")
        self.provider_box.currentTextChanged.connect(self._provider_changed)
        self.model_box = ModelPicker()
        self.model_box.popupAboutToShow.connect(self.load_models)
        self.model_box.setEditable(True)
        self.model_box.setAccessibleName("Model")
        self.model_box.setToolTip("Model: pick one listed by the provider, or type any name")
        self.model_box.setMinimumWidth(220)
        self.model_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_box.currentTextChanged.connect(self._model_changed)
        self.settings_button = QPushButton("Chat options")
        self.settings_button.setAccessibleName("Conversation settings")
        self.settings_button.setToolTip("System prompt and temperature for this conversation")
        self.settings_button.clicked.connect(self.edit_conversation_settings)
        top = QHBoxLayout()
        top.addWidget(self.title_label, 1)
        top.addWidget(self.provider_box)
        top.addWidget(self.model_box)
        top.addWidget(self.settings_button)

        self.notice_bar = QWidget()
        self.notice_bar.setObjectName("noticeBar")
        notice_row = QHBoxLayout(self.notice_bar)
        notice_row.setContentsMargins(8, 4, 4, 4)
        self.notice_label = QLabel()
        self.notice_label.setWordWrap(True)
        self.notice_label.setAccessibleName("Notice")
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self._dismiss_notice)
        notice_row.addWidget(self.notice_label, 1)
        notice_row.addWidget(dismiss)
        self.notice_bar.hide()
        self.chat_view = ChatView()
        self.chat_view.actionRequested.connect(self._on_action)
        self.chat_view.linkOpened.connect(lambda text: self.statusBar().showMessage(text, 3000))

        self.edit_banner = QLabel()
        self.edit_banner.setObjectName("editBanner")
        self.edit_banner.hide()
        self.composer = Composer()
        self.composer.submitted.connect(self.send)
        # Typing means a request is coming: load the SDK meanwhile, in the background.
        self.composer.textChanged.connect(warm_up_sdk)
        self.send_blocker = QLabel()
        self.send_blocker.setObjectName("sendBlocker")
        self.send_blocker.setAccessibleName("Why the message cannot be sent")
        self.send_blocker.setWordWrap(True)
        self.send_blocker.hide()
        self.model_note = QLabel(
            "Tiny offline model — for trying the app without a key; its answers are often wrong. "
            "Add a key under File → Providers, or add a local model, for real answers."
        )
        self.model_note.setObjectName("modelNote")
        self.model_note.setWordWrap(True)
        self.model_note.hide()
        self.composer.cancelRequested.connect(self.stop_or_cancel)
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send")
        self.send_button.setToolTip("Send (Enter)")
        self.send_button.clicked.connect(self.composer.submit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.composer, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch()
        bottom.addLayout(buttons)

        main = QWidget()
        column = QVBoxLayout(main)
        column.setContentsMargins(4, 8, 8, 8)
        column.addLayout(top)
        column.addWidget(self.notice_bar)
        column.addWidget(self.chat_view, 1)
        column.addWidget(self.edit_banner)
        column.addWidget(self.send_blocker)
        column.addWidget(self.model_note)
        column.addLayout(bottom)

        splitter = QSplitter()
        splitter.addWidget(sidebar)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 850])
        self.setCentralWidget(splitter)
        self.usage_label = QLabel()
        self.usage_label.setAccessibleName("Token usage")
        self.statusBar().addPermanentWidget(self.usage_label)

    def _build_actions(self) -> None:
        def action(
            menu_name: str, text: str, shortcut: str | QKeySequence.StandardKey | None, slot: Callable[[], object]
        ) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menus[menu_name].addAction(act)
            return act

        bar = self.menuBar()
        menus = {name: bar.addMenu(name) for name in ("&File", "&Edit", "&Chat")}
        action("&File", "&New chat", "Ctrl+N", self.new_chat)
        action("&File", "&Settings…", "Ctrl+,", self.edit_settings)
        action("&File", "&Providers…", "Ctrl+Shift+,", self.edit_providers)
        action("&File", "Add a &local model…", None, self.choose_local_model)
        menus["&File"].addSeparator()
        action("&File", "&Import ChatGPT export…", None, lambda: self.choose_import("chatgpt"))
        action("&File", "Import Desktop Chat &JSON…", None, lambda: self.choose_import("json"))
        action("&File", "&Export conversation…", "Ctrl+E", lambda: self.choose_export(all_conversations=False))
        action("&File", "Export &all conversations…", None, lambda: self.choose_export(all_conversations=True))
        action("&File", "&Print conversation…", "Ctrl+P", self.print_conversation)
        action("&File", "Save conversation as P&DF…", None, self.choose_pdf)
        menus["&File"].addSeparator()
        action("&File", "&Quit", "Ctrl+Q", self.quit_app)
        action("&Edit", "Copy last &reply", "Ctrl+Shift+C", self.copy_last_reply)
        action("&Edit", "&Focus message box", "Ctrl+L", self.composer.setFocus)
        action("&Edit", "&Search all conversations…", "Ctrl+K", self.open_search)
        action("&Edit", "Re&name conversation", "F2", self.conversation_list.rename_current)
        action("&Edit", "&Delete conversation", "Ctrl+Shift+Delete", self.delete_conversation)
        action("&Edit", "&Pin or unpin conversation", "Ctrl+Shift+P", self.toggle_pin)
        self.stop_action = action("&Chat", "&Stop reply", None, self.stop)
        action("&Chat", "&Regenerate last reply", "Ctrl+R", self.regenerate_last)
        action("&Chat", "Conversation &settings…", "Ctrl+Shift+S", self.edit_conversation_settings)
        # Esc stops from anywhere in the window, not only from the composer.
        esc = QAction(self)
        esc.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        esc.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        esc.triggered.connect(self.stop_or_cancel)
        self.addAction(esc)

    # Providers and models

    def _fill_providers(self) -> None:
        current = self.provider_box.currentText()
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        for name in self.directory.names():
            self.provider_box.addItem(name)
            if name == LOCAL_NAME:
                self.provider_box.setItemData(
                    self.provider_box.count() - 1, TINY_MODEL_LABEL, Qt.ItemDataRole.ToolTipRole
                )
            elif name in self.directory.found:
                self.provider_box.setItemData(
                    self.provider_box.count() - 1, "Found running on this computer", Qt.ItemDataRole.ToolTipRole
                )
        if current:
            self.provider_box.setCurrentText(current)
        self.provider_box.blockSignals(False)

    def _choose(self, provider: str | None, model: str | None) -> None:
        names = self.directory.names()
        if provider not in names:
            provider, default_model = self.directory.default_choice()
            model = model or default_model
        self.provider_box.blockSignals(True)
        self.provider_box.setCurrentText(provider)
        self.provider_box.blockSignals(False)
        chosen = model or (self.settings.default_model if provider == self.settings.default_provider else "")
        chosen = chosen or self.directory.default_model(provider)
        known = self.directory.models_of(provider)
        self._fill_models(known if known is not None else self._models.get(provider, []), chosen)
        if provider == LOCAL_NAME:
            labels = {m.path.stem: m.label for m in self.directory.added_models()}
            labels[TINY_MODEL_ID] = TINY_MODEL_LABEL
            for index in range(self.model_box.count()):
                label = labels.get(self.model_box.itemText(index))
                if label:
                    self.model_box.setItemData(index, label, Qt.ItemDataRole.ToolTipRole)

    def _fill_models(self, models: list[str], current: str) -> None:
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems(models)
        if current and current not in models:
            self.model_box.insertItem(0, current)
        self.model_box.setCurrentText(current)
        self.model_box.blockSignals(False)

    def load_models(self) -> None:
        """List the provider's models (once per provider and run).

        Asked when the picker opens or the provider changes, never at start-up: the
        first window paints before the network or the SDK is touched.
        """
        self.find_local_servers()
        provider = self.provider_box.currentText()
        if self.directory.models_of(provider) is not None:
            return  # known without asking (and the local model is not started for a list)
        if provider in self._models or (self.models_task is not None and not self.models_task.done()):
            return
        self.models_task = asyncio.ensure_future(self._fetch_models(provider))

    def choose_local_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a local model", str(Path.home()), "GGUF models (*.gguf)")
        if path:
            self.add_local_model(Path(path))

    def add_local_model(self, path: Path) -> str | None:
        """Add a .gguf file to the local provider; returns its model id, or None (and says why)."""
        if self.directory.local is None:
            self.show_notice("Local models need the local runtime: pip install 'desktop-chat[local]'.")
            return None
        try:
            info = read_gguf_info(path)
        except (OSError, ValueError, ImportError) as exc:
            self.show_notice(f"Could not add {path.name}: {exc}")
            return None
        if str(path) not in self.settings.local_models:
            self.apply_settings(replace(self.settings, local_models=(*self.settings.local_models, str(path))))
        self._fill_providers()
        self._choose(LOCAL_NAME, path.stem)
        self._model_changed(path.stem)
        self._update_send_state()
        self.statusBar().showMessage(f"Added {info.label}", 8000)
        return path.stem

    def find_local_servers(self) -> None:
        """Probe for Ollama and LM Studio on this computer, in the background."""
        if self.discovery_task is None or self.discovery_task.done():
            self.discovery_task = asyncio.ensure_future(self._discover())

    async def _discover(self) -> None:
        found = await find_local_servers(self.discovery_targets)
        servers = {server.name: server for server in found}
        if servers.keys() != self.directory.found.keys() or any(
            servers[n].models != self.directory.found[n].models for n in servers
        ):
            self.directory.found = servers
            self._fill_providers()
            if self.provider_box.currentText() in servers:
                self._choose(self.provider_box.currentText(), self.model_box.currentText())

    async def _fetch_models(self, provider: str) -> None:
        try:
            endpoint = await self.directory.endpoint(provider)
            models = await self.clients.list_models(endpoint)
        except (NoEndpoint, ProviderError) as exc:
            self.model_box.setToolTip(f"Could not list models: {exc} Type a model name.")
            return
        self._models[provider] = models
        if self.provider_box.currentText() != provider:
            return
        current = self.model_box.currentText()
        self._fill_models(models, current or (models[0] if models else ""))
        self.model_box.setToolTip(f"{len(models)} models from {provider}; or type any name")
        if not current and models:
            self._model_changed(self.model_box.currentText())

    def _provider_changed(self, provider: str) -> None:
        self._choose(provider, None)
        self._update_send_state()
        self._model_changed(self.model_box.currentText())
        self.load_models()

    def _model_changed(self, model: str) -> None:
        self._update_send_state()
        if self.conversation is not None:
            self.conversation.provider = self.provider_box.currentText()
            self.conversation.model = model.strip()
            self.store.update_conversation(
                self.conversation.id, provider=self.conversation.provider, model=self.conversation.model
            )

    def choose_for_new_chats(self, provider: str | None, model: str | None) -> None:
        """--provider/--model: the choice for new chats (not saved to settings)."""
        self._startup_choice = (provider, model)
        if self.conversation is None:
            self._choose(provider, model)

    def edit_providers(self, intro: str = "") -> ProvidersDialog:
        from .providers_dialog import ProvidersDialog

        dialog = ProvidersDialog(self.settings, self.keys, self, intro=intro)
        dialog.accepted.connect(lambda: self._providers_saved(dialog))
        dialog.open()
        return dialog

    def _providers_saved(self, dialog: ProvidersDialog) -> None:
        self.apply_settings(replace(dialog.result_settings, first_run_done=True))
        if dialog.unsaved_keys:
            self.offer_key_file()
        for message in dialog.messages:
            self.show_notice(message)

    def offer_key_file(self) -> QMessageBox | None:
        """No keyring works here: offer a file only the user can read, or this session only."""
        if self.key_file is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "No keyring",
            "This system has no keyring to keep API keys safe. Keep them in a file that only "
            f"you can read ({self.key_file})? Otherwise they are used until you quit.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        use_file = box.addButton("Keep in a private file", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("This session only", QMessageBox.ButtonRole.RejectRole)

        def chosen() -> None:
            if box.clickedButton() is use_file and self.key_file is not None:
                self.keys.use_file(self.key_file)
                self.apply_settings(replace(self.settings, key_storage="file"))
                self.statusBar().showMessage(f"Keys are kept in {self.key_file}, readable only by you", 8000)

        box.finished.connect(chosen)
        box.open()
        return box

    def edit_settings(self) -> SettingsDialog:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings))

        def to_providers() -> None:
            dialog.reject()
            self.edit_providers()

        dialog.providers_button.clicked.connect(to_providers)
        dialog.open()
        return dialog

    def apply_settings(self, settings: Settings) -> None:
        old, self.settings = self.settings, settings
        self.directory.settings = settings
        self.keys.forget_lookups()
        self._save_settings(settings)
        current = self.provider_box.currentText()
        self._fill_providers()
        self._choose(current, self.model_box.currentText())
        self.session.first_token_timeout = settings.first_token_timeout
        self.session.idle_timeout = settings.idle_timeout
        self.apply_preferences(changed_from=old)

    def apply_preferences(self, changed_from: Settings | None = None) -> None:
        """Theme, text size, send key and start-at-login, as the settings say."""
        settings = self.settings
        app = QApplication.instance()
        if isinstance(app, QApplication) and (changed_from is None or changed_from.theme != settings.theme):
            if changed_from is not None or settings.theme != "system":
                apply_scheme(app, settings.theme)
        for widget in (self.chat_view, self.composer):
            font = QFont(widget.font())
            default = QApplication.font().pointSizeF()
            font.setPointSizeF(settings.font_size or default)
            widget.setFont(font)
        self.chat_view.document().setDefaultFont(self.chat_view.font())
        self.composer.set_send_key(settings.send_key)
        if changed_from is not None and changed_from.start_at_login != settings.start_at_login:
            set_autostart(settings.start_at_login, "desktop-chat")
        if changed_from is not None and changed_from.quick_ask_shortcut != settings.quick_ask_shortcut:
            if self.shortcut_changed is not None:
                self.shortcut_changed(settings.quick_ask_shortcut)
        self._update_send_state()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        self.start_deferred_work()

    def start_deferred_work(self) -> None:
        """Emit first_painted, once: on the first paint, or at once when starting hidden."""
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.first_painted.emit)

    @property
    def keys_answered(self) -> bool:
        return self.directory.assume_keys is None

    def look_up_keys(self) -> None:
        """Ask the keyring in a worker thread; the window stays live while it answers."""
        if self.keys_answered:
            return
        loop = asyncio.get_event_loop()
        wanted = self._providers_taking_keys()

        def work() -> None:
            held = self.keys.look_up(wanted, elsewhere=True)
            try:
                loop.call_soon_threadsafe(self._keys_answered, held)
            except RuntimeError:
                pass  # the app closed meanwhile

        # A daemon thread: a keyring that never answers must not hold up quitting.
        threading.Thread(target=work, name="keyring", daemon=True).start()

    def settle_keys(self) -> None:
        """Wait for the keyring now (only when its answer is needed before it came)."""
        if not self.keys_answered:
            self._keys_answered(self.keys.look_up(self._providers_taking_keys()))

    def _providers_taking_keys(self) -> list[ProviderConfig]:
        return [p for p in self.settings.providers if p.needs_key]

    def _keys_answered(self, held: frozenset[str]) -> None:
        if self.keys_answered or self._quitting:
            return
        shown = self.provider_box.currentText()
        self.directory.assume_keys = None
        seen = tuple(sorted(held))
        if seen != self.settings.keys_seen:
            self.settings = replace(self.settings, keys_seen=seen)
            self.directory.settings = self.settings
            self._save_settings(self.settings)
        if self.conversation is None and shown == self._default_shown:
            # The default choice may change now that the keys are known.
            self._choose(*self._startup_choice)
            self._default_shown = self.provider_box.currentText()
        self._update_send_state()

    def _update_send_state(self) -> None:
        """Say plainly, above the composer, when a message cannot be sent and why."""
        try:
            self.directory.check_endpoint(self.provider_box.currentText())
            problem = ""
        except NoEndpoint as exc:
            problem = str(exc)
        self.send_blocker.setText(f"Can't send: {problem}" if problem else "")
        self.send_blocker.setVisible(bool(problem))
        self.send_button.setEnabled(not problem)
        tiny = self.provider_box.currentText() == LOCAL_NAME and self.model_box.currentText() == TINY_MODEL_ID
        self.model_note.setVisible(tiny and not problem)

    # Conversations

    def refresh_conversations(self) -> None:
        self.conversation_list.model_.reload()
        self.conversation_list.select_conversation(self.conversation.id if self.conversation else None)

    def new_chat(self) -> None:
        if self.reply_task is not None and not self.reply_task.done():
            self.stop()
        self.conversation = None
        self.tree = MessageTree()
        self._cancel_edit()
        self.title_label.setText("New chat")
        self._choose(*self._startup_choice)
        self._default_shown = self.provider_box.currentText()
        self.chat_view.show_messages([])
        self.conversation_list.clearSelection()
        self.usage_label.clear()
        self.composer.setFocus()

    def open_conversation(self, conversation_id: int | None) -> None:
        if conversation_id is None or (self.conversation and self.conversation.id == conversation_id):
            return
        if self.reply_task is not None and not self.reply_task.done():
            self.stop()
        conversation = self.store.conversation(conversation_id)
        if conversation is None:
            return
        self.conversation = conversation
        self._window = TRANSCRIPT_WINDOW
        self._cancel_edit()
        self.title_label.setText(conversation.title or "New chat")
        self._choose(conversation.provider, conversation.model)
        self.render_transcript()
        self.conversation_list.select_conversation(conversation.id)

    def render_transcript(self) -> None:
        if self.conversation is None:
            self.chat_view.show_messages([])
            return
        conversation = self.store.conversation(self.conversation.id)
        self.render_transcript_up_to(conversation.current_leaf_id if conversation else None)

    def continue_reply(self, reply: Message) -> None:
        """Ask the model to carry on a reply that was cut short, in the same message."""
        if self.conversation is None or not reply.content:
            return
        self.conversation.provider = self.provider_box.currentText()
        self.conversation.model = self.model_box.currentText().strip()
        try:
            pending = self.session.prepare_continue(self.conversation, reply.id)
        except StoreWriteError as exc:
            self.show_notice(str(exc))
            return
        self.store.select_branch(self.conversation.id, reply.id)
        self.render_transcript_up_to(reply.parent_id)
        self._start(pending)

    def render_transcript_up_to(self, leaf_id: int | None) -> None:
        """Show the branch ending at leaf_id: its last messages; earlier ones on request.

        A conversation of thousands of messages opens as fast as a short one: only
        what the reader is likely to see is rendered.
        """
        assert self.conversation is not None
        self.tree = self.store.tree(self.conversation.id)
        path = self.tree.path_to(leaf_id)
        shown = path[-self._window :]
        self.chat_view.show_messages([self._item(m) for m in shown], hidden_before=len(path) - len(shown))

    def show_earlier(self) -> None:
        first = self.chat_view.first_message_id
        self._window += EARLIER_PAGE
        self.render_transcript()
        if first is not None:
            self.chat_view.scrollToAnchor(f"m{first}")
            self.chat_view.stop_following()

    def _item(self, message: Message) -> MessageItem:
        if message.id not in self.tree.messages:
            self.tree.add(message)
        position, count = version_label(self.tree, message)
        return MessageItem(message, position, count)

    # Import, export, print

    def choose_import(self, kind: str) -> None:
        filters = "ChatGPT export (conversations.json *.zip)" if kind == "chatgpt" else "Desktop Chat export (*.json)"
        path, _ = QFileDialog.getOpenFileName(self, "Import", str(Path.home()), filters)
        if path:
            self.import_file(Path(path), kind)

    def import_file(self, path: Path, kind: str) -> str:
        from desktop_chat.core.exchange import ImportError_, import_chatgpt, import_json

        try:
            if kind == "chatgpt":
                report = import_chatgpt(self.store, path)
            else:
                report = import_json(self.store, path.read_text(encoding="utf-8"))
        except (ImportError_, OSError, UnicodeDecodeError) as exc:
            self.show_notice(f"Import failed: {exc}")
            return str(exc)
        self.refresh_conversations()
        self.show_notice(report.summary())
        return report.summary()

    def choose_export(self, all_conversations: bool) -> None:
        if not all_conversations and self.conversation is None:
            self.show_notice("Open a conversation to export it, or use Export all conversations.")
            return
        name = (
            "desktop-chat-history"
            if all_conversations
            else (self.conversation.title if self.conversation else "") or "conversation"
        )
        safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in name).strip() or "conversation"
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export",
            str(Path.home() / f"{safe}.md"),
            "Markdown (*.md);;JSON, complete (*.json);;Web page (*.html)",
        )
        if path:
            fmt = (
                "json"
                if "JSON" in chosen or path.endswith(".json")
                else "html"
                if "Web" in chosen or path.endswith(".html")
                else "md"
            )
            self.export_to(
                Path(path), fmt, None if all_conversations else [self.conversation.id] if self.conversation else None
            )

    def export_to(self, path: Path, fmt: str, ids: list[int] | None) -> bool:
        from desktop_chat.core.exchange import export_html, export_json, export_markdown

        exporter = {"md": export_markdown, "json": export_json, "html": export_html}[fmt]
        try:
            write_private(path, exporter(self.store, ids))
        except OSError as exc:
            self.show_notice(f"Could not export to {path}: {exc.strerror or exc}")
            return False
        self.statusBar().showMessage(f"Exported to {path}", 5000)
        return True

    def _conversation_document(self) -> QTextDocument | None:
        if self.conversation is None:
            self.show_notice("Open a conversation to print it.")
            return None
        from desktop_chat.core.exchange import export_html

        document = QTextDocument(self)
        document.setHtml(export_html(self.store, [self.conversation.id]))
        return document

    def print_conversation(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        document = self._conversation_document()
        if document is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.accepted.connect(lambda: document.print_(printer))
        dialog.open()  # type: ignore[call-arg]

    def choose_pdf(self) -> None:
        if self.conversation is None:
            self.show_notice("Open a conversation to save it as PDF.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save as PDF", str(Path.home() / "conversation.pdf"), "PDF (*.pdf)")
        if path:
            self.save_pdf(Path(path))

    def save_pdf(self, path: Path) -> bool:
        from PySide6.QtPrintSupport import QPrinter

        document = self._conversation_document()
        if document is None:
            return False
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(path))
        document.print_(printer)
        if path.exists():
            path.chmod(0o600)
        return path.exists()

    def open_search(self) -> SearchDialog:
        from .search_dialog import SearchDialog

        dialog = SearchDialog(self.store, self)
        dialog.chosen.connect(self.show_search_hit)
        dialog.open()
        dialog.field.setFocus()
        return dialog

    def show_search_hit(self, conversation_id: int, message_id: int, text: str) -> None:
        """Open the conversation on the branch that holds the message, scrolled to it, matches marked."""
        if self.streaming:
            self.stop()
        conversation = self.store.conversation(conversation_id)
        if conversation is None:
            return
        tree = self.store.tree(conversation_id)
        on_branch = {m.id for m in tree.path_to(conversation.current_leaf_id)}
        if message_id not in on_branch:
            self.store.select_branch(conversation_id, message_id)
        self.conversation = None  # force a fresh render even if it is already open
        self.open_conversation(conversation_id)
        path = [m.id for m in self.tree.path_to(self._current_leaf())]
        if message_id in path and len(path) - path.index(message_id) > self._window:
            self._window = len(path) - path.index(message_id) + 5  # render back to the hit
            self.render_transcript()
        self.chat_view.reveal(message_id, text)

    def _renamed(self, conversation_id: int, title: str) -> None:
        self.store.update_conversation(conversation_id, title=title)
        if self.conversation and self.conversation.id == conversation_id:
            self.conversation.title = title
            self.title_label.setText(title)

    def delete_conversation(self) -> None:
        """Move the selected conversation to the trash, with Undo (purged at the next start)."""
        target = self.conversation_list.current_id() or (self.conversation.id if self.conversation else None)
        conversation = self.store.conversation(target) if target is not None else None
        if conversation is None:
            return
        if self.conversation and self.conversation.id == conversation.id:
            self.new_chat()
        self.store.trash_conversation(conversation.id)
        self._trashed.append(conversation.id)
        self.refresh_conversations()
        self.undo_label.setText(f"Deleted “{conversation.title or 'New chat'}”.")
        self.undo_bar.show()
        self._undo_timer.start()

    def undo_delete(self) -> None:
        if not self._trashed:
            return
        conversation_id = self._trashed.pop()
        self.store.restore_conversation(conversation_id)
        self.refresh_conversations()
        self.open_conversation(conversation_id)
        if not self._trashed:
            self.undo_bar.hide()

    def toggle_pin(self) -> None:
        conversation = self.conversation_list.current_conversation()
        if conversation is None and self.conversation is not None:
            conversation = self.store.conversation(self.conversation.id)
        if conversation is None:
            return
        self.store.set_pinned(conversation.id, not conversation.pinned)
        self.refresh_conversations()

    def _list_menu(self, position: QPoint) -> None:
        index = self.conversation_list.indexAt(position)
        if not index.isValid():
            return
        self.conversation_list.setCurrentIndex(index)
        menu = QMenu(self)
        conversation = self.conversation_list.current_conversation()
        menu.addAction("Unpin" if conversation and conversation.pinned else "Pin to top", self.toggle_pin)
        menu.addAction("Rename", self.conversation_list.rename_current)
        menu.addAction("Delete", self.delete_conversation)
        menu.popup(self.conversation_list.viewport().mapToGlobal(position))

    def edit_conversation_settings(self) -> None:
        prompt = self.conversation.system_prompt if self.conversation else self.settings.system_prompt
        temperature = self.conversation.temperature if self.conversation else self.settings.temperature
        dialog = ConversationSettingsDialog(prompt, temperature, self, presets=self.settings.prompt_presets)

        def save() -> None:
            new_prompt, new_temperature = dialog.values()
            conversation = self._ensure_conversation()
            conversation.system_prompt, conversation.temperature = new_prompt, new_temperature
            self.store.update_conversation(conversation.id, system_prompt=new_prompt, temperature=new_temperature)
            self.refresh_conversations()

        dialog.accepted.connect(save)
        dialog.open()

    def _ensure_conversation(self) -> Conversation:
        if self.conversation is None:
            self.conversation = self.store.create_conversation(
                provider=self.provider_box.currentText(),
                model=self.model_box.currentText().strip(),
                system_prompt=self.settings.system_prompt,
                temperature=self.settings.temperature,
            )
        return self.conversation

    # Sending and streaming

    @property
    def streaming(self) -> bool:
        return self.reply_task is not None and not self.reply_task.done()

    def send(self, text: str) -> None:
        if self.streaming or not text.strip():
            return
        self.settle_keys()
        self._update_send_state()
        if self.send_blocker.isVisible():
            return  # the reason is shown above the composer; the text stays where it is
        try:
            conversation = self._ensure_conversation()
            conversation.provider = self.provider_box.currentText()
            conversation.model = self.model_box.currentText().strip()
            self.store.update_conversation(conversation.id, provider=conversation.provider, model=conversation.model)
            if self.editing is not None:
                pending = self.session.prepare_edit(conversation, self.editing, text)
            else:
                pending = self.session.prepare_send(conversation, text)
        except StoreWriteError as exc:
            # Nothing was sent and nothing typed is lost: the text stays in the composer.
            self.show_notice(f"{exc} Your message was not sent; it is still in the message box.")
            return
        if self.editing is not None:
            self._cancel_edit()
            self.composer.clear()
            self.render_transcript()
        else:
            self.composer.clear()
            user = self.store.message(pending.reply.parent_id or 0)
            if user is not None:
                self.chat_view.append_message(self._item(user))
        self.title_label.setText(conversation.title or "New chat")
        self._start(pending)

    def _start(self, pending: PendingReply) -> None:
        self.pending = pending
        self.tree.add(pending.reply)
        self.chat_view.begin_reply(pending.reply, prefix=pending.prefix)
        self.refresh_conversations()
        self._set_streaming(True)
        self.reply_task = asyncio.ensure_future(self._run(pending))

    async def _run(self, pending: PendingReply) -> None:
        try:
            outcome = await self.session.stream(pending, self._on_event)
        except asyncio.CancelledError:
            self._finish(pending)
            raise
        self._finish(pending)
        if outcome.failure is None and self.settings.model_titles and self._is_first_exchange(pending):
            self.title_task = asyncio.ensure_future(self._title(pending.conversation))
        if outcome.storage_problem:
            self.show_notice(f"{outcome.storage_problem} The reply is shown but will not be in your history.")
        if outcome.failure is not None:
            self.statusBar().showMessage(outcome.failure.message, 8000)
            if outcome.failure.retry_after:
                # Honour Retry-After: a Retry before then waits out the rest.
                self._retry_not_before = asyncio.get_running_loop().time() + outcome.failure.retry_after

    def _is_first_exchange(self, pending: PendingReply) -> bool:
        user = self.tree.messages.get(pending.reply.parent_id or 0)
        return user is not None and user.parent_id is None and len(self.tree.children(None)) == 1

    async def _title(self, conversation: Conversation) -> None:
        # In the background: the first words stay the title if the model cannot help.
        fresh = self.store.conversation(conversation.id)
        if fresh is None:
            return
        title = await self.session.suggest_title(fresh)
        if title:
            if self.conversation and self.conversation.id == conversation.id:
                self.conversation.title = title
                self.title_label.setText(title)
            self.refresh_conversations()

    def _on_event(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self.chat_view.append_delta(event.text)
        elif isinstance(event, ReasoningDelta):
            self.chat_view.show_thinking()

    def _finish(self, pending: PendingReply) -> None:
        reply = pending.reply  # final in memory, even when the disk refused it
        self.tree.add(reply)
        if self.conversation is not None and self.conversation.id == reply.conversation_id:
            self.chat_view.end_reply(self._item(reply))
        self._set_streaming(False)
        self.pending = None
        if reply.prompt_tokens is not None or reply.completion_tokens is not None:
            self.usage_label.setText(
                f"Last reply: {reply.prompt_tokens or 0} prompt + {reply.completion_tokens or 0} completion tokens"
            )
        elif reply.status == "complete":
            self.usage_label.setText("Last reply: token usage not reported by the provider")
        else:
            self.usage_label.clear()
        self.refresh_conversations()

    def _set_streaming(self, streaming: bool) -> None:
        self.stop_button.setVisible(streaming)
        self.send_button.setVisible(not streaming)
        self.stop_action.setEnabled(streaming)

    def stop(self) -> None:
        if self.streaming and self.reply_task is not None:
            self.reply_task.cancel()

    def stop_or_cancel(self) -> None:
        if self.streaming:
            self.stop()
        elif self.editing is not None:
            self._cancel_edit()

    # Message actions

    def _on_action(self, action: str, message_id: int) -> None:
        if action == "earlier":
            self.show_earlier()
            return
        message = self.tree.messages.get(message_id) or self.store.message(message_id)
        if message is None or self.conversation is None:
            return
        if action == "copy":
            QGuiApplication.clipboard().setText(message.content)
            self.statusBar().showMessage("Message copied as markdown", 3000)
        elif action in ("regenerate", "retry") and not self.streaming:
            wait = self._retry_not_before - asyncio.get_running_loop().time()
            if action == "retry" and wait > 0:
                self._set_streaming(True)
                self.reply_task = asyncio.ensure_future(self._retry_later(message, wait))
            else:
                self.regenerate(message)
        elif action == "continue" and not self.streaming:
            self.continue_reply(message)
        elif action == "edit" and not self.streaming:
            self.begin_edit(message)
        elif action in ("prev", "next") and not self.streaming:
            siblings = self.tree.siblings(message.id)
            index = [m.id for m in siblings].index(message.id) + (1 if action == "next" else -1)
            if 0 <= index < len(siblings):
                self.store.select_branch(self.conversation.id, siblings[index].id)
                self.render_transcript()

    async def _retry_later(self, reply: Message, wait: float) -> None:
        try:
            while wait > 0:
                self.statusBar().showMessage(
                    f"Rate limited: retrying in {wait:.0f} s, as the provider asked (Esc cancels)"
                )
                await asyncio.sleep(min(1.0, wait))
                wait = self._retry_not_before - asyncio.get_running_loop().time()
        finally:
            self._set_streaming(False)
            self.statusBar().clearMessage()
        self.regenerate(reply)

    def regenerate(self, reply: Message) -> None:
        if self.conversation is None or reply.role != "assistant":
            return
        self.conversation.provider = self.provider_box.currentText()
        self.conversation.model = self.model_box.currentText().strip()
        try:
            pending = self.session.prepare_regenerate(self.conversation, reply.id)
        except StoreWriteError as exc:
            self.show_notice(str(exc))
            return
        self.render_transcript_up_to(pending.reply.parent_id)
        self._start(pending)

    def regenerate_last(self) -> None:
        if self.streaming or self.conversation is None:
            return
        conversation = self.store.conversation(self.conversation.id)
        last = (
            self.store.message(conversation.current_leaf_id) if conversation and conversation.current_leaf_id else None
        )
        if last is not None and last.role == "assistant":
            self.regenerate(last)

    def begin_edit(self, message: Message) -> None:
        if message.role != "user":
            return
        self.editing = message.id
        self.composer.setPlainText(message.content)
        self.composer.setFocus()
        self.edit_banner.setText("Editing an earlier message — Enter sends it as a new version, Esc cancels.")
        self.edit_banner.show()

    def _cancel_edit(self) -> None:
        if self.editing is not None:
            self.composer.clear()
        self.editing = None
        self.edit_banner.hide()

    def copy_last_reply(self) -> None:
        replies = [m for m in self.tree.path_to(self._current_leaf()) if m.role == "assistant" and m.content]
        if replies:
            QGuiApplication.clipboard().setText(replies[-1].content)
            self.statusBar().showMessage("Last reply copied as markdown", 3000)

    def _current_leaf(self) -> int | None:
        if self.conversation is None:
            return None
        conversation = self.store.conversation(self.conversation.id)
        return conversation.current_leaf_id if conversation else None

    def show_notice(self, text: str) -> None:
        """A message the user must see (a broken file, a missing keyring), above the transcript."""
        current = self.notice_label.text()
        self.notice_label.setText(f"{current}\n{text}" if current else text)
        self.notice_bar.show()

    def _dismiss_notice(self) -> None:
        self.notice_label.clear()
        self.notice_bar.hide()

    def shutdown(self) -> None:
        """Cancel everything in flight: the reply (kept, marked stopped) and model listing."""
        self.stop()
        for task in (self.models_task, self.title_task, self.discovery_task):
            if task is not None:
                task.cancel()

    async def wait_for_tasks(self) -> None:
        """Let cancelled work finish its clean-up (a stopped reply is saved as 'stopped')."""
        tasks = [
            t
            for t in (self.reply_task, self.models_task, self.title_task, self.discovery_task)
            if t is not None and not t.done()
        ]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def update_colors(self) -> None:
        """Re-render the transcript in the scheme now in force (light or dark)."""
        app = QGuiApplication.instance()
        dark = is_dark(app) if isinstance(app, QGuiApplication) else False
        if dark == self.chat_view.palette_colors.dark:
            return
        self.chat_view.set_dark(dark)
        if not self.streaming:
            self.render_transcript()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange):
            self.update_colors()
        super().changeEvent(event)

    def quit_app(self) -> None:
        """Quit for real (Ctrl+Q, the tray's Quit), even when closing would keep it in the tray."""
        self._quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.settings.keep_in_tray and self.tray is not None and not self._quitting:
            # Closing hides the window; the app goes on in the tray (said once).
            event.ignore()
            self.hide()
            if not self.settings.tray_notice_shown:
                self.tray.showMessage(
                    "Desktop Chat is still running",
                    "It stays in the tray: click the icon to open it, or choose Quit from its menu.",
                )
                self.apply_settings(replace(self.settings, tray_notice_shown=True))
            return
        self.shutdown()
        if self.quick_ask is not None:
            self.quick_ask.stop()
            self.quick_ask.window.hide()
        super().closeEvent(event)
        self.closed.emit()

    def choice_for_new_chats(self) -> tuple[str, str]:
        """Provider and model a new chat starts with (--provider/--model, else the defaults)."""
        provider, model = self._startup_choice
        if provider not in self.directory.names():
            return self.directory.default_choice()
        chosen = model or (self.settings.default_model if provider == self.settings.default_provider else "")
        return provider, chosen or self.directory.default_model(provider)

    def continue_from_quick_ask(self, conversation_id: int | None, draft: str) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()
        if conversation_id is not None:
            self.conversation = None
            self.refresh_conversations()
            self.open_conversation(conversation_id)
        if draft.strip():
            self.composer.setPlainText(draft)
        self.composer.setFocus()
