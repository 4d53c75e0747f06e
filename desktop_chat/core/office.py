"""Word, Excel and PowerPoint files (Office Open XML: .docx, .xlsx, .pptx) as text.

`office_document(data, name)` is called by `attachments.prepare_bytes` for a zip or an OLE
compound file. It returns the text, markdown-ish (headings as `#`, lists as `-`/`1.`, tables
as pipe tables, each sheet and slide under a heading of its own), with the file's real
mime type; or None when the file is some other zip or OLE file. The readers are python-docx,
openpyxl and python-pptx, imported on first use (about 70, 120 and 120 ms).

What is refused, with the file's name: a damaged file; one locked with a password (an
encrypted OOXML file is an OLE compound file holding `EncryptionInfo` and
`EncryptedPackage`); the old binary .doc/.xls/.ppt (OLE too: save it as .docx/.xlsx/.pptx);
a zip bomb (what the parts say they unpack to is checked before anything is parsed, and
zipfile never reads past what a part says). A workbook is streamed row by row and read up
to MAX_SHEET_ROWS rows a sheet and MAX_CELLS cells in all; the text says what was left out.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attachments import AttachmentError

if TYPE_CHECKING:
    import zipfile

    from docx.text.paragraph import Paragraph
    from pptx.shapes.base import BaseShape

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Zip bombs. A Word or PowerPoint file is read whole into memory (every part, and its XML as
# a tree): its parts may unpack to MAX_LOADED_BYTES in all. A workbook's sheets are streamed,
# so only its other parts (shared strings, styles) count against that; with its sheets it
# may unpack to MAX_UNZIPPED_BYTES.
MAX_LOADED_BYTES = 256 * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_FILES = 100_000
# A workbook: rows read from each sheet (empty ones too), cells read in all, columns a row.
MAX_SHEET_ROWS = 10_000
MAX_CELLS = 100_000
MAX_COLUMNS = 256


@dataclass(frozen=True)
class Kind:
    label: str  # "a Word document"
    suffix: str  # what to save it as
    mime: str  # the file's mime type (the attachment's source)
    main: str  # where its main part is in the zip


WORD = Kind(
    "a Word document", ".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "word/"
)
EXCEL = Kind("an Excel workbook", ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xl/")
POWERPOINT = Kind(
    "a PowerPoint presentation",
    ".pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "ppt/",
)
XLSM = Kind(EXCEL.label, EXCEL.suffix, "application/vnd.ms-excel.sheet.macroEnabled.12", EXCEL.main)
PPTM = Kind(POWERPOINT.label, POWERPOINT.suffix, "application/vnd.ms-powerpoint.presentation.macroEnabled.12", "ppt/")
# The content type of the main part, in [Content_Types].xml: the kinds the readers open.
MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": WORD,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": EXCEL,
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": XLSM,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": POWERPOINT,
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": PPTM,
}
SUFFIXES = {".docx": WORD, ".xlsx": EXCEL, ".xlsm": XLSM, ".pptx": POWERPOINT, ".pptm": PPTM}
# Streams of the old binary formats, in an OLE compound file.
LEGACY_STREAMS = {
    "WordDocument": (WORD, ".doc"),
    "Workbook": (EXCEL, ".xls"),
    "Book": (EXCEL, ".xls"),
    "PowerPoint Document": (POWERPOINT, ".ppt"),
}


def office_document(data: bytes, name: str) -> tuple[str, str] | None:
    """(text, mime type) of a Word, Excel or PowerPoint file; None if `data` is none of them."""
    if data.startswith(OLE_MAGIC):
        _refuse_compound_file(data, name)
        return None
    if not data.startswith(ZIP_MAGIC):
        return None
    import zipfile

    suffix_kind = SUFFIXES.get(Path(name).suffix.lower())
    # zipfile keeps a ZipInfo (~400 bytes) for each file listed: count them first (an Office
    # file has tens to a few thousand; the signature may also turn up inside compressed data).
    if data.count(b"PK\x01\x02") > MAX_ZIP_FILES:
        raise AttachmentError(f"{name} is a zip of more than {MAX_ZIP_FILES:,} files; it was not opened.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        if suffix_kind is None:
            return None
        raise AttachmentError(f"{name} is not {suffix_kind.label} that can be read ({exc}).") from None
    with archive:
        kind = _kind(archive, name) or suffix_kind
        if kind is None:
            return None
        _check_sizes(archive, name, kind)
    reader = {WORD.main: _word_text, EXCEL.main: _excel_text, POWERPOINT.main: _powerpoint_text}[kind.main]
    try:
        text = reader(data)
    except AttachmentError:
        raise
    except Exception as exc:  # a damaged file raises anything from KeyError to lxml's XMLSyntaxError
        raise AttachmentError(f"{name} is not {kind.label} that can be read ({_reason(exc)}).") from None
    return text, kind.mime


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _kind(archive: zipfile.ZipFile, name: str) -> Kind | None:
    """The kind [Content_Types].xml names; None for a zip that is not an Office file."""
    import xml.etree.ElementTree as ElementTree

    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        return None
    if info.file_size > 1024 * 1024:  # a few KB in any real file
        raise AttachmentError(f"{name} is not an Office file that can be read (its list of parts is too large).")
    try:
        root = ElementTree.fromstring(archive.read(info))
    except (ElementTree.ParseError, ValueError, OSError, EOFError) as exc:
        raise AttachmentError(f"{name} is not an Office file that can be read ({exc}).") from None
    types = {element.get("ContentType", "") for element in root}
    for content_type, kind in MAIN_PARTS.items():
        if content_type in types:
            return kind
    # A template, a slide show or a Word file with macros: the readers do not open these.
    for kind in (WORD, EXCEL, POWERPOINT):
        if any(part.startswith(kind.main) for part in archive.namelist()):
            raise AttachmentError(
                f"{name} is {kind.label} of a kind that cannot be read here; save it as {kind.suffix} and attach that."
            )
    return None


def _check_sizes(archive: zipfile.ZipFile, name: str, kind: Kind) -> None:
    parts = archive.infolist()
    total = sum(part.file_size for part in parts)
    streamed = kind.main == EXCEL.main
    loaded = sum(p.file_size for p in parts if not (streamed and p.filename.startswith("xl/worksheets/")))
    for size, limit in ((total, MAX_UNZIPPED_BYTES), (loaded, MAX_LOADED_BYTES)):
        if size > limit:
            raise AttachmentError(
                f"{name} would unpack to {_megabytes(size)}, more than the {_megabytes(limit)} that can be read "
                "safely; it was not opened."
            )


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):,.0f} MB"


def _refuse_compound_file(data: bytes, name: str) -> None:
    """An OLE compound file: a password-locked Office file or an old binary one is refused
    with what to do; anything else (an Outlook message, an installer) is left to the caller."""
    if _has_stream(data, "EncryptedPackage") and _has_stream(data, "EncryptionInfo"):
        raise AttachmentError(f"{name} is locked with a password; open it and save a copy without one.")
    for stream, (kind, old_suffix) in LEGACY_STREAMS.items():
        if _has_stream(data, stream):
            raise AttachmentError(
                f"{name} is {kind.label} in the old {old_suffix} format, which cannot be read here; "
                f"open it and save it as {kind.suffix}, then attach that."
            )


def _has_stream(data: bytes, stream: str) -> bool:
    """Whether the compound file's directory has an entry named `stream`: directory entries
    are 128 bytes, aligned to 128 in the file, the name in UTF-16 first and its length in
    bytes (with the final NUL) at offset 64."""
    encoded = stream.encode("utf-16-le") + b"\x00\x00"
    start = data.find(encoded, 512)
    while start != -1:
        if (
            start % 128 == 0
            and start + 66 <= len(data)
            and struct.unpack_from("<H", data, start + 64)[0] == len(encoded)
        ):
            return True
        start = data.find(encoded, start + 1)
    return False


# Text


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A pipe table, the first row as its header."""
    width = max((len(row) for row in rows), default=0)
    if not width:
        return ""

    def line(cells: Sequence[str]) -> str:
        cells = [_cell(c) for c in cells] + [""] * (width - len(cells))
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line(rows[0]), "|" + " --- |" * width, *(line(row) for row in rows[1:])])


