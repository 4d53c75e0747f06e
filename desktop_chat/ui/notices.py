"""NoticeBar: what the user must read (a broken file kept aside, a change that could not be
saved), above the transcript until dismissed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class NoticeBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        # A QWidget subclass paints its style sheet's background only when asked to.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Notice")
        dismiss = QPushButton("Dismiss")
        dismiss.setAccessibleName("Dismiss notice")
        dismiss.clicked.connect(self.dismiss)
        row.addWidget(self.label, 1)
        row.addWidget(dismiss)
        self.hide()

    def show_notice(self, text: str) -> None:
        current = self.label.text()
        self.label.setText(f"{current}\n{text}" if current else text)
        self.show()

    def dismiss(self) -> None:
        self.label.clear()
        self.hide()

    def text(self) -> str:
        return self.label.text()
