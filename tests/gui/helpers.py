"""Helpers that act on the real widgets as a person would: keys and mouse clicks."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from desktop_chat.ui.actions import MessageAction


def transcript_text(window) -> str:
    """Every message's text as the transcript shows it (who, body, state, figures)."""
    return window.chat_view.plain_text()


def message_views(window) -> list:
    view = window.chat_view
    return [view.message_view(message_id) for message_id in view.message_ids()]


def action_button(window, action: MessageAction, which: str | int = "first"):
    """(message view, button) of the first (or "last", or message id `which`) message that
    offers `action` once the pointer is on it."""
    views = message_views(window)
    if which == "last":
        views = views[::-1]
    elif isinstance(which, int):
        views = [v for v in views if v.message.id == which]
    for message in views:
        message.set_active(True)  # (what hovering or focusing it does)
        button = message.buttons[action]
        if button.isVisibleTo(message) and button.isEnabled():
            return message, button
        message.set_active(False)
    raise AssertionError(f"no {action.name} button in:\n{transcript_text(window)}")


def click_action(qtbot, window, action: MessageAction, which: str | int = "first") -> None:
    """Bring the message into view, then click its button where it is drawn."""
    message, button = action_button(window, action, which)
    window.chat_view.ensure_visible(message.message.id)
    message.set_active(True)
    assert button.isVisible(), f"{action.name} is not shown"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def documents(window) -> list:
    """The text documents of every message's body, in order."""
    found = []
    for message in message_views(window):
        found += message.body_documents()
    return found


def links(window) -> list[str]:
    found = []
    for document in documents(window):
        block = document.begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                href = it.fragment().charFormat().anchorHref()
                if href:
                    found.append(href)
                it += 1
            block = block.next()
    return found


def click_link(qtbot, window, href: str) -> None:
    """Click the first link whose address starts with `href`, where it is drawn."""
    for message in message_views(window):
        for segment in message.segments:
            browser = getattr(segment, "body", segment)
            position = _link_position(browser, href)
            if position is None:
                continue
            window.chat_view.ensure_visible(message.message.id, browser.mapTo(message, position).y() - 20, 40)
            qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=position)
            return
    raise AssertionError(f"no link {href!r} in {links(window)}")


def _link_position(browser, href: str) -> QPoint | None:
    document = browser.document()
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.isValid() and fragment.charFormat().anchorHref().startswith(href):
                cursor = QTextCursor(document)
                cursor.setPosition(fragment.position())
                start = browser.cursorRect(cursor)
                cursor.setPosition(fragment.position() + fragment.length())
                end = browser.cursorRect(cursor)
                return QPoint((start.left() + end.left()) // 2, start.center().y())
            it += 1
        block = block.next()
    return None


def type_and_send(qtbot, window, text: str) -> None:
    window.composer.setFocus()
    qtbot.keyClicks(window.composer, text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def wait_idle(qtbot, window, timeout: int = 8000) -> None:
    qtbot.waitUntil(lambda: window.chat.reply_task is not None and window.chat.reply_task.done(), timeout=timeout)
