"""Another X client for the drop test: a small window that, when pressed, drags file URLs.

Run as its own process (QT_QPA_PLATFORM=xcb, the test's DISPLAY):
    python tests/e2e/drag_source.py X Y WIDTH HEIGHT FILE...
It prints, so a test can wait for each step rather than for a time:
- "ready" once its window is shown;
- "dragging" once a press has started a drag (the pointer is grabbed: moves are the drag's);
- "target takes: <action>" each time the window under the pointer answers (XdndStatus):
  CopyAction when it would take the files, IgnoreAction when not;
- "drag ended: <action>" when the drag is over (what the drop target did).
Qt speaks XDND itself, on both sides, so no window manager is needed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel


class DragSource(QLabel):
    def __init__(self, files: list[str]) -> None:
        super().__init__("Drag these files")
        self.files = files
        self.setWindowTitle("Drag source")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(f) for f in self.files])
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.actionChanged.connect(lambda action: print(f"target takes: {action.name}", flush=True))
        # (runs in the drag's own event loop, so once the drag has begun)
        QTimer.singleShot(0, lambda: print("dragging", flush=True))
        action = drag.exec(Qt.DropAction.CopyAction)
        print(f"drag ended: {action.name}", flush=True)


def main() -> None:
    app = QApplication(sys.argv)
    x, y, width, height = (int(v) for v in sys.argv[1:5])
    source = DragSource(sys.argv[5:])
    source.setGeometry(x, y, width, height)
    source.show()
    QTimer.singleShot(300, lambda: print("ready", flush=True))
    app.exec()


if __name__ == "__main__":
    main()
