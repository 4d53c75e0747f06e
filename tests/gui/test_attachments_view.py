"""Attaching in the window: the paperclip's files, a pasted image, dropped files become chips
above the message box, go with the message, and show on it in the transcript."""

from __future__ import annotations

import io

from PIL import Image
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QImage

from tests.gui.helpers import message_views, wait_idle


def test_paste_and_drop_attach_and_the_message_carries_them(qtbot, window, fake_server, tmp_path):
    bar = window.composer.attachment_bar
    assert not bar.isVisible()
    # A pasted image (a screenshot on the clipboard).
    pasted = QMimeData()
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    pasted.setImageData(image)
    window.composer.insertFromMimeData(pasted)
    # Dropped files: a text file and one that cannot be attached.
    notes = tmp_path / "notes.txt"
    notes.write_text("Buy milk.")
    dropped = QMimeData()
    dropped.setUrls([QUrl.fromLocalFile(str(notes)), QUrl.fromLocalFile(str(tmp_path / "gone.pdf"))])
    window.composer.insertFromMimeData(dropped)
    qtbot.waitUntil(lambda: len(bar.attachments) == 2 and bar.pending == 0, timeout=10000)
    assert bar.isVisible()
    assert [a.part.name for a in bar.attachments] == ["Pasted image.png", "notes.txt"]
    qtbot.waitUntil(lambda: "There is no file" in window.notice_bar.text(), timeout=3000)
    assert "gone.pdf" in window.notice_bar.text()
    # Backspace in the empty box takes back the last one.
    window.composer.setFocus()
    qtbot.keyClick(window.composer, Qt.Key.Key_Backspace)
    assert [a.part.name for a in bar.attachments] == ["Pasted image.png"]
    window.composer.insertFromMimeData(dropped)  # (notes.txt again)
    qtbot.waitUntil(lambda: len(bar.attachments) == 2 and bar.pending == 0, timeout=10000)
    # Sent with no text at all: the files are the message.
    window.composer.submit()
    wait_idle(qtbot, window)
    assert not bar.attachments and not bar.isVisible()
    content = fake_server.requests[-1]["messages"][-1]["content"]
    assert content[0]["text"] == '<document name="notes.txt">\nBuy milk.\n</document>'
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    mine = [v for v in message_views(window) if v.message.role == "user"][-1]
    assert mine.files.isVisible() and mine.files.text().startswith("Attached: Pasted image.png (")
    assert mine.files.text().endswith("bytes), notes.txt (9 bytes)")
    assert mine.files.geometry().right() <= mine.width()


def test_a_big_photo_is_prepared_off_the_window(qtbot, window, tmp_path):
    photo = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (90, 120, 30)).save(photo, quality=90)
    window.composer.attachment_bar.add_paths([photo])
    assert window.composer.attachment_bar.pending == 1  # (handed to a worker, not done here)
    qtbot.waitUntil(lambda: bool(window.composer.attachment_bar.attachments), timeout=15000)
    part = window.composer.attachment_bar.attachments[0].part
    assert (part.width, part.height) == (2048, 1536)
    data = window.composer.attachment_bar.attachments[0].data
    assert Image.open(io.BytesIO(data)).size == (2048, 1536)


def test_quick_ask_takes_a_pasted_image(qtbot, window, fake_server):
    from desktop_chat.ui.quick_ask import QuickAsk

    quick = QuickAsk(window.services, window)
    qtbot.addWidget(quick.window)
    quick.window.show()
    pasted = QMimeData()
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    pasted.setImageData(image)
    quick.window.composer.insertFromMimeData(pasted)
    bar = quick.window.composer.attachment_bar
    qtbot.waitUntil(lambda: len(bar.attachments) == 1, timeout=10000)
    assert bar.isVisible() and bar.window() is quick.window  # in the quick-ask window, not a window of its own


def test_a_pdf_of_the_conversation_shows_the_attached_image(qtbot, window, tmp_path):
    from desktop_chat.core.attachments import prepare_bytes

    buffer = io.BytesIO()
    Image.new("RGB", (200, 120), (10, 200, 90)).save(buffer, "PNG")
    chat = window.services.session
    conversation = window.store.create_conversation("Pic", "Test server", "test-model")
    chat.prepare_send(conversation, "see", [prepare_bytes(buffer.getvalue(), "green.png")])
    window.open_conversation(conversation.id)
    pdf = tmp_path / "pic.pdf"
    assert window.files.save_pdf(pdf)
    assert b"/Subtype /Image" in pdf.read_bytes()
