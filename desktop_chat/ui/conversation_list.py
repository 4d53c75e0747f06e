"""ConversationList: the sidebar's list of conversations, newest activity first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from desktop_chat.core.conversation import Conversation

ID_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class ConversationModel(QAbstractListModel):
    renamed = Signal(int, str)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Conversation] = []

    def set_conversations(self, conversations: list[Conversation]) -> None:
        self.beginResetModel()
        self._items = list(conversations)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return item.title or "New chat"
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.title
        if role == ID_ROLE:
            return item.id
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        title = str(value).strip()
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not title:
            return False
        item = self._items[index.row()]
        item.title = title
        self.dataChanged.emit(index, index)
        self.renamed.emit(item.id, title)
        return True

    def row_of(self, conversation_id: int) -> int:
        return next((i for i, c in enumerate(self._items) if c.id == conversation_id), -1)


class ConversationList(QListView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self.setAccessibleName("Conversations")
        self.model_ = ConversationModel()
        self.setModel(self.model_)
        self.setUniformItemSizes(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

    def select_conversation(self, conversation_id: int | None) -> None:
        row = self.model_.row_of(conversation_id) if conversation_id is not None else -1
        if row < 0:
            self.clearSelection()
            return
        index = self.model_.index(row)
        self.selectionModel().setCurrentIndex(index, self.selectionModel().SelectionFlag.ClearAndSelect)

    def current_id(self) -> int | None:
        index = self.currentIndex()
        return index.data(ID_ROLE) if index.isValid() else None

    def rename_current(self) -> None:
        index = self.currentIndex()
        if index.isValid():
            self.setFocus()
            self.edit(index)
