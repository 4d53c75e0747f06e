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


# Word, Excel and PowerPoint files, made here by the libraries' own writers.

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def word_file(path, heading: str = "Quarterly report"):
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    document.add_paragraph("Revenue grew by nine percent.")
    document.add_heading("Risks", level=2)
    document.add_paragraph("Supply of chips", style="List Bullet")
    document.add_paragraph("Exchange rates", style="List Bullet")
    document.add_paragraph("Call the bank", style="List Number")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Region", "Q1", "Q2"], ["North", "10", "12"], ["South | East", "7", "9"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    document.save(path)
    return path


def test_word_excel_and_powerpoint_files_become_markdown_text(tmp_path):
    import datetime

    import openpyxl
    import pptx
    from pptx.util import Inches

    report = prepare_file(word_file(tmp_path / "report.docx"))
    assert report.part.source == DOCX and report.part.mime == "text/plain" and report.part.name == "report.docx"
    assert report.part.text == (
        "# Quarterly report\n\nRevenue grew by nine percent.\n\n## Risks\n\n"
        "- Supply of chips\n- Exchange rates\n1. Call the bank\n\n"
        "| Region | Q1 | Q2 |\n| --- | --- | --- |\n| North | 10 | 12 |\n| South \\| East | 7 | 9 |\n\n"
        "After the table."
    )
    assert report.data == report.part.text.encode()  # what is kept is the text, not the zip

    workbook = openpyxl.Workbook()
    sales = workbook.active
    sales.title = "Sales"
    for row in (
        ["Region", "Q1", "Q2"],
        ["North", 10, 12.5],
        ["South", 0.1 + 0.2, None],
        ["Since", datetime.date(2026, 3, 1)],
    ):
        sales.append(row)
    costs = workbook.create_sheet("Costs")
    costs.append(["Item", "Amount"])
    costs.append(["Rent", 1200])
    workbook.save(tmp_path / "book.xlsx")
    book = prepare_file(tmp_path / "book.xlsx")
    assert book.part.source == XLSX
    assert book.part.text == (
        "## Sheet: Sales\n\n| Region | Q1 | Q2 |\n| --- | --- | --- |\n| North | 10 | 12.5 |\n| South | 0.3 |  |\n"
        "| Since | 2026-03-01 |  |\n\n## Sheet: Costs\n\n| Item | Amount |\n| --- | --- |\n| Rent | 1200 |"
    )

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Plan for 2027"
    first.placeholders[1].text = "Hire two engineers\nShip the desktop app"
    first.notes_slide.notes_text_frame.text = "Mention the budget."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Numbers"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Metric", (0, 1): "Value", (1, 0): "Users", (1, 1): "1,200"}.items():
        table.cell(r, c).text = value
    second.notes_slide.notes_text_frame.text = "Second slide notes."
    deck.save(tmp_path / "plan.pptx")
    plan = prepare_file(tmp_path / "plan.pptx")
    assert plan.part.source == PPTX
    assert plan.part.text == (
        "## Slide 1: Plan for 2027\n\nHire two engineers\nShip the desktop app\n\n### Notes\n\nMention the budget.\n\n"
        "## Slide 2: Numbers\n\n| Metric | Value |\n| --- | --- |\n| Users | 1,200 |\n\n### Notes\n\nSecond slide notes."
    )


