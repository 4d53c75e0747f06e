"""SearchDialog (Ctrl+K): full-text search over every message, results as the user types."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop_chat.core.store import HistoryStore, SearchHit

DEBOUNCE_MS = 60


class SearchDialog(QDialog):
    # conversation id, message id, the text searched for
    chosen = Signal(int, int, str)

    def __init__(self, store: HistoryStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Search — Desktop Chat")
        self.setObjectName("searchDialog")
        self.store = store
        self.hits: list[SearchHit] = []
        self.field = QLineEdit()
        self.field.setAccessibleName("Search messages")
        self.field.setPlaceholderText("Search all conversations…")
        self.field.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setAccessibleName("Search results")
        self.results.setWordWrap(True)
        self.status = QLabel()
        self.status.setAccessibleName("Search status")
        layout = QVBoxLayout(self)
        layout.addWidget(self.field)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        self.resize(620, 460)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_search)
        self.field.textChanged.connect(lambda _text: self._timer.start())
        self.field.returnPressed.connect(self._choose_current)
        self.results.itemActivated.connect(lambda _item: self._choose_current())
        self.field.installEventFilter(self)

    def run_search(self) -> None:
        text = self.field.text()
        self.hits = self.store.search_messages(text, limit=50)
        self.results.clear()
        for hit in self.hits:
            item = QListWidgetItem()
            when = datetime.fromtimestamp(hit.created_at).strftime("%d %b %Y")
            who = "You" if hit.role == "user" else "Reply"
            if hit.part == "reasoning":
                who = "Reasoning of a reply"
            label = QLabel(f"<b>{_escape(hit.title or 'New chat')}</b> · {who} · {when}<br/>{hit.snippet}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setContentsMargins(6, 4, 6, 4)
            width = self.results.viewport().width() - 4
            item.setSizeHint(QSize(width, label.heightForWidth(width) + 4))
            self.results.addItem(item)
            self.results.setItemWidget(item, label)
        if self.hits:
            self.results.setCurrentRow(0)
        more = "+" if len(self.hits) == 50 else ""
        self.status.setText(f"{len(self.hits)}{more} results" if text.strip() else "Type to search every message.")

    def eventFilter(self, obj: object, event: object) -> bool:
        # Up and Down in the search field move through the results.
        if obj is self.field and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.results.count():
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                return True
        return False

    def _choose_current(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.run_search()
        row = self.results.currentRow()
        if 0 <= row < len(self.hits):
            hit = self.hits[row]
            self.chosen.emit(hit.conversation_id, hit.message_id, self.field.text())
            self.accept()


def _escape(text: str) -> str:
    import html

    return html.escape(text)
