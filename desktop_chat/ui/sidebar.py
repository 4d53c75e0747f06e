"""Sidebar: New chat, the conversations grouped by activity, and what is done to one of them
(pin, rename, delete with Undo). It lists what the store has, and reloads itself when the
store says a conversation changed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_chat.core.store import HistoryStore

from .actions import Command, Commands
from .conversation_list import ID_ROLE, ConversationList
from .operations import Writes

# How long Undo is offered after a delete (the trash is purged at the next start).
UNDO_MS = 15000


class Sidebar(QWidget):
    newChatRequested = Signal()
    conversationChosen = Signal(int)
    # A conversation went to the trash, or came back from it.
    trashed = Signal(int)
    restored = Signal(int)

    def __init__(
        self,
        store: HistoryStore,
        writes: Writes,
        commands: Commands,
        current: Callable[[], int | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.store = store
        self.writes = writes
        self.commands = commands
        # The conversation the window shows, to keep it selected in the list.
        self.current = current
        side = QVBoxLayout(self)
        side.setContentsMargins(8, 8, 4, 8)
        self.new_button = QPushButton("+  New chat")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.clicked.connect(self.newChatRequested)
        self.conversation_list = ConversationList(store)
        self.conversation_list.clicked.connect(self._chosen)
        self.conversation_list.activated.connect(self._chosen)
        self.conversation_list.model_.renamed.connect(self._renamed)
        self.conversation_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.conversation_list.customContextMenuRequested.connect(self._show_menu)
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
        self._undo_timer = QTimer(self, singleShot=True, interval=UNDO_MS)
        self._undo_timer.timeout.connect(self.undo_bar.hide)
        side.addWidget(self.new_button)
        side.addWidget(self.conversation_list)
        side.addWidget(self.undo_bar)
        # Many changes in one turn of the event loop (an import) make one reload.
        self._reload_timer = QTimer(self, singleShot=True, interval=0)
        self._reload_timer.timeout.connect(self.reload)
        store.subscribe(lambda _conversation_id: self._reload_timer.start())
        commands.bind(Command.RENAME, self.rename_current, enabled_when=lambda: self._target() is not None)
        commands.bind(Command.DELETE, self.delete, enabled_when=lambda: self._target() is not None)
        commands.bind(
            Command.TOGGLE_PIN,
            self.toggle_pin,
            enabled_when=lambda: self._target() is not None,
            checked_when=self._target_pinned,
        )
        self.conversation_list.selectionModel().currentChanged.connect(lambda *_: commands.refresh())
        self.reload()

    def reload(self) -> None:
        self._reload_timer.stop()
        self.conversation_list.model_.reload()
        self.select(self.current())

    def select(self, conversation_id: int | None) -> None:
        self.conversation_list.select_conversation(conversation_id)

    def _chosen(self, _index: QModelIndex) -> None:
        chosen = self.conversation_list.current_id()
        if chosen is not None:
            self.conversationChosen.emit(chosen)

    def _target(self) -> int | None:
        """What the commands act on: the conversation selected in the list, else the one shown."""
        selected: int | None = self.conversation_list.current_id()
        return selected if selected is not None else self.current()

    def _target_pinned(self) -> bool:
        target = self._target()
        conversation = self.store.conversation(target) if target is not None else None
        return bool(conversation and conversation.pinned)

    def _show_menu(self, position: QPoint) -> None:
        index = self.conversation_list.indexAt(position)
        if not index.isValid() or index.data(ID_ROLE) is None:
            return  # a group's heading
        self.conversation_list.setCurrentIndex(index)
        self.commands.refresh()
        menu = self.commands.menu("sidebar", self)
        menu.popup(self.conversation_list.viewport().mapToGlobal(position))

    def rename_current(self) -> None:
        if self.conversation_list.current_id() is None:
            self.select(self.current())
        self.conversation_list.rename_current()

    def _renamed(self, conversation_id: int, title: str) -> None:
        self.writes.run(lambda: self.store.update_conversation(conversation_id, title=title))

    def toggle_pin(self) -> None:
        target = self._target()
        conversation = self.store.conversation(target) if target is not None else None
        if conversation is not None:
            self.writes.run(lambda: self.store.set_pinned(conversation.id, not conversation.pinned))

    def delete(self) -> None:
        """Move the selected conversation to the trash, with Undo (purged at the next start)."""
        target = self._target()
        conversation = self.store.conversation(target) if target is not None else None
        if conversation is None or not self.writes.run(lambda: self.store.trash_conversation(conversation.id)):
            return
        self._trashed.append(conversation.id)
        self.trashed.emit(conversation.id)
        self.undo_label.setText(f"Deleted “{conversation.title or 'New chat'}”.")
        self.undo_bar.show()
        self._undo_timer.start()

    def undo_delete(self) -> None:
        if not self._trashed:
            return
        conversation_id = self._trashed[-1]
        if not self.writes.run(lambda: self.store.restore_conversation(conversation_id)):
            return
        self._trashed.pop()
        if not self._trashed:
            self.undo_bar.hide()
        self.restored.emit(conversation_id)