def compound_file(*streams: str) -> bytes:
    """An OLE compound file (the container of .doc, .xls, .ppt and of password-locked Office
    files) holding the named streams, 4 KB of zeros each. No maintained library writes the old
    binary formats, so the container is written here: sector 0 the FAT, sector 1 the
    directory, then the streams."""
    import struct

    sector, free, end = 512, 0xFFFFFFFF, 0xFFFFFFFE
    per_stream = 4096 // sector
    fat = [0xFFFFFFFD, end]
    for index in range(len(streams)):
        first = 2 + index * per_stream
        fat += [*range(first + 1, first + per_stream), end]
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH6sIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, bytes(6), 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<109I", 0, *[free] * 108)

    def entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        return struct.pack(
            "<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, free, right, child, bytes(16), 0, 0, 0, start, size
        )

    directory = entry("Root Entry", 5, free, 1 if streams else free, end, 0)
    for index, name in enumerate(streams):
        following = index + 2 if index + 1 < len(streams) else free
        directory += entry(name, 2, following, free, 2 + index * per_stream, 4096)
    assert len(streams) <= 3  # one directory sector
    directory = directory.ljust(sector, b"\x00")
    fat_sector = struct.pack(f"<{sector // 4}I", *fat, *[free] * (sector // 4 - len(fat)))
    return header + fat_sector + directory + bytes(4096 * len(streams))


def zip_of(path, parts: dict[str, bytes]):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def with_part(path, part: str, data: bytes):
    """The Office file at `path` with one of its parts replaced."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    return zip_of(path, {**parts, part: data})


def content_types(main: str) -> bytes:
    """An Office file's list of parts, naming its main part's content type."""
    return (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/main.xml" ContentType="application/vnd.openxmlformats-officedocument.{main}.main+xml"/>'
        "</Types>"
    ).encode()


def locked_word_file(path):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = word_file(path.with_name("plain.docx"))
    with open(plain, "rb") as source, open(path, "wb") as out:
        OOXMLFile(source).encrypt("secret", out)
    return path


def empty_office_file(path):
    import docx
    import openpyxl
    import pptx

    {".docx": docx.Document, ".xlsx": openpyxl.Workbook, ".pptx": pptx.Presentation}[path.suffix]().save(path)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: made(p / "cut.docx", word_file(p / "whole.docx").read_bytes()[:5000]), "not a Word document that can be read"),
        (
            lambda p: with_part(word_file(p / "bad.docx"), "word/document.xml", b'<w:document xmlns:w="x"><w:body>'),
            "not a Word document that can be read",
        ),
        (
            lambda p: zip_of(p / "bad.xlsx", {"[Content_Types].xml": content_types("spreadsheetml.sheet")}),
            "not an Excel workbook that can be read",
        ),
        (lambda p: made(p / "cut.pptx", b"PK\x03\x04" + os.urandom(3000)), "not a PowerPoint presentation that can be read"),
        (lambda p: locked_word_file(p / "locked.docx"), "is locked with a password; open it and save a copy without one"),
        (lambda p: made(p / "old.doc", compound_file("WordDocument", "1Table")), "old .doc format.*save it as .docx"),
        (lambda p: made(p / "old.xls", compound_file("Workbook")), "old .xls format.*save it as .xlsx"),
        (lambda p: made(p / "old.ppt", compound_file("Current User", "PowerPoint Document")), "old .ppt format.*save it as .pptx"),
        (lambda p: made(p / "mail.msg", compound_file("__properties_version1.0")), "neither an image nor a document"),
        (lambda p: zip_of(p / "code.zip", {"main.py": b"print(1)"}), "neither an image nor a document"),
        (lambda p: empty_office_file(p / "empty.docx"), "has no text to send"),
        (lambda p: empty_office_file(p / "empty.xlsx"), "has no text to send"),
        (lambda p: empty_office_file(p / "empty.pptx"), "has no text to send"),
    ],
    ids=[
        "truncated-docx", "bad-xml-docx", "xlsx-without-workbook", "garbage-pptx", "password", "doc", "xls", "ppt",
        "other-ole-file", "other-zip", "empty-docx", "empty-xlsx", "empty-pptx",
    ],
)  # fmt: skip
def test_office_files_that_cannot_be_read_say_why(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(AttachmentError, match=words) as caught:
        prepare_file(path)
    assert str(caught.value).startswith(path.name)


def test_an_office_zip_bomb_is_refused_before_it_is_parsed(tmp_path):
    import zipfile

    path = word_file(tmp_path / "bomb.docx")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("word/media/zeros.bin", "w", force_zip64=True) as part:
            zeros = bytes(1024 * 1024)
            for _ in range(300):  # 300 MB that compress to about 1.3 MB
                part.write(zeros)
    assert path.stat().st_size < 3 * 1024 * 1024
    with pytest.raises(
        AttachmentError, match=r"^bomb.docx would unpack to 30\d MB, more than the 256 MB that can be read safely"
    ):
        prepare_file(path)


def test_a_zip_of_too_many_files_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    from desktop_chat.core import office

    monkeypatch.setattr(office, "MAX_ZIP_FILES", 50)
    path = zip_of(tmp_path / "many.docx", {f"part{n}.xml": b"<a/>" for n in range(51)})
    with pytest.raises(AttachmentError, match="^many.docx is a zip of more than 50 files; it was not opened"):
        prepare_file(path)


def test_a_huge_spreadsheet_is_read_in_part_and_says_so(tmp_path, monkeypatch):
    import openpyxl

    from desktop_chat.core import office

    monkeypatch.setattr(office, "MAX_SHEET_ROWS", 100)
    monkeypatch.setattr(office, "MAX_CELLS", 450)
    workbook = openpyxl.Workbook(write_only=True)
    tall = workbook.create_sheet("Tall")
    for number in range(1, 151):
        tall.append([f"row {number}", number])
    wide = workbook.create_sheet("Wide")
    for number in range(1, 4):
        wide.append([f"wide {number}", *range(office.MAX_COLUMNS + 50)])
    workbook.create_sheet("Never read").append(["unseen"])
    workbook.save(tmp_path / "huge.xlsx")
    text = prepare_file(tmp_path / "huge.xlsx").part.text
    tall_text, wide_text, never = text.split("## Sheet: ")[1:]
    # 100 rows of the first sheet (200 cells), then the budget of 450 cells runs out in the second.
    assert "| row 100 | 100 |" in tall_text and "row 101" not in tall_text
    assert tall_text.endswith("[Only the first 100 rows of this sheet were read; the rest were left out.]\n\n")
    assert "| wide 1 |" in wide_text and "wide 2 " not in wide_text and f"| {office.MAX_COLUMNS - 2} |" in wide_text
    assert "[Columns after the first 256 were left out.]" in wide_text
    assert "[The rest of this sheet was left out: 450 cells of this workbook were read.]" in wide_text
    assert never == "Never read\n\n[Not read: 450 cells of this workbook were read already.]"


def test_a_png_with_a_damaged_extra_chunk_is_read_without_it():
    """As server-everything's own sample image: a colour profile whose checksum is wrong
    (browsers show such a PNG; Pillow refuses it whole)."""
    import io
    import struct

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a note")
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(out, "PNG", pnginfo=info)
    data = bytearray(out.getvalue())
    at = data.index(b"tEXt") - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    data[at + 8 + length] ^= 0xFF  # (its CRC, wrong now)
    prepared = prepare_bytes(bytes(data), "damaged.png")
    assert (prepared.part.width, prepared.part.height) == (30, 20)
    assert Image.open(io.BytesIO(prepared.data)).getpixel((5, 5))[:3] == (200, 10, 10)
    # A damaged picture itself (a critical chunk) is still refused.
    at = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    data[at + 8 + length] ^= 0xFF
    data[data.index(b"IDAT") + 10] ^= 0xFF
    with pytest.raises(AttachmentError):
        prepare_bytes(bytes(data), "broken.png")
