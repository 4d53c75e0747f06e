"""The window follows the system's colour scheme, transcript included."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from desktop_chat.ui.theme import apply_theme, is_dark
from desktop_chat.ui.transcript.segments import CodeSegmentView
from tests.fakes.openai_server import Reply, text_stream
from tests.gui.helpers import message_views, transcript_text, type_and_send, wait_idle


def code_background(window) -> str:
    """The colour the code block is drawn in (beside its short line)."""
    code = next(s for v in message_views(window) for s in v.segments if isinstance(s, CodeSegmentView))
    return code.grab().toImage().pixelColor(code.width() - 12, code.height() - 12).name()


def test_scheme_change_rerenders_transcript(qtbot, window, fake_server):
    app = QApplication.instance()
    apply_theme(app, window)
    fake_server.queue(Reply(body=text_stream(["```py\nx = 1\n```\n"])))
    type_and_send(qtbot, window, "code")
    wait_idle(qtbot, window)
    light = app.palette()
    assert code_background(window) == "#f4f5f7" and not is_dark(app)
    try:
        # What a switch to a dark system theme does to a Qt app: a dark palette.
        dark = QPalette(light)
        dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
        dark.setColor(QPalette.ColorRole.Base, QColor("#181818"))
        dark.setColor(QPalette.ColorRole.Text, QColor("#e8eaed"))
        app.setPalette(dark)
        qtbot.waitUntil(lambda: code_background(window) == "#1e1f24", timeout=3000)
        assert "x = 1" in transcript_text(window)  # the same conversation, re-rendered
    finally:
        app.setPalette(light)
    qtbot.waitUntil(lambda: code_background(window) == "#f4f5f7", timeout=3000)


def test_the_notice_bar_is_drawn_in_its_own_colour(qtbot, window):
    window.show_notice("Something to read")
    qtbot.waitUntil(window.notice_bar.isVisible)
    app = QApplication.instance()
    apply_theme(app, window)  # the app's style sheet, as at start
    # The window as drawn (a widget grabbed alone gets its background filled either way).
    image = window.grab().toImage()
    spot = window.notice_bar.mapTo(window, window.notice_bar.rect().center())
    assert image.pixelColor(spot.x(), spot.y() + window.notice_bar.height() // 2 - 3).name() == "#fff4ce"


def test_a_live_switch_to_dark_reaches_every_part_of_the_window(qtbot, window, fake_server):
    from dataclasses import replace

    from desktop_chat.ui.theme import apply_scheme

    app = QApplication.instance()
    apply_theme(app, window)  # the app's style sheet, as at start
    fake_server.queue(Reply(body=text_stream(["Use `x = 1` here."])))
    type_and_send(qtbot, window, "code")
    wait_idle(qtbot, window)

    def lightness(widget):
        image = window.grab().toImage()
        spot = widget.mapTo(window, widget.rect().bottomRight()) - widget.rect().bottomRight() / 8
        return image.pixelColor(spot.x(), spot.y()).lightness()

    parts = [window.chat_view, window.sidebar.conversation_list, window.composer]
    assert all(lightness(part) > 200 for part in parts)
    try:
        window.settings.update(replace(window.settings.current, theme="dark"))  # Settings → Dark → Save
        assert all(lightness(part) < 60 for part in parts), [lightness(part) for part in parts]
        # The find bar's icons are drawn in the dark scheme's light text colour, not left black.
        assert icon_lightness(window.find_bar.next_button) > 150
    finally:
        apply_scheme(app, "system")
    assert all(lightness(part) > 200 for part in parts)
    assert icon_lightness(window.find_bar.next_button) < 100


def icon_lightness(button) -> int:
    """The lightness of the strokes of a button's icon (its most opaque pixels)."""
    image = button.icon().pixmap(20, 20).toImage()
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    return max(pixels, key=lambda c: c.alpha()).lightness()
