"""ConversationList: the sidebar, grouped by last activity, loaded a page at a time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from desktop_chat.core.conversation import Conversation
from desktop_chat.core.store import HistoryStore

ID_ROLE = Qt.ItemDataRole.UserRole + 1
HEADER_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex
PAGE = 200


@dataclass(frozen=True)
class Header:
    text: str


def group_name(conversation: Conversation, today: date) -> str:
    """The sidebar section a conversation belongs in, as ChatGPT-like apps group them."""
    if conversation.pinned:
        return "Pinned"
    day = datetime.fromtimestamp(conversation.updated_at).date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    if day > today - timedelta(days=30):
        return "Previous 30 days"
    return day.strftime("%B %Y")


class ConversationModel(QAbstractListModel):
    """Rows are section headers and conversations; pages of PAGE come from the store as
    the list scrolls, so 100,000 conversations cost what one page costs."""

    renamed = Signal(int, str)

    def __init__(self, store: HistoryStore | None = None) -> None:
        super().__init__()
        self.store = store
        self._rows: list[Header | Conversation] = []
        self._loaded = 0
        self._total = 0
        self._today = date.today()

    def reload(self) -> None:
        self.beginResetModel()
        self._rows, self._loaded = [], 0
        self._today = date.fromtimestamp(time.time())
        self._total = self.store.count_conversations() if self.store else 0
        self._append_page()
        self.endResetModel()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._loaded < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or not self.store:
            return
        page = self.store.conversations(offset=self._loaded, limit=PAGE)
        rows = self._rows_for(page)
        if rows:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
            self._rows.extend(rows)
            self._loaded += len(page)
            self.endInsertRows()
        else:
            self._total = self._loaded

    def _append_page(self) -> None:
        if self.store:
            page = self.store.conversations(offset=0, limit=PAGE)
            self._rows = self._rows_for(page)
            self._loaded = len(page)

    def _rows_for(self, page: list[Conversation]) -> list[Header | Conversation]:
        rows: list[Header | Conversation] = []
        last = next((r.text for r in reversed(self._rows) if isinstance(r, Header)), None)
        for conversation in page:
            group = group_name(conversation, self._today)
            if group != last:
                rows.append(Header(group))
                last = group
            rows.append(conversation)
        return rows

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if isinstance(row, Header):
            if role == Qt.ItemDataRole.DisplayRole:
                return row.text
            if role == HEADER_ROLE:
                return True
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setPointSizeF(font.pointSizeF() * 0.85)
                font.setBold(True)
                return font
            if role == Qt.ItemDataRole.ForegroundRole:
                return None
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.title or "New chat"
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.title
        if role == ID_ROLE:
            return row.id
        if role == HEADER_ROLE:
            return False
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if index.isValid() and isinstance(self._rows[index.row()], Header):
            return Qt.ItemFlag.ItemIsEnabled
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        title = str(value).strip()
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not title:
            return False
        item = self._rows[index.row()]
        if isinstance(item, Header):
            return False
        item.title = title
        self.dataChanged.emit(index, index)
        self.renamed.emit(item.id, title)
        return True

    def row_of(self, conversation_id: int) -> int:
        return next(
            (i for i, c in enumerate(self._rows) if isinstance(c, Conversation) and c.id == conversation_id), -1
        )

    def conversation_at(self, row: int) -> Conversation | None:
        item = self._rows[row] if 0 <= row < len(self._rows) else None
        return item if isinstance(item, Conversation) else None


class ConversationList(QListView):
    def __init__(self, store: HistoryStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self.setAccessibleName("Conversations")
        self.model_ = ConversationModel(store)
        self.setModel(self.model_)
        self.setUniformItemSizes(True)
        # Long titles are cut with "…" (the whole one is the tooltip), never scrolled sideways.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

    def select_conversation(self, conversation_id: int | None) -> None:
        row = self.model_.row_of(conversation_id) if conversation_id is not None else -1
        if row < 0:
            # No current row either: Rename, Delete and Pin must not act on a row not shown.
            self.selectionModel().clearCurrentIndex()
            self.clearSelection()
            return
        index = self.model_.index(row)
        self.selectionModel().setCurrentIndex(index, self.selectionModel().SelectionFlag.ClearAndSelect)

    def current_id(self) -> int | None:
        index = self.currentIndex()
        return index.data(ID_ROLE) if index.isValid() else None

    def current_conversation(self) -> Conversation | None:
        index = self.currentIndex()
        return self.model_.conversation_at(index.row()) if index.isValid() else None

    def rename_current(self) -> None:
        index = self.currentIndex()
        if index.isValid() and not index.data(HEADER_ROLE):
            self.setFocus()
            self.edit(index)
