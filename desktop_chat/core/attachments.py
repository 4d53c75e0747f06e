"""Files attached to a message: images for models that see, documents as text.

`prepare_file` (or `prepare_bytes`) turns a file into what is kept and sent:
- an image is decoded (Pillow, imported on first use), turned upright by its EXIF
  orientation, scaled so its longer side is at most MAX_IMAGE_SIDE, and encoded again
  with no metadata at all (no EXIF, GPS, XMP or PNG text): PNG when it has transparency or
  came as a lossless screenshot format, JPEG for photos; never WebP (llama.cpp cannot
  read it);
- a document becomes its text, here on this computer: PDF (pypdfium2), Word, Excel and
  PowerPoint files (.docx, .xlsx, .pptx: `office.py`, markdown-ish), HTML (as text), and
  plain text or source code in whatever encoding it is in (charset-normalizer).
Anything else, and anything that cannot be read, is refused with a message naming the
file; nothing is sent.

What is kept goes into `AttachmentStore`: content-addressed files (SHA-256) in the data
folder, 0600 in 0700 folders, the same bytes kept once however often they are attached.
"""

from __future__ import annotations

import base64
import hashlib
import io
import stat
from dataclasses import dataclass
from pathlib import Path

from desktop_chat.errors import DesktopChatError

from .conversation import AttachmentPart
from .files import write_private

# Said up front, before anything is read: larger files are refused.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_SIDE = 2048
# Pillow's guard against decompression bombs: an image of more pixels is refused.
MAX_IMAGE_PIXELS = 60_000_000
# Formats a screenshot comes in: kept lossless (PNG).
LOSSLESS = {"PNG", "GIF", "BMP", "TIFF", "ICO", "PPM"}
JPEG_QUALITY = 88
TEXT_SUFFIXES = {".html", ".htm", ".xhtml"}


class AttachmentError(DesktopChatError):
    """A file that cannot be attached; the message names it and says why."""


@dataclass(frozen=True)
class Prepared:
    """An attachment ready to keep and send: its part and the bytes kept."""

    part: AttachmentPart
    data: bytes


def prepare_file(path: Path | str) -> Prepared:
    """Read and prepare a file, or raise AttachmentError with a clear reason."""
    path = Path(path)
    name = path.name or str(path)
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            target = path.resolve(strict=True)
            info = target.stat()
        else:
            target = path
    except FileNotFoundError:
        raise AttachmentError(f"There is no file {path}.") from None
    except OSError as exc:
        raise AttachmentError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise AttachmentError(f"{name} is a folder; attach the files in it instead.")
    if not stat.S_ISREG(info.st_mode):
        raise AttachmentError(f"{name} is not a regular file.")
    if info.st_size > MAX_FILE_BYTES:
        raise AttachmentError(f"{name} is {_size(info.st_size)}; files up to {_size(MAX_FILE_BYTES)} can be attached.")
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise AttachmentError(f"{name} cannot be read: {exc.strerror or exc}.") from None
    return prepare_bytes(data, name)


def prepare_bytes(data: bytes, name: str) -> Prepared:
    """Prepare what a file (or a paste, or stdin) holds, named `name`."""
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentError(f"{name} is {_size(len(data))}; files up to {_size(MAX_FILE_BYTES)} can be attached.")
    if not data:
        raise AttachmentError(f"{name} is empty.")
    if data.startswith(b"%PDF"):
        return _document(name, _pdf_text(data, name), "application/pdf", data)
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):  # a zip; an OLE compound file
        from .office import office_document

        office = office_document(data, name)  # None: a zip or OLE file that is no Office file
        if office is not None:
            return _document(name, office[0], office[1], data)
    if _looks_like_image(data):
        return _image(data, name)
    text = _decoded(data, name)
    if Path(name).suffix.lower() in TEXT_SUFFIXES or text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        text = html_text(text)
    return _document(name, text, "text/plain", data)


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}".replace(".0 ", " ")
        count /= 1024  # type: ignore[assignment]
    return f"{count} bytes"


# Images

_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


def _looks_like_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _without_damaged_extras(data: bytes) -> bytes | None:
    """A PNG with its damaged ancillary chunks (a colour profile, text) left out: what
    browsers show of it, and Pillow refuses whole ("bad header checksum in b'iCCP'", as in
    the MCP reference server's own sample image). None when nothing was dropped."""
    import struct
    import zlib

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    kept, at, dropped = [data[:8]], 8, False
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        end = at + 12 + length
        if end > len(data):
            return None
        kind, body, (crc,) = data[at + 4 : at + 8], data[at + 8 : end - 4], struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc and kind[:1].islower():
            dropped = True
        else:
            kept.append(data[at:end])
        at = end
    return b"".join(kept) if dropped else None


def _image(data: bytes, name: str) -> Prepared:
    from PIL import UnidentifiedImageError

    try:
        return _image_from(data, name)
    except AttachmentError:
        repaired = _without_damaged_extras(data)
        if repaired is None:
            raise
        try:
            return _image_from(repaired, name)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise AttachmentError(f"{name} is not an image that can be read.") from None


