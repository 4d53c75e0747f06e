"""Composer: the multi-line box where the user writes. Enter sends, Shift+Enter breaks a line."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QWidget


class Composer(QPlainTextEdit):
    submitted = Signal(str)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setAccessibleName("Message")
        self.send_with_ctrl_enter = False
        self._update_placeholder()
        self.setTabChangesFocus(True)
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)

    def set_send_key(self, send_key: str) -> None:
        self.send_with_ctrl_enter = send_key == "ctrl+enter"
        self._update_placeholder()

    def _update_placeholder(self) -> None:
        if self.send_with_ctrl_enter:
            self.setPlaceholderText("Message the model — Ctrl+Enter to send, Enter for a new line")
        else:
            self.setPlaceholderText("Message the model — Enter to send, Shift+Enter for a new line")

    def sizeHint(self) -> QSize:
        # About four lines: room to write without taking the transcript's space.
        hint = super().sizeHint()
        return QSize(hint.width(), self.fontMetrics().lineSpacing() * 4 + 20)

    def event(self, event: QEvent) -> bool:
        # Text edits claim Ctrl+K (delete to end of line); here it opens search.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_K and event.modifiers() == Qt.KeyboardModifier.ControlModifier:
                event.ignore()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            ctrl = modifiers == Qt.KeyboardModifier.ControlModifier
            if ctrl if self.send_with_ctrl_enter else not modifiers:
                self.submit()
            else:
                self.insertPlainText("\n")
            return
        if event.key() == Qt.Key.Key_Escape:
            self.cancelRequested.emit()
            return
        super().keyPressEvent(event)

    def submit(self) -> None:
        text = self.toPlainText()
        if text.strip():
            self.submitted.emit(text)

    def insertFromMimeData(self, source: QMimeData) -> None:
        # Paste as plain text in one edit: rich pastes and huge ones stay cheap.
        if source.hasText():
            self.textCursor().insertText(source.text())
        else:
            super().insertFromMimeData(source)
