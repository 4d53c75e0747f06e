"""Attaching in the window: the paperclip's files, a pasted image, dropped files become chips
above the message box, go with the message, and show on it in the transcript."""

from __future__ import annotations

import io

from PIL import Image
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage

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
    assert mine.files.isVisible() and mine.files.summary().startswith("Attached: Pasted image.png (")
    assert mine.files.summary().endswith("bytes), notes.txt (9 bytes)")
    assert mine.files.geometry().right() <= mine.width()
    assert [t.accessibleName() for t in mine.files.tiles] == [
        "Image Pasted image.png, 320 × 200",
        "Document notes.txt, Text, 9 bytes",
    ]


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


def _sent_with(qtbot, window, tmp_path, files):
    window.composer.attachment_bar.add_paths(files)
    qtbot.waitUntil(lambda: len(window.composer.attachment_bar.attachments) == len(files), timeout=15000)
    window.composer.setPlainText("What is in these?")
    window.composer.submit()
    wait_idle(qtbot, window)
    return [v for v in message_views(window) if v.message.role == "user"][-1]


def test_an_image_in_the_transcript_is_a_thumbnail_that_opens_full_size(qtbot, window, fake_server, tmp_path):
    from desktop_chat.ui.attachment_viewer import AttachmentViewer
    from desktop_chat.ui.transcript.files_view import ImageTile

    photo = tmp_path / "wide.png"
    Image.new("RGB", (1600, 400), (200, 30, 30)).save(photo)
    mine = _sent_with(qtbot, window, tmp_path, [photo])
    [tile] = mine.files.tiles
    assert isinstance(tile, ImageTile)
    # Fitted in its box with its shape kept, above the bubble of text, on the right.
    assert (tile.width(), tile.height()) == (320, 80)
    assert tile.mapTo(mine, tile.rect().topLeft()).y() < mine.segments[0].geometry().top()
    assert mine.files.geometry().right() == mine._bubble.right()
    # The thumbnail is made in a worker, from the history's file, red like the image.
    qtbot.waitUntil(lambda: tile.pixmap is not None, timeout=10000)
    centre = tile.pixmap.toImage().pixelColor(tile.pixmap.width() // 2, tile.pixmap.height() // 2)
    assert (centre.red(), centre.green(), centre.blue()) == (200, 30, 30)
    # A click opens it full size.
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    viewers = [w for w in window.findChildren(AttachmentViewer) if w.isVisible()]
    assert len(viewers) == 1
    viewer = viewers[0]
    qtbot.addWidget(viewer)
    assert (viewer.image.width(), viewer.image.height()) == (1600, 400)
    assert viewer.windowTitle() == "wide.png" and "1600 × 400" in viewer.about.text()
    assert viewer.picture is not None and viewer.fitted
    fitted = viewer.picture.width()
    assert fitted <= viewer.scroller.viewport().width()
    viewer.toggle_fit()  # Actual size: as large as it is, scrolled
    assert viewer.picture.width() == 1600 and viewer.fit_button.text() == "Fit to window"
    viewer.copy()
    assert QGuiApplication.clipboard().image().width() == 1600
    viewer.close()


def test_a_document_in_the_transcript_opens_the_text_that_was_sent(qtbot, window, fake_server, tmp_path):
    from PySide6.QtWidgets import QToolButton

    from desktop_chat.ui.attachment_viewer import AttachmentViewer

    notes = tmp_path / "plan.md"
    notes.write_text("# Plan\n\nStep one: buy milk.\n", encoding="utf-8")
    mine = _sent_with(qtbot, window, tmp_path, [notes])
    [chip] = mine.files.tiles
    assert isinstance(chip, QToolButton) and chip.text().startswith("plan.md\nText · ")
    # Reached with Tab from the message, like its other buttons.
    assert mine.action_buttons()[0] is chip
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    [viewer] = [w for w in window.findChildren(AttachmentViewer) if w.isVisible()]
    qtbot.addWidget(viewer)
    assert viewer.text is not None and viewer.text.toPlainText() == "# Plan\n\nStep one: buy milk."
    assert viewer.text.isReadOnly()
    viewer.close()


def test_a_file_gone_from_the_attachments_folder_says_so(qtbot, window, fake_server, tmp_path):
    photo = tmp_path / "p.png"
    Image.new("RGB", (50, 40), (0, 0, 255)).save(photo)
    mine = _sent_with(qtbot, window, tmp_path, [photo])
    part = mine.files.parts[0]
    window.services.store.attachments.path(part.digest).unlink()
    viewer = window.chat_view.open_attachment(part)
    qtbot.addWidget(viewer)
    assert "no longer" in viewer.about.text() and not viewer.copy_button.isEnabled()
    viewer.close()


def test_the_composer_says_when_the_model_chosen_does_not_see_images(qtbot, window, fake_server, tmp_path):
    # The provider's model list says test-model takes text only, other-model images too.
    fake_server.model_details["test-model"] = {"architecture": {"input_modalities": ["text"]}}
    fake_server.model_details["other-model"] = {"architecture": {"input_modalities": ["text", "image"]}}
    bar = window.composer.attachment_bar
    notes = tmp_path / "notes.txt"
    notes.write_text("Text only.")
    bar.add_paths([notes])
    qtbot.waitUntil(lambda: len(bar.attachments) == 1, timeout=10000)
    assert not bar.warning.isVisible()  # (a document: any model reads it)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(photo)
    bar.add_paths([photo])
    # The list is asked for once (the picker had not opened), then the warning shows.
    qtbot.waitUntil(lambda: bar.warning.isVisible(), timeout=10000)
    assert "does not see images" in bar.warning.text() and "photo.png" in bar.warning.text()
    assert bar.warning.text().startswith("⚠ test-model does not see images")
    # Another model that sees them: the warning goes.
    window.chat.set_choice(window.chat.choice.provider, "other-model")
    assert not bar.warning.isVisible()
    window.chat.set_choice(window.chat.choice.provider, "test-model")
    assert bar.warning.isVisible()
    # The image removed: nothing to warn of.
    bar.remove(bar.attachments[-1])
    assert not bar.warning.isVisible()
