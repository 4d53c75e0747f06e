"""Formulas in the transcript: typeset off the GUI thread (the real helper process), set on
the text's line, their source until then; copied, read aloud and announced as their source."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QGuiApplication, QTextCursor

from desktop_chat.ui.math_images import math_images
from desktop_chat.ui.transcript.segments import OBJECT, TextSegmentView, shown_text
from tests.fakes.openai_server import Reply, text_stream
from tests.gui.helpers import message_views, type_and_send, wait_idle

ANSWER = "Euler: $e^{i\\pi}+1=0$, for $5 and $10.\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\nSo \\(a^2+b^2\\)."


def images_of(document) -> list[tuple[str, str]]:
    found = []
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                image = fmt.toImageFormat()
                found.append((image.name(), str(fmt.property(fmt.Property.ImageAltText))))
            it += 1
        block = block.next()
    return found


def reply_text_view(window) -> TextSegmentView:
    reply = [v for v in message_views(window) if v.message.role == "assistant"][-1]
    return next(s for s in reply.segments if isinstance(s, TextSegmentView))


def test_formulas_are_typeset_and_give_their_source(qtbot, window, fake_server):
    typeset_before = math_images().typeset_count
    fake_server.queue(
        Reply(
            body=text_stream(
                [
                    "Euler: $e^{i\\pi",
                    "}+1=0$, for $5 and $10.\n\n$$\\int_0^1 x^2\\,dx",
                    " = \\frac{1}{3}$$\n\nSo \\(a^2+b^2\\).",
                ]
            )
        )
    )
    type_and_send(qtbot, window, "math")
    wait_idle(qtbot, window)
    view = reply_text_view(window)
    document = view.document()
    assert [alt for _, alt in images_of(document)] == [
        "$e^{i\\pi}+1=0$",
        "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$",
        "\\(a^2+b^2\\)",
    ]
    qtbot.waitUntil(lambda: math_images().typeset_count >= typeset_before + 3, timeout=15000)
    for name, _ in images_of(document):
        assert math_images().image(name) is not None and name in (math_images()._images)
    # The money stays text; the formulas read as their source, never as U+FFFC.
    text = shown_text(document)
    assert "for $5 and $10." in text and OBJECT not in text and "$e^{i\\pi}+1=0$" in text
    reply = [v for v in message_views(window) if v.message.role == "assistant"][-1]
    assert OBJECT not in reply.spoken_text() and "\\(a^2+b^2\\)" in reply.spoken_text()
    # A selection copied gives the source.
    cursor = QTextCursor(document)
    cursor.select(QTextCursor.SelectionType.Document)
    view.setTextCursor(cursor)
    view.copy()
    assert QGuiApplication.clipboard().text().startswith("Euler: $e^{i\\pi}+1=0$, for $5")
    # Laid out with the typeset formulas: the message is as tall as its document.
    assert reply_text_view(window).height() == round(document.size().height() + 0.499)


def test_a_switch_to_dark_typesets_again_in_the_new_colour(qtbot, window, fake_server):
    fake_server.queue(Reply(body=text_stream(["Area $\\pi r^2$."])))
    type_and_send(qtbot, window, "area")
    wait_idle(qtbot, window)
    light = images_of(reply_text_view(window).document())
    window.settings.update(replace(window.settings.current, theme="dark"))
    qtbot.waitUntil(lambda: images_of(reply_text_view(window).document()) != light, timeout=5000)
    dark = images_of(reply_text_view(window).document())
    assert [alt for _, alt in dark] == [alt for _, alt in light] and dark[0][0] != light[0][0]


def test_a_helper_that_dies_costs_one_formula_and_the_others_are_typeset(qtbot):
    from desktop_chat.core.math import Formula, name_for
    from desktop_chat.ui.math_images import MathImages

    images = MathImages()
    first = name_for(Formula("a^2", False, 15.0, "#102030"))
    second = name_for(Formula("b^2", False, 15.0, "#102030"))
    assert images.image(first) is not None and images.image(second) is not None  # (their source, meanwhile)
    images._process.kill()  # the helper dies with both asked for
    qtbot.waitUntil(lambda: second in images._images, timeout=15000)
    assert first in images._failed and first not in images._images  # the one it was on: its source stays
    assert images.image(first) is not None  # (the source, drawn)
    images.shut_down()