def _image_from(data: bytes, name: str) -> Prepared:
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Past MAX_IMAGE_PIXELS Pillow only warns (it errs at twice that): refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                source_format = opened.format or ""
                opened.load()
                image = ImageOps.exif_transpose(opened) or opened
                image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise AttachmentError(
            f"{name} is too large an image to open safely (more than {MAX_IMAGE_PIXELS:,} pixels)."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise AttachmentError(f"{name} is not an image that can be read ({exc}).") from None
    lossless = source_format in LOSSLESS or "A" in image.getbands() or "transparency" in image.info
    image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.LANCZOS)
    mode = ("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB") if lossless else "RGB"
    pixels = image.convert(mode)
    # A new image from the pixels alone: nothing of the source's info (EXIF with GPS, XMP,
    # ICC, PNG text chunks) can go along.
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if lossless:
        clean.save(out, "PNG", optimize=True)
        mime, suffix = "image/png", ".png"
    else:
        # (Not optimize=True: 2% smaller, but encoded in one call that holds the GIL, ~40 ms
        # during which the window cannot paint; benchmarks/attachments.py.)
        clean.save(out, "JPEG", quality=JPEG_QUALITY)
        mime, suffix = "image/jpeg", ".jpg"
    encoded = out.getvalue()
    part = AttachmentPart(
        name=(Path(name).stem or "image") + suffix,
        mime=mime,
        digest=_digest(encoded),
        size=len(encoded),
        width=clean.width,
        height=clean.height,
    )
    return Prepared(part, encoded)


def thumbnail_pixels(data: bytes, width: int, height: int) -> tuple[bytes, int, int] | None:
    """An image scaled to fit width x height, as RGBA bytes (and its size): for a
    thumbnail made in a worker thread. (Pillow, not Qt: Qt's image plugins decoding in two
    threads at once, one of them holding the GIL, deadlocked the window.)"""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("RGB", (width, height))  # (a JPEG decodes at a fraction of its size)
            opened.thumbnail((max(1, width), max(1, height)), Image.Resampling.BILINEAR)
            small = opened.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return small.tobytes(), small.width, small.height


def data_url(part: AttachmentPart, data: bytes) -> str:

    return f"data:{part.mime};base64,{base64.b64encode(data).decode('ascii')}"


def _digest(data: bytes) -> str:
    # (hashlib on first use: it costs the first paint ~3 ms to import)

    return hashlib.sha256(data).hexdigest()


# Documents


def _document(name: str, text: str, source_mime: str, data: bytes) -> Prepared:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise AttachmentError(f"{name} has no text to send.")
    encoded = text.encode("utf-8")
    part = AttachmentPart(
        name=name,
        mime="text/plain",
        digest=_digest(encoded),
        size=len(encoded),
        text=text,
        source=source_mime,
    )
    return Prepared(part, encoded)


def _pdf_text(data: bytes, name: str) -> str:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        reason = str(exc).lower()
        if "password" in reason:
            raise AttachmentError(
                f"{name} is a PDF locked with a password; open it and save a copy without one."
            ) from None
        raise AttachmentError(f"{name} is not a PDF that can be read ({exc}).") from None
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        document.close()
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise AttachmentError(
            f"{name} has no text in it (a scanned PDF is pictures of pages); attach the pages as images instead."
        )
    return text


def _decoded(data: bytes, name: str) -> str:
    """Text in whatever encoding it came in; binary data is refused."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        guesses = list(from_bytes(data[:200_000]))
        if not guesses or b"\x00" in data[:8192]:
            raise AttachmentError(f"{name} is neither an image nor a document that can be read as text.") from None
        best = guesses[0]
        # Western text in Windows' code page reads as well in its neighbours (cp1250,
        # cp1257): between equals, the most used of them.
        tied = [g.encoding for g in guesses if (g.chaos, g.coherence) == (best.chaos, best.coherence)]
        text = data.decode("cp1252" if "cp1252" in tied else best.encoding, errors="replace")
    if "\x00" in text[:8192]:
        raise AttachmentError(f"{name} is neither an image nor a document that can be read as text.")
    return text


def html_text(markup: str) -> str:
    """The text of an HTML page (scripts and styles left out), one line per block."""
    from html.parser import HTMLParser

    blocks = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre"}

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.out: list[str] = []
            self.hidden = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in ("script", "style", "template", "noscript"):
                self.hidden += 1
            elif tag in blocks:
                self.out.append("\n")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style", "template", "noscript"):
                self.hidden = max(0, self.hidden - 1)
            elif tag in blocks:
                self.out.append("\n")

        def handle_data(self, data: str) -> None:
            if not self.hidden:
                self.out.append(data)

    parser = Text()
    parser.feed(markup)
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return "\n".join(line for line in lines if line)


def document_for_model(part: AttachmentPart, limit: int) -> str:
    """A document as the model gets it: wrapped with its name, cut at `limit` characters
    (core/budget.py) with a note saying how much was sent."""
    text = part.text
    note = ""
    if len(text) > limit:
        note = f"\n[Only the first {limit:,} of {len(text):,} characters of this document were sent.]"
        text = text[:limit]
    return f'<document name="{part.name}">\n{text}{note}\n</document>'


# Keeping them


class AttachmentStore:
    """Attachments by their SHA-256, each kept once, under `root` (0700), files 0600; in
    memory when there is no root (a history that is not kept: `ask -n`)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._memory: dict[str, bytes] = {}

    def path(self, digest: str) -> Path:
        if self.root is None:
            raise ValueError("attachments kept in memory have no path")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 digest: {digest[:80]!r}")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = _digest(data)
        if self.root is None:
            self._memory[digest] = data
            return digest
        target = self.path(digest)
        if not target.exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.parent.mkdir(exist_ok=True, mode=0o700)
            write_private(target, data)
        return digest

    def get(self, digest: str) -> bytes | None:
        if self.root is None:
            return self._memory.get(digest)
        try:
            return self.path(digest).read_bytes()
        except (OSError, ValueError):
            return None

    def keep_only(self, used: set[str]) -> int:
        """Delete what no message uses any more; how many files went."""
        if self.root is None:
            gone = [d for d in self._memory if d not in used]
            for digest in gone:
                del self._memory[digest]
            return len(gone)
        removed = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for file in folder.iterdir():
                if file.name not in used:
                    try:
                        file.unlink()
                        removed += 1
                    except OSError:
                        pass
        return removed
