"""The files attached to a message, in the transcript: an image as a thumbnail that opens
full size, a document as a chip that opens its text (ui/attachment_viewer.py).

Thumbnails are decoded from the history's attachments in a worker thread (`Thumbnails`: a
2048 px PNG takes ~40 ms to decode) at the size shown, and kept for the messages scrolled
back to; until one is ready its tile is drawn empty, at the size it will have, so that
nothing moves when it comes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from PySide6.QtCore import QObject, QRect, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QToolButton, QWidget

from desktop_chat.core.attachments import AttachmentStore, thumbnail_pixels
from desktop_chat.core.conversation import AttachmentPart
from desktop_chat.core.markdown import Palette
from desktop_chat.ui.attachment_bar import size_text
from desktop_chat.ui.icons import icon

# The box a thumbnail fits in (an image alone is shown larger than several side by side).
ONE_IMAGE = QSize(320, 240)
MANY_IMAGES = QSize(160, 160)
GAP = 6
# Thumbnails kept for messages scrolled back to (~300 KB each at most, at 2x).
KEPT = 48


def kind_of(part: AttachmentPart) -> str:
    """What a document was, in a word: PDF, HTML, text."""
    source = part.source or part.mime
    return {
        "application/pdf": "PDF",
        "text/html": "HTML",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    }.get(source, "Text")


class Thumbnails(QObject):
    """Thumbnails of attached images, made in a worker thread from the history's files."""

    # A thumbnail is ready: the digest of its image.
    ready = Signal(str)
    _made = Signal(str, int, int, QImage)

    def __init__(self, store: AttachmentStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._kept: OrderedDict[tuple[str, int, int], QPixmap] = OrderedDict()
        self._asked: set[tuple[str, int, int]] = set()
        self._made.connect(self._keep)

    def data(self, digest: str) -> bytes | None:
        return self.store.get(digest)

    def get(self, part: AttachmentPart, size: QSize, ratio: float) -> QPixmap | None:
        """The thumbnail of `part` at `size` (device-independent pixels), if made; else it
        is asked for, and `ready` says when it is."""
        key = (part.digest, round(size.width() * ratio), round(size.height() * ratio))
        pixmap = self._kept.get(key)
        if pixmap is not None:
            self._kept.move_to_end(key)
            return pixmap
        if key not in self._asked:
            self._asked.add(key)
            QThreadPool.globalInstance().start(lambda: self._make(key, ratio))
        return None

    def _make(self, key: tuple[str, int, int], ratio: float) -> None:
        # (In a worker thread: QImage, unlike QPixmap, may be made here.)
        digest, width, height = key
        data = self.store.get(digest)
        image = QImage()
        pixels = thumbnail_pixels(data, width, height) if data is not None else None
        if pixels is not None:
            raw, w, h = pixels
            image = QImage(raw, w, h, w * 4, QImage.Format.Format_RGBA8888).copy()
            image.setDevicePixelRatio(ratio)
        try:
            self._made.emit(digest, width, height, image)
        except RuntimeError:
            pass  # (the transcript closed meanwhile: nobody to give it to)

    def _keep(self, digest: str, width: int, height: int, image: QImage) -> None:
        key = (digest, width, height)
        self._asked.discard(key)
        if image.isNull():
            return  # (the file is gone: the tile stays a frame with the name)
        self._kept[key] = QPixmap.fromImage(image)
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        self.ready.emit(digest)


class ImageTile(QAbstractButton):
    """An attached image: its thumbnail, rounded; a click opens it full size."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("imageTile")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # (Tab to it: TranscriptView)
        self.part: AttachmentPart | None = None
        self.box = QSize(1, 1)
        self.pixmap: QPixmap | None = None
        self.palette_colors = Palette()

    def show_part(self, part: AttachmentPart, box: QSize) -> None:
        self.part = part
        width, height = part.width or box.width(), part.height or box.height()
        self.box = QSize(width, height).scaled(box, Qt.AspectRatioMode.KeepAspectRatio)
        if width <= box.width() and height <= box.height():
            self.box = QSize(width, height)  # (a small image is not blown up)
        self.box = self.box.expandedTo(QSize(24, 24))
        self.pixmap = None
        self.setFixedSize(self.box)
        size = f"{part.width} × {part.height}" if part.width and part.height else size_text(part.size)
        self.setAccessibleName(f"Image {part.name}, {size}")
        self.setAccessibleDescription("Opens it full size")
        self.setToolTip(f"{part.name} — {size}. Click to open it full size.")

    def sizeHint(self) -> QSize:
        return self.box

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        rect = self.rect()
        path.addRoundedRect(rect, 10, 10)
        painter.setClipPath(path)
        if self.pixmap is not None:
            painter.drawPixmap(rect, self.pixmap)
        else:
            painter.fillRect(rect, QColor(self.palette_colors.bubble))
        painter.setClipping(False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.hasFocus():
            painter.setPen(QPen(self.palette().color(self.palette().ColorRole.Highlight), 3))
            painter.drawRoundedRect(rect.adjusted(1, 1, -2, -2), 10, 10)
        else:
            painter.setPen(QPen(QColor(self.palette_colors.quote_border), 1))
            painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 10, 10)
        if self.isDown() or self.underMouse():
            painter.fillPath(path, QColor(0, 0, 0, 26))


class AttachedFiles(QWidget):
    """The files of one message, as tiles in rows (right-aligned for the user's own)."""

    # A tile was clicked: the AttachmentPart to open.
    opened = Signal(object)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("attachedFiles")
        self.setAccessibleName("Attached files")
        self.parts: list[AttachmentPart] = []
        self.tiles: list[QAbstractButton] = []
        self._spare_images: list[ImageTile] = []
        self._spare_chips: list[QToolButton] = []
        self.thumbnails: Thumbnails | None = None
        self.palette_colors = Palette()
        self.right = False
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_thumbnails(self, thumbnails: Thumbnails | None) -> None:
        if thumbnails is self.thumbnails:
            return
        if self.thumbnails is not None:
            self.thumbnails.ready.disconnect(self._thumbnail_ready)
        self.thumbnails = thumbnails
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnail_ready)

    def apply_look(self, palette: Palette, font: QFont) -> None:
        self.palette_colors = palette
        self.setFont(font)
        for tile in self.tiles:
            self._style(tile)

    def _style(self, tile: QAbstractButton) -> None:
        if isinstance(tile, ImageTile):
            tile.palette_colors = self.palette_colors
            tile.update()
        else:
            p = self.palette_colors
            tile.setIcon(icon("file-text", p.muted))
            tile.setStyleSheet(
                f"QToolButton {{ border: 1px solid {p.quote_border}; border-radius: 10px; padding: 6px 10px;"
                f" background: {'#26282c' if p.dark else '#ffffff'}; }}"
                f" QToolButton:hover {{ background: {p.bubble}; }}"
                f" QToolButton:focus {{ border: 2px solid palette(highlight); }}"
            )

    def show_parts(self, parts: Sequence[AttachmentPart], right: bool) -> None:
        parts = list(parts)
        if parts == self.parts and right == self.right:
            return
        self.parts, self.right = parts, right
        for old in self.tiles:
            old.hide()
            if isinstance(old, ImageTile):
                self._spare_images.append(old)
            elif isinstance(old, QToolButton):
                self._spare_chips.append(old)
        self.tiles = []
        images = sum(1 for p in parts if p.image)
        box = ONE_IMAGE if images == 1 else MANY_IMAGES
        for part in parts:
            tile: QAbstractButton
            if part.image:
                image = self._spare_images.pop() if self._spare_images else self._new_image()
                image.show_part(part, box)
                tile = image
            else:
                chip = self._spare_chips.pop() if self._spare_chips else self._new_chip()
                chip.setText(f"{part.name}\n{kind_of(part)} · {size_text(part.size)}")
                chip.setAccessibleName(f"Document {part.name}, {kind_of(part)}, {size_text(part.size)}")
                chip.setAccessibleDescription("Shows the text that was sent")
                chip.setToolTip(f"{part.name} — click to see the text sent to the model")
                chip.adjustSize()
                tile = chip
            tile.setProperty("part", part)
            self._style(tile)
            tile.show()
            self.tiles.append(tile)
        self._load_thumbnails()

    def _new_image(self) -> ImageTile:
        tile = ImageTile(self)
        tile.clicked.connect(lambda: self._open(tile))
        return tile

    def _new_chip(self) -> QToolButton:
        chip = QToolButton(self)
        chip.setObjectName("documentChip")
        chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        chip.setIconSize(QSize(22, 22))
        chip.setCursor(Qt.CursorShape.PointingHandCursor)
        chip.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # (Tab to it: TranscriptView)
        chip.clicked.connect(lambda: self._open(chip))
        return chip

    def _open(self, tile: QAbstractButton) -> None:
        part = tile.property("part")
        if isinstance(part, AttachmentPart):
            self.opened.emit(part)

    def _load_thumbnails(self) -> None:
        if self.thumbnails is None:
            return
        ratio = self.devicePixelRatioF()
        for tile in self.tiles:
            if isinstance(tile, ImageTile) and tile.part is not None and tile.pixmap is None:
                pixmap = self.thumbnails.get(tile.part, tile.box, ratio)
                if pixmap is not None:
                    tile.pixmap = pixmap
                    tile.update()

    def _thumbnail_ready(self, digest: str) -> None:
        if any(p.digest == digest for p in self.parts):
            self._load_thumbnails()

    def height_for(self, width: int) -> int:
        """Lay the tiles out in rows at most `width` wide; the height they take."""
        rows: list[list[QAbstractButton]] = [[]]
        used = 0
        for tile in self.tiles:
            size = tile.sizeHint()
            tile_width = min(size.width(), width)
            if rows[-1] and used + GAP + tile_width > width:
                rows.append([])
                used = 0
            used += (GAP if rows[-1] else 0) + tile_width
            rows[-1].append(tile)
        y = 0
        for row in rows:
            if not row:
                continue
            sizes = [QSize(min(t.sizeHint().width(), width), t.sizeHint().height()) for t in row]
            row_width = sum(s.width() for s in sizes) + GAP * (len(row) - 1)
            x = width - row_width if self.right else 0
            height = max(s.height() for s in sizes)
            for tile, size in zip(row, sizes, strict=True):
                tile.setGeometry(QRect(x, y + (height - size.height()), size.width(), size.height()))
                x += size.width() + GAP
            y += height + GAP
        return max(0, y - GAP)

    def summary(self) -> str:
        """The files, as a line of text: "Attached: a.png (12 KB), notes.txt (9 bytes)"."""
        return "Attached: " + ", ".join(f"{p.name} ({size_text(p.size)})" for p in self.parts)