def _cell(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").replace("\v", "\n").split("\n")]
    return "<br>".join(line for line in lines if line).replace("|", "\\|")


def _join(blocks: Iterable[str]) -> str:
    return "\n\n".join(block for block in blocks if block.strip())


# Word


def _word_text(data: bytes) -> str:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    formats = _list_formats(document)
    styles: dict[str | None, tuple[int, Any]] = {}
    blocks: list[str] = []
    items: list[str] = []  # the list being read, kept together
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            blocks += ["\n".join(items), _table(rows)]
            items = []
            continue
        text = block.text.strip()
        level, style = _style(block, styles)
        item = _list_item(block, style, formats)
        if item is not None and text:
            items.append(item + text)
            continue
        blocks.append("\n".join(items))
        items = []
        blocks.append(f"{'#' * level} {text}" if level and text else text)
    blocks.append("\n".join(items))
    return _join(blocks)


def _style(paragraph: Paragraph, known: dict[str | None, tuple[int, Any]]) -> tuple[int, Any]:
    """The heading level (0 for none) and the XML element of a paragraph's style, looked up
    once for each style: python-docx's `paragraph.style` walks every style of the document
    (1 ms a paragraph; 40 s for a long report)."""
    style_id = paragraph._p.style
    if style_id not in known:
        style = paragraph.style
        # Built-in styles keep their English names in the file, whatever the language of Word.
        name = (style.name or "") if style is not None else ""
        level = 1 if name == "Title" else 0
        if name.startswith("Heading ") and name[8:].isdigit():
            level = min(int(name[8:]), 6)
        known[style_id] = (level, style.element if style is not None else None)
    return known[style_id]


def _list_formats(document: Any) -> dict[tuple[str, str], str]:
    """(numId, ilvl) -> numFmt ("bullet", "decimal", …) from the numbering part."""
    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return {}
    abstract = {}
    for node in _xpath(numbering, "./w:abstractNum"):
        levels = {lvl.get(_w("ilvl")): _xpath(lvl, "string(./w:numFmt/@w:val)") for lvl in _xpath(node, "./w:lvl")}
        abstract[node.get(_w("abstractNumId"))] = levels
    formats = {}
    for num in _xpath(numbering, "./w:num"):
        levels = abstract.get(_xpath(num, "string(./w:abstractNumId/@w:val)"), {})
        for ilvl, fmt in levels.items():
            formats[(num.get(_w("numId")), ilvl)] = fmt
    return formats


W_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _w(attribute: str) -> str:
    return "{" + W_NAMESPACE + "}" + attribute


def _xpath(element: Any, path: str) -> Any:
    return _compiled(path)(element)


@cache
def _compiled(path: str) -> Any:
    # lxml's own XPath: python-docx's `xpath` knows the prefixes only on the elements it models.
    from lxml import etree

    return etree.XPath(path, namespaces={"w": W_NAMESPACE})


def _list_item(paragraph: Paragraph, style: Any, formats: dict[tuple[str, str], str]) -> str | None:
    """The list marker of a paragraph in a list ("- ", "  1. "), or None."""
    for element in (paragraph._p, style):  # numbering: the paragraph's own, or else its style's
        if element is None:
            continue
        num_id = _xpath(element, "string(./w:pPr/w:numPr/w:numId/@w:val)")
        if num_id == "0":  # numbering taken off
            return None
        if num_id:
            ilvl = _xpath(element, "string(./w:pPr/w:numPr/w:ilvl/@w:val)") or "0"
            marker = "-" if formats.get((num_id, ilvl), "bullet") in ("bullet", "none", "") else "1."
            return "  " * min(int(ilvl) if ilvl.isdigit() else 0, 8) + marker + " "
    return None


# Excel


def _excel_text(data: bytes) -> str:
    import openpyxl
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    # Opening a sheet, openpyxl looks for its <dimension>; when there is none (files that
    # Excel did not write) it parses the whole sheet to find that out: 15 s for 150 MB.
    # The rows are read as they come here (reset_dimensions), so that look is skipped.
    ReadOnlyWorksheet._get_size = _no_size
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        budget = MAX_CELLS
        sheets: list[str] = []
        any_text = False
        for sheet in workbook.worksheets:
            title = f"## Sheet: {sheet.title}" + (" (hidden)" if sheet.sheet_state != "visible" else "")
            if budget <= 0:
                sheets.append(f"{title}\n\n[Not read: {MAX_CELLS:,} cells of this workbook were read already.]")
                continue
            rows, notes, budget = _sheet_rows(sheet, budget)
            any_text = any_text or bool(rows)
            body = _join([_table(rows) if rows else "(empty)", *notes])
            sheets.append(f"{title}\n\n{body}")
    finally:
        workbook.close()
    return _join(sheets) if any_text else ""


def _no_size(sheet: object) -> None:
    pass


def _sheet_rows(sheet: Any, budget: int) -> tuple[list[list[str]], list[str], int]:
    """A sheet's rows as text (empty rows left out, empty columns at the end too), notes
    on what was left out, and the cells left to read."""
    rows: list[list[str]] = []
    notes: list[str] = []
    wide = False
    read = 0
    # Rows as wide as their last cell, not padded to the size the sheet claims (up to 16,384).
    sheet.reset_dimensions()
    for values in sheet.iter_rows(values_only=True):
        if read >= MAX_SHEET_ROWS:
            notes.append(f"[Only the first {MAX_SHEET_ROWS:,} rows of this sheet were read; the rest were left out.]")
            break
        if budget <= 0:
            notes.append(f"[The rest of this sheet was left out: {MAX_CELLS:,} cells of this workbook were read.]")
            break
        read += 1
        cells = [_value(v) for v in values[:MAX_COLUMNS]]
        wide = wide or any(v is not None for v in values[MAX_COLUMNS:])
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            rows.append(cells)
            budget -= len(cells)
    if wide:
        notes.insert(0, f"[Columns after the first {MAX_COLUMNS} were left out.]")
    width = max((len(row) for row in rows), default=0)
    return [row + [""] * (width - len(row)) for row in rows], notes, budget


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"  # Excel's 15 digits: 0.30000000000000004 is 0.3
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# PowerPoint


def _powerpoint_text(data: bytes) -> str:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    slides: list[str] = []
    any_text = False
    for number, slide in enumerate(presentation.slides, 1):
        title_shape = slide.shapes.title
        title = _frame_text(title_shape) if title_shape is not None else ""
        title_id = title_shape.shape_id if title_shape is not None else None
        blocks = [_shape_text(shape) for shape in _in_reading_order(slide.shapes) if shape.shape_id != title_id]
        notes = ""
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.replace("\v", "\n").strip()
        any_text = any_text or bool(title or notes or any(b.strip() for b in blocks))
        heading = f"## Slide {number}" + (f": {' '.join(title.split())}" if title else "")
        slides.append(_join([heading, *blocks, f"### Notes\n\n{notes}" if notes else ""]))
    return _join(slides) if any_text else ""


def _in_reading_order(shapes: Iterable[BaseShape]) -> list[BaseShape]:
    """Top to bottom, then left to right (the order in the file is the order of drawing)."""
    return sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))


def _shape_text(shape: BaseShape) -> str:
    from pptx.shapes.graphfrm import GraphicFrame
    from pptx.shapes.group import GroupShape

    if isinstance(shape, GroupShape):
        return _join(_shape_text(inner) for inner in _in_reading_order(shape.shapes))
    if isinstance(shape, GraphicFrame) and shape.has_table:
        return _table([[cell.text for cell in row.cells] for row in shape.table.rows])
    return _frame_text(shape)


def _frame_text(shape: BaseShape) -> str:
    from pptx.shapes.autoshape import Shape

    if not isinstance(shape, Shape) or not shape.has_text_frame:
        return ""
    return str(shape.text_frame.text).replace("\v", "\n").strip()
