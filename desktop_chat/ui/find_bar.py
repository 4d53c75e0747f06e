"""FindBar: Ctrl+F, find words in the conversation shown. Enter goes to the next hit,
Shift+Enter to the one before, Esc closes it; the transcript marks the hits."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from .icons import icon
from .transcript import TranscriptView


class FindBar(QWidget):
    closed = Signal()

    def __init__(self, view: TranscriptView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.view = view
        self.field = QLineEdit()
        self.field.setObjectName("findField")
        self.field.setPlaceholderText("Find in conversation")
        self.field.setAccessibleName("Find in conversation")
        self.field.setClearButtonEnabled(True)
        for clear in self.field.findChildren(QToolButton):  # (the field's own clear button)
            clear.setAccessibleName("Clear")
        self.field.textChanged.connect(lambda _text: self.find_hit(0))
        self.field.installEventFilter(self)
        self.result = QLabel()
        self.result.setObjectName("findResult")
        self.result.setAccessibleName("Matches")
        self.result.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.result.setMinimumWidth(self.result.fontMetrics().horizontalAdvance("No matches") + 8)
        self.previous_button = self._button("chevron-up", "Previous match (Shift+Enter)", "Previous match")
        self.previous_button.clicked.connect(lambda: self.find_hit(-1))
        self.next_button = self._button("chevron-down", "Next match (Enter)", "Next match")
        self.next_button.clicked.connect(lambda: self.find_hit(+1))
        self.close_button = self._button("x", "Close (Esc)", "Close find")
        self.close_button.clicked.connect(self.close_bar)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 2, 0, 2)
        row.addWidget(self.field, 1)
        row.addWidget(self.result)
        for button in (self.previous_button, self.next_button, self.close_button):
            row.addWidget(button)
        self.hide()
        self.update_icons()

    def _button(self, name: str, tip: str, accessible: str) -> QToolButton:
        button = QToolButton()
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setAccessibleName(accessible)
        button.setAutoRaise(True)
        return button

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.update_icons()  # (drawn in the text's colour: dark on dark otherwise)
        super().changeEvent(event)

    def update_icons(self) -> None:
        color = self.palette().color(self.foregroundRole())
        for button, name in (
            (self.previous_button, "chevron-up"),
            (self.next_button, "chevron-down"),
            (self.close_button, "x"),
        ):
            button.setIcon(icon(name, color))

    def open_bar(self) -> None:
        self.show()
        self.field.setFocus()
        self.field.selectAll()
        if self.field.text():
            self.find_hit(0)

    def close_bar(self) -> None:
        self.hide()
        self.view.clear_marks()
        self.closed.emit()

    def find_hit(self, step: int) -> None:
        hit, hits = self.view.find_text(self.field.text(), step)
        if not self.field.text():
            self.result.clear()
        elif hits:
            self.result.setText(f"{hit} of {hits}")
        else:
            self.result.setText("No matches")
        self.previous_button.setEnabled(hits > 1)
        self.next_button.setEnabled(hits > 1)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.field and event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Escape:
                event.accept()  # Esc here closes the bar; it does not stop the reply
        if watched is self.field and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.find_hit(-1 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else +1)
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.close_bar()
                return True
        return super().eventFilter(watched, event)
