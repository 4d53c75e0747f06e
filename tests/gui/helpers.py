"""Helpers that act on the real widgets as a person would: keys and mouse clicks."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor


def transcript_text(window) -> str:
    return window.chat_view.toPlainText()


def link_position(view, href: str) -> QPoint | None:
    """Viewport position of the first link whose address starts with href."""
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.isValid() and fragment.charFormat().anchorHref().startswith(href):
                cursor = QTextCursor(view.document())
                cursor.setPosition(fragment.position())
                start = view.cursorRect(cursor)
                cursor.setPosition(fragment.position() + fragment.length())
                end = view.cursorRect(cursor)
                # The middle of the link as drawn (for one glyph, between its edges).
                return QPoint((start.left() + end.left()) // 2, start.center().y())
            it += 1
        block = block.next()
    return None


def links(view) -> list[str]:
    found = []
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            href = it.fragment().charFormat().anchorHref()
            if href:
                found.append(href)
            it += 1
        block = block.next()
    return found


def click_link(qtbot, view, href: str) -> None:
    view.ensureCursorVisible()
    position = link_position(view, href)
    assert position is not None, f"no link {href!r} in {links(view)}"
    # Bring it into view, then click where it is drawn.
    bar = view.verticalScrollBar()
    if not view.viewport().rect().contains(position):
        bar.setValue(bar.value() + position.y() - view.viewport().height() // 2)
        position = link_position(view, href)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=position)


def type_and_send(qtbot, window, text: str) -> None:
    window.composer.setFocus()
    qtbot.keyClicks(window.composer, text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def wait_idle(qtbot, window, timeout: int = 8000) -> None:
    qtbot.waitUntil(lambda: window.chat.reply_task is not None and window.chat.reply_task.done(), timeout=timeout)
