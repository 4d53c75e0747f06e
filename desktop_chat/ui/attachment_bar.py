"""AttachmentBar: the files about to be sent with the next message, as chips above the
message box (name, size, a thumbnail for an image; a click or Backspace removes one).

Files come from the paperclip, a drop, or a paste; each is prepared (core/attachments.py:
decoded, scaled, stripped, or read as text) in a worker thread, so a 12-megapixel photo
never holds the window; what cannot be attached is said, naming the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop_chat.core.attachments import AttachmentError, Prepared, prepare_bytes, prepare_file, thumbnail_pixels

from .icons import icon

THUMBNAIL = 28


def size_text(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


class AttachmentBar(QWidget):
    # Something could not be attached: why, naming the file.
    problem = Signal(str)
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentBar")
        self.setAccessibleName("Attached files")
        self.attachments: list[Prepared] = []
        self._chips: list[QToolButton] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 4)
        column.setSpacing(4)
        self._row = QHBoxLayout()
        self._row.setSpacing(6)
        self._row.addStretch(1)
        column.addLayout(self._row)
        # Said before sending: the model chosen does not see images (its provider's list says so).
        self.warning = QLabel(self)
        self.warning.setObjectName("attachmentWarning")
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setWordWrap(True)
        self.warning.hide()
        column.addWidget(self.warning)
        self.blind_model = ""  # the display name of a chosen model that does not see images
        self.pending = 0  # files being prepared
        self._tickets = 0
        self._waiting: list[int] = []  # tickets of files being prepared, in the order given
        self._ready: dict[int, tuple[Prepared, QImage | None] | None] = {}
        self.setVisible(False)

    # Adding

    def add_paths(self, paths: list[Path]) -> None:
        for path in paths:
            self._prepare(partial(prepare_file, path))

    def add_bytes(self, data: bytes, name: str) -> None:
        self._prepare(partial(prepare_bytes, data, name))

    def _prepare(self, work: Callable[[], Prepared]) -> None:
        self.pending += 1
        self._tickets += 1
        self._waiting.append(self._tickets)
        asyncio.ensure_future(self._prepared(self._tickets, work))

    async def _prepared(self, ticket: int, work: Callable[[], Prepared]) -> None:
        try:
            self._ready[ticket] = await asyncio.get_running_loop().run_in_executor(None, partial(_with_thumbnail, work))
        except AttachmentError as exc:
            self._ready[ticket] = None
            self.problem.emit(str(exc))
        finally:
            self.pending -= 1
        # In the order they were given, whichever was ready first.
        while self._waiting and self._waiting[0] in self._ready:
            ready = self._ready.pop(self._waiting.pop(0))
            if ready is not None:
                self.add(*ready)

    def add(self, prepared: Prepared, thumbnail: QImage | None = None) -> None:
        if any(a.part.digest == prepared.part.digest for a in self.attachments):
            return  # (the same file twice is one attachment)
        self.attachments.append(prepared)
        chip = QToolButton(self)
        part = prepared.part
        chip.setText(f"{part.name} · {size_text(part.size)}  ✕")
        chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        chip.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        if thumbnail is None and prepared.part.image:
            thumbnail = thumbnail_image(prepared)
        chip.setIcon(QIcon(QPixmap.fromImage(thumbnail)) if thumbnail is not None else icon("file-text", "#656d76"))
        chip.setAccessibleName(f"Remove the attached file {part.name}")
        chip.setToolTip(f"{part.name} — click to remove")
        chip.setObjectName("attachmentChip")
        chip.clicked.connect(lambda: self.remove(prepared))
        self._row.insertWidget(len(self._chips), chip)
        self._chips.append(chip)
        self.setVisible(True)
        self._show_warning()
        self.changed.emit()

    # Removing

    def remove(self, prepared: Prepared) -> None:
        if prepared not in self.attachments:
            return
        index = self.attachments.index(prepared)
        self.attachments.pop(index)
        chip = self._chips.pop(index)
        chip.deleteLater()
        self.setVisible(bool(self.attachments))
        self._show_warning()
        self.changed.emit()

    def set_blind_model(self, name: str) -> None:
        """The model chosen does not see images (its name), or "" when it does or nobody says."""
        self.blind_model = name
        self._show_warning()

    def _show_warning(self) -> None:
        images = [a.part.name for a in self.attachments if a.part.image]
        shown = bool(self.blind_model and images)
        if shown:
            self.warning.setText(
                f"⚠ {self.blind_model} does not see images (its provider's model list says so):"
                f" {', '.join(images)} would be refused. Pick a model that sees images, or remove them."
            )
        self.warning.setVisible(shown)

    def remove_last(self) -> bool:
        if not self.attachments:
            return False
        self.remove(self.attachments[-1])
        return True

    def take(self) -> list[Prepared]:
        """What is attached, handed over to be sent; the bar is empty after."""
        taken = list(self.attachments)
        while self.attachments:
            self.remove(self.attachments[-1])
        return taken


def thumbnail_image(prepared: Prepared) -> QImage | None:
    """A chip's thumbnail of an image (Pillow: JPEG scales while it decodes);
    made in the worker that prepared the file (a QImage may be, unlike a QPixmap)."""
    if not prepared.part.image:
        return None
    pixels = thumbnail_pixels(prepared.data, THUMBNAIL * 2, THUMBNAIL * 2)
    if pixels is None:
        return None
    raw, width, height = pixels
    return QImage(raw, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


def _with_thumbnail(work: Callable[[], Prepared]) -> tuple[Prepared, QImage | None]:
    prepared = work()
    return prepared, thumbnail_image(prepared)
