"""The app's icons: Lucide's SVGs (desktop_chat/assets/icons, ISC licence) drawn in a colour
of the palette. They stroke with `currentColor`, which is replaced by the colour asked for,
so an icon follows light and dark like the text beside it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

ICONS = Path(__file__).resolve().parent.parent / "assets" / "icons"
# Drawn at these sizes (and twice them, for screens that scale by 2).
SIZES = (16, 20, 24)


@lru_cache(maxsize=64)
def _svg(name: str) -> str:
    return (ICONS / f"{name}.svg").read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def _icon(name: str, color: str) -> QIcon:
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(_svg(name).replace("currentColor", color).encode("utf-8")))
    icon = QIcon()
    for size in SIZES:
        for scale in (1, 2):
            pixmap = QPixmap(size * scale, size * scale)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            renderer.render(painter, QRectF(0, 0, size * scale, size * scale))
            painter.end()
            pixmap.setDevicePixelRatio(scale)
            icon.addPixmap(pixmap)
    return icon


def icon(name: str, color: QColor | str) -> QIcon:
    """The icon `name` (a file of assets/icons without .svg) drawn in `color`."""
    return _icon(name, QColor(color).name())
