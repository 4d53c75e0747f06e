"""Attachments on real files made here: photos with GPS EXIF, screenshots with text chunks, a
PDF, text in several encodings, and everything that must be refused."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os

import pytest
from PIL import Image, PngImagePlugin

from desktop_chat.core.attachments import (
    MAX_FILE_BYTES,
    AttachmentError,
    AttachmentStore,
    html_text,
    prepare_bytes,
    prepare_file,
)
from tests.fakes.openai_server import Reply, text_stream


def photo_with_gps(width: int = 4000, height: int = 3000, orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: EXIF with GPS, the camera, and an orientation."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    image.paste((20, 20, 220), (0, 0, width // 2, height // 4))  # a blue band at the top left
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPSInfo: Paris
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with `text` on it, its cross-reference table computed."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def test_a_phone_photo_is_upright_smaller_and_tells_nothing(tmp_path):
    path = tmp_path / "IMG_0001.JPG"
    path.write_bytes(photo_with_gps())
    prepared = prepare_file(path)
    part, data = prepared.part, prepared.data
    assert part.mime == "image/jpeg" and part.name == "IMG_0001.jpg"
    # Turned upright (orientation 6: the 4000x3000 sensor image is 3000x4000 to view), then
    # scaled so the longer side is 2048.
    assert (part.width, part.height) == (1536, 2048)
    sent = Image.open(io.BytesIO(data))
    assert sent.size == (1536, 2048) and sent.format == "JPEG"
    # The bytes sent hold no metadata: no EXIF (GPS, camera, orientation), no XMP.
    assert not sent.getexif() and "exif" not in sent.info
    for marker in (b"Exif", b"PhoneMaker", b"http://ns.adobe.com/xap", b"GPS"):
        assert marker not in data
    # The blue band was top left before turning: after a 90° clockwise turn it is top right.
    assert sent.getpixel((1500, 10))[2] > 150 and sent.getpixel((10, 10))[2] < 100


def test_a_screenshot_stays_png_without_its_text_chunks():
    image = Image.new("RGBA", (2600, 1200), (255, 255, 255, 255))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret-account-number-123")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    prepared = prepare_bytes(out.getvalue(), "Screenshot 2026-11-28.png")
    assert prepared.part.mime == "image/png" and (prepared.part.width, prepared.part.height) == (2048, 945)
    for marker in (b"tEXt", b"iTXt", b"zTXt", b"secret", b"eXIf"):
        assert marker not in prepared.data


def test_documents_become_their_text(tmp_path):
    pdf = prepare_bytes(minimal_pdf("Quarterly revenue grew by nine percent"), "report.pdf")
    assert pdf.part.text == "Quarterly revenue grew by nine percent" and pdf.part.source == "application/pdf"
    for encoding, text in (
        ("utf-8", "Grüße, naïve café — 日本語"),
        ("utf-16", "Grüße, naïve café — 日本語"),
        ("cp1252", "Les élèves ont reçu leur diplôme à Noël, très contents de ça."),
        ("shift_jis", "これは日本語のテキストです。文字コードはシフトJISです。" * 3),
    ):
        prepared = prepare_bytes(text.encode(encoding), f"notes-{encoding}.txt")
        assert prepared.part.text == text, encoding
    page = "<html><head><style>p{}</style><script>alert(1)</script></head><body><h1>Title</h1><p>Body &amp; more</p></body></html>"
    assert prepare_bytes(page.encode(), "page.html").part.text == "Title\nBody & more"
    assert html_text("<p>a</p><p>b</p>") == "a\nb"


def made(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.png", "There is no file"),
        (lambda p: (p / "folder").mkdir() or p / "folder", "is a folder"),
        (lambda p: made(p / "blob.bin", os.urandom(4096) + b"\x00" * 100), "neither"),
        (
            lambda p: made(p / "bad.pdf", b"%PDF-1.7\nnot really"),
            "not a PDF that can be read",
        ),
        (
            lambda p: made(p / "bad.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50),
            "not an image",
        ),
        (lambda p: made(p / "empty.txt", b""), "is empty"),
        (lambda p: made(p / "scan.pdf", minimal_pdf("")), "no text in it"),
    ],
    ids=["missing", "folder", "binary", "corrupt-pdf", "broken-image", "empty", "scanned-pdf"],
)
def test_what_cannot_be_attached_says_why(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(AttachmentError, match=words) as caught:
        prepare_file(path)
    assert path.name in str(caught.value) or str(path) in str(caught.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.mov"
    with open(path, "wb") as f:
        f.truncate(2 * 1024**3)  # 2 GB, sparse: nothing is read to refuse it
    with pytest.raises(AttachmentError, match="files up to"):
        prepare_file(path)
    assert MAX_FILE_BYTES < 2 * 1024**3


def test_a_decompression_bomb_is_refused():
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")  # 144 million pixels in a few KB
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(AttachmentError, match="too large an image"):
        prepare_bytes(bomb.getvalue(), "bomb.png")


def test_symlinks_are_followed_only_to_regular_files(tmp_path):
    (tmp_path / "real.txt").write_text("hello")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    assert prepare_file(tmp_path / "link.txt").part.text == "hello"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dirlink").symlink_to(tmp_path / "dir")
    with pytest.raises(AttachmentError, match="folder"):
        prepare_file(tmp_path / "dirlink")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(AttachmentError, match="no file"):
        prepare_file(tmp_path / "dangling")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(AttachmentError, match="not a regular file"):
        prepare_file(tmp_path / "fifo")


def test_kept_once_private_and_freed_when_nothing_uses_them(tmp_path):
    store = AttachmentStore(tmp_path / "attachments")
    first = store.put(b"same bytes")
    assert store.put(b"same bytes") == first
    files = [p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "attachments").stat().st_mode & 0o777) == "0o700"
    other = store.put(b"other")
    assert store.keep_only({other}) == 1 and store.get(first) is None and store.get(other) == b"other"


def test_the_request_carries_images_and_documents_and_again_next_turn(chat, fake_server, tmp_path):
    services, conversation = chat
    photo = prepare_bytes(photo_with_gps(800, 600, orientation=1), "cat.jpg")
    report = prepare_bytes(minimal_pdf("Revenue grew"), "report.pdf")
    fake_server.queue(Reply(body=text_stream(["A cat."])), Reply(body=text_stream(["Yes."])))

    async def two_turns():
        await services.session.stream(services.session.prepare_send(conversation, "What is this?", [photo, report]))
        await services.session.stream(services.session.prepare_send(conversation, "Sure?"))

    asyncio.run(two_turns())
    first, second = fake_server.requests[-2:]
    content = first["messages"][0]["content"]
    assert content[0] == {
        "type": "text",
        "text": '<document name="report.pdf">\nRevenue grew\n</document>\n\nWhat is this?',
    }
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == photo.data  # the bytes checked above are the bytes sent
    assert second["messages"][0]["content"] == content  # the API keeps no state: it goes again
    # Kept: once, with the message, searchable by name and by text.
    store = services.store
    user = store.tree(conversation.id).path_to(store.conversation(conversation.id).current_leaf_id)[0]
    assert [p.name for p in user.parts[:2]] == ["cat.jpg", "report.pdf"] and user.content == "What is this?"
    assert store.attachments.get(photo.part.digest) == photo.data
    assert [h.part for h in store.search_messages("report")] == ["attachment"]
    assert [h.message_id for h in store.search_messages("revenue")] == [user.id]
    # Trash keeps them (Undo); the purge frees what nothing else uses.
    store.trash_conversation(conversation.id)
    assert store.attachments.get(photo.part.digest) is not None
    store.purge_trash()
    assert store.attachments.get(photo.part.digest) is None


def test_parts_round_trip_through_json_export(chat, tmp_path):
    from desktop_chat.core.exchange import export_json, import_json
    from desktop_chat.core.store import HistoryStore

    services, conversation = chat
    doc = prepare_bytes(b"plain notes", "notes.txt")
    services.session.prepare_send(conversation, "see notes", [doc])
    exported = json.loads(export_json(services.store))
    parts = exported["conversations"][0]["messages"][0]["parts"]
    assert parts[0]["kind"] == "attachment" and parts[0]["name"] == "notes.txt" and parts[0]["text"] == "plain notes"
    other = HistoryStore(tmp_path / "other.db")
    import_json(other, json.dumps(exported))
    message = next(m for m in other.tree(other.conversations()[0].id).messages.values() if m.role == "user")
    original = next(m for m in services.store.tree(conversation.id).messages.values() if m.role == "user")
    assert message.parts == original.parts
    assert other.attachments.get(doc.part.digest) == doc.data
    other.close()


def test_an_image_goes_through_json_export_with_its_bytes(chat, tmp_path):
    from desktop_chat.core.exchange import export_json, import_json
    from desktop_chat.core.store import HistoryStore

    services, conversation = chat
    photo = prepare_bytes(photo_with_gps(300, 200, orientation=1), "p.jpg")
    services.session.prepare_send(conversation, "look", [photo])
    other = HistoryStore(tmp_path / "other.db")
    import_json(other, export_json(services.store))
    assert other.attachments.get(photo.part.digest) == photo.data
    other.close()


def test_a_model_that_does_not_see_images_is_named_and_the_message_kept(chat, fake_server):
    services, conversation = chat
    body = b'{"error": {"message": "Invalid content type. image_url is only supported by certain models.", "type": "invalid_request_error"}}'
    fake_server.queue(Reply(status=400, headers={"content-type": "application/json"}, body=[body]))
    photo = prepare_bytes(photo_with_gps(64, 48, orientation=1), "p.jpg")
    pending = services.session.prepare_send(conversation, "what is it?", [photo])
    outcome = asyncio.run(services.session.stream(pending))
    assert outcome.failure is not None and "The model 'test-model'" in outcome.failure.message
    assert "does not take images" in outcome.failure.message and "Retry" in outcome.failure.message
    user = services.store.message(pending.reply.parent_id)
    assert user.content == "what is it?" and user.parts[0].name == "p.jpg"  # kept, to send elsewhere


def test_exports_show_what_was_attached(chat):
    from desktop_chat.core.exchange import export_html, export_markdown

    services, conversation = chat
    photo = prepare_bytes(photo_with_gps(120, 90, orientation=1), "cat.jpg")
    notes = prepare_bytes(b"<script>alert(1)</script> plain notes", "notes.txt")
    services.session.prepare_send(conversation, "look", [photo, notes])
    markdown = export_markdown(services.store)
    assert "_Attached: cat.jpg, notes.txt_\n\nlook" in markdown
    page = export_html(services.store)
    assert f'<img src="data:image/jpeg;base64,{base64.b64encode(photo.data).decode()}" alt="cat.jpg"' in page
    assert "<summary>notes.txt</summary><pre>&lt;script&gt;alert(1)&lt;/script&gt; plain notes</pre>" in page
    assert "img-src data:" in page and "<script>" not in page  # the page still loads nothing from anywhere


# Encrypted PDFs: made by qpdf (apt-get install qpdf) from a PDF of ours, as real tools encrypt.


def has_qpdf() -> bool:
    import shutil

    return shutil.which("qpdf") is not None


needs_qpdf = pytest.mark.skipif(not has_qpdf(), reason="needs qpdf (apt-get install qpdf)")
ENCRYPTIONS = {
    "AES-256": ["256"],
    "AES-128": ["128", "--use-aes=y"],
    "RC4-128": ["128", "--use-aes=n"],
    "RC4-40": ["40"],
}


def encrypted_pdf(path, text: str, user_password: str, how: str = "AES-256", *permissions: str):
    import subprocess

    plain = path.with_name("plain-" + path.name)
    plain.write_bytes(minimal_pdf(text))
    bits, *extra = ENCRYPTIONS[how]
    weak = [] if how.startswith("AES") else ["--allow-weak-crypto"]  # (qpdf 11 writes RC4 only when asked)
    subprocess.run(
        ["qpdf", *weak, "--encrypt", user_password, "owner-secret", bits, *extra, *permissions, "--", plain, path],
        check=True,
        capture_output=True,
        timeout=60,
    )
    data = path.read_bytes()
    # Really encrypted: an /Encrypt dictionary, and the text no longer in the clear.
    assert b"/Encrypt" in data and text.encode() not in data
    return path


@needs_qpdf
@pytest.mark.parametrize("how", list(ENCRYPTIONS))
def test_a_pdf_locked_with_a_password_is_refused_saying_so(tmp_path, how):
    locked = encrypted_pdf(tmp_path / "Q3 report.pdf", "Quarterly revenue grew", "hunter2", how)
    with pytest.raises(AttachmentError) as refused:
        prepare_file(locked)
    assert str(refused.value) == "Q3 report.pdf is a PDF locked with a password; open it and save a copy without one."
    with pytest.raises(AttachmentError, match=r"^pasted\.pdf is a PDF locked with a password"):
        prepare_bytes(locked.read_bytes(), "pasted.pdf")


@needs_qpdf
@pytest.mark.parametrize(
    "permissions",
    [(), ("--extract=n", "--print=none", "--modify=none")],
    ids=["open", "owner-restricted"],
)
def test_a_pdf_encrypted_with_an_empty_user_password_is_read(tmp_path, permissions):
    # Such a PDF opens without a password (PDFium tries the empty one). The owner's
    # restrictions (no copying of text, no printing) are flags for viewers; PDFium does not
    # enforce them, and the user's own file is read as any other.
    opened = encrypted_pdf(tmp_path / "minutes.pdf", "The board met on Tuesday", "", "AES-256", *permissions)
    prepared = prepare_file(opened)
    assert prepared.part.text == "The board met on Tuesday" and prepared.part.source == "application/pdf"
