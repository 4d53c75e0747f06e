"""AttachmentViewer: a file attached to a message, opened from the transcript. An image full
size (fitted to the window, or at its real size, scrolled), with Copy and Save; a
document as the text that was sent to the model, with Copy.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_chat.core.conversation import AttachmentPart
from desktop_chat.core.files import write_private
from desktop_chat.ui.attachment_bar import size_text
from desktop_chat.ui.transcript.files_view import kind_of


class AttachmentViewer(QDialog):
    def __init__(self, part: AttachmentPart, data: bytes | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("attachmentViewer")
        self.setWindowTitle(part.name)
        self.part = part
        self.data = data
        self.image = QImage.fromData(data) if data is not None and part.image else QImage()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        self.about = QLabel(self)
        self.about.setTextFormat(Qt.TextFormat.PlainText)
        self.about.setWordWrap(True)
        layout.addWidget(self.about)
        buttons = QDialogButtonBox(self)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setAutoDefault(False)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.close)
        self.text: QPlainTextEdit | None = None
        self.picture: QLabel | None = None
        self.scroller: QScrollArea | None = None
        self.fitted = True
        self.fit_button: QPushButton | None = None
        if part.image:
            self._image_view(layout, buttons)
        else:
            self._document_view(layout)
        layout.addWidget(buttons)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Copy), self, self.copy)

    def _image_view(self, layout: QVBoxLayout, buttons: QDialogButtonBox) -> None:
        part = self.part
        if self.image.isNull():
            self.about.setText(f"{part.name} is no longer in the history's attachments folder.")
            self.copy_button.setEnabled(False)
            return
        self.about.setText(f"{part.name} · {self.image.width()} × {self.image.height()} · {size_text(part.size)}")
        self.scroller = QScrollArea(self)
        self.scroller.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroller.setWidgetResizable(False)
        self.picture = QLabel()
        self.picture.setAccessibleName(f"Image {part.name}")
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.scroller.setWidget(self.picture)
        layout.addWidget(self.scroller, 1)
        self.fit_button = QPushButton("Actual size", self)
        save_button = QPushButton("Save As…", self)
        for button in (self.fit_button, save_button):
            button.setAutoDefault(False)
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.fit_button.clicked.connect(self.toggle_fit)
        save_button.clicked.connect(self.save)
        # Fitted again whenever the room for it changes (the window resized, shown).
        self.scroller.viewport().installEventFilter(self)
        screen = self.screen().availableGeometry().size() if self.screen() is not None else QSize(1280, 800)
        wanted = QSize(self.image.width() + 40, self.image.height() + 110)
        self.resize(
            wanted.boundedTo(QSize(int(screen.width() * 0.85), int(screen.height() * 0.85))).expandedTo(QSize(360, 280))
        )
        self._show_image()

    def _document_view(self, layout: QVBoxLayout) -> None:
        part = self.part
        self.about.setText(
            f"{part.name} · {kind_of(part)} · the {len(part.text):,} characters of text read from it"
            " (a model with a short context is sent the start)"
        )
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setPlainText(part.text)
        self.text.setAccessibleName(f"Text of {part.name}")
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        layout.addWidget(self.text, 1)
        self.resize(720, 640)
        self.text.setFocus()

    def _show_image(self) -> None:
        if self.picture is None or self.scroller is None:
            return
        pixmap = QPixmap.fromImage(self.image)
        if self.fitted:
            ratio = self.devicePixelRatioF()
            area = self.scroller.viewport().size() * ratio
            if pixmap.width() > area.width() or pixmap.height() > area.height():
                pixmap = pixmap.scaled(
                    area, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            pixmap.setDevicePixelRatio(ratio)
        self.picture.setPixmap(pixmap)
        self.picture.resize(pixmap.deviceIndependentSize().toSize())
        if self.fit_button is not None:
            self.fit_button.setText("Actual size" if self.fitted else "Fit to window")

    def toggle_fit(self) -> None:
        self.fitted = not self.fitted
        self._show_image()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.fitted:
            self._show_image()
        return False

    def copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if self.text is not None:
            selected = self.text.textCursor().selectedText().replace("\u2029", "\n")
            clipboard.setText(selected or self.part.text)
        elif not self.image.isNull():
            clipboard.setImage(self.image)

    def save(self) -> None:
        if self.data is None:
            return
        suffix = Path(self.part.name).suffix or (".png" if self.part.mime == "image/png" else ".jpg")
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the image", str(Path.home() / self.part.name), f"Image (*{suffix})"
        )
        if path:
            try:
                write_private(Path(path), self.data)
            except OSError as exc:
                self.about.setText(f"{Path(path).name} could not be written: {exc.strerror or exc}.")
