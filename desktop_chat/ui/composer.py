"""Composer: the multi-line box where the user writes. Enter sends, Shift+Enter breaks a line."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QWidget

from .attachment_bar import AttachmentBar

# How GTK file managers put copied files on the clipboard (beside, or instead of, text/uri-list).
GNOME_COPIED_FILES = "x-special/gnome-copied-files"


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
        # The files that go with the next message (shown above the box by the window).
        self.attachment_bar = AttachmentBar()

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
        if event.key() == Qt.Key.Key_Backspace and not self.toPlainText() and self.attachment_bar.remove_last():
            return  # (an empty box: Backspace takes back the last file attached)
        super().keyPressEvent(event)

    def submit(self) -> None:
        text = self.toPlainText()
        if text.strip() or self.attachment_bar.attachments:
            self.submitted.emit(text)

    def attach(self, source: QMimeData) -> bool:
        """Files or an image in a paste or a drop go to the attachments; True if it had some."""
        files = [Path(url.toLocalFile()) for url in source.urls() if url.isLocalFile()] if source.hasUrls() else []
        if not files and source.hasFormat(GNOME_COPIED_FILES):
            # GTK file managers (Files, Nemo, Caja) offer a copy as "copy\nfile:///…" lines.
            lines = bytes(source.data(GNOME_COPIED_FILES).data()).decode("utf-8", "replace").splitlines()
            urls = [QUrl(line.strip()) for line in lines[1:] if line.strip()]
            files = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
        if files:
            self.attachment_bar.add_paths(files)
            return True
        if source.hasImage():
            image = source.imageData()
            if isinstance(image, QImage) and not image.isNull():
                data = QByteArray()
                buffer = QBuffer(data)
                buffer.open(QIODevice.OpenModeFlag.WriteOnly)
                image.save(buffer, "PNG")  # type: ignore[call-overload]  # (stubs say bytes; it takes str)
                self.attachment_bar.add_bytes(bytes(data.data()), "Pasted image.png")
                return True
        return False

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return (
            source.hasImage()
            or source.hasUrls()
            or source.hasFormat(GNOME_COPIED_FILES)
            or super().canInsertFromMimeData(source)
        )

    def insertFromMimeData(self, source: QMimeData) -> None:
        if self.attach(source):
            return
        # Paste as plain text in one edit: rich pastes and huge ones stay cheap.
        if source.hasText():
            self.textCursor().insertText(source.text())
        else:
            super().insertFromMimeData(source)
