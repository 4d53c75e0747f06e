"""Render the app icon's PNG sizes from its SVG source (run when the SVG changes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    source = root / "desktop_chat" / "assets" / "desktop-chat.svg"
    out = root / "resources" / "icons"
    app = QGuiApplication(sys.argv)  # noqa: F841 - Qt needs it to paint
    renderer = QSvgRenderer(str(source))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(out / f"desktop-chat-{size}.png"))
        if size == 256:
            image.save(str(out / "desktop-chat.ico"))  # Windows: the installer and the .exe
    (out / "desktop-chat.svg").write_bytes(source.read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
