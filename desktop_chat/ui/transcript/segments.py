"""The widgets of one message's body: a text segment (a few markdown blocks in a read-only
document) and a code segment (a header bar with the language and Copy, and the code in a
box that scrolls sideways on its own). A message shows its segments one under the other.

Each segment is rendered from its own source and the message's references, and nothing
else: whether it arrived in pieces or at once, the same segment gives the same document.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontInfo,
    QGuiApplication,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QTextBrowser, QToolButton, QWidget

from desktop_chat.core.markdown import MarkdownRenderer, Palette, highlight
from desktop_chat.core.segments import Segment
from desktop_chat.ui.icons import icon

# Space between two segments of a message: about a paragraph's spacing.
SEGMENT_GAP = 10
# Lines of prose, in percent of the font's line spacing.
LINE_HEIGHT = 135
CODE_PADDING = 10


class DocumentView(QTextBrowser):
    """A read-only document as tall as its text: it never scrolls up and down itself (the
    transcript does), never loads anything a document names, and passes on the links the
    user clicks."""

    linkActivated = Signal(str)
    # A formula it shows was typeset: its height may have changed.
    mathTypeset = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self.document().setDocumentMargin(0)
        self.document().setUndoRedoEnabled(False)
        # Transparent: the message (a tinted bubble, say) shows through.
        self.viewport().setAutoFillBackground(False)
        self.anchorClicked.connect(lambda url: self.linkActivated.emit(url.toString()))

    # Model output is data: nothing it names is ever fetched. A formula (`math:`) is typeset
    # here, in the app's own helper process.
    def loadResource(self, type: int, name: QUrl | str) -> object:  # noqa: A002
        address = name.toString() if isinstance(name, QUrl) else str(name)
        if address.startswith("math:"):
            from desktop_chat.ui.math_images import math_images

            return math_images().image(address, self)
        return None

    def math_ready(self, name: str, image: QImage) -> None:
        """A formula this document shows is typeset: show it, and say the height changed."""
        document = self.document()
        document.addResource(QTextDocument.ResourceType.ImageResource.value, QUrl(name), image)
        document.markContentsDirty(0, document.characterCount())
        self.mathTypeset.emit()

    def createMimeDataFromSelection(self) -> QMimeData:
        """Copied text gives a formula's source, not the image's placeholder character."""
        data = QMimeData()
        data.setText(shown_text(self.document(), self.textCursor()))
        return data

    def height_for(self, width: int) -> int:
        """Its height laid out `width` pixels wide (the width it is then given). The width is
        set on the widget, not the document: a QTextEdit that wraps at its own width would
        lay the document out again at whatever width it has while hidden."""
        self.ensurePolished()
        if self.lineWrapMode() != QTextBrowser.LineWrapMode.FixedPixelWidth or self.lineWrapColumnOrWidth() != width:
            self.setLineWrapMode(QTextBrowser.LineWrapMode.FixedPixelWidth)
            self.setLineWrapColumnOrWidth(width)
        return math.ceil(self.document().size().height())

    def wheelEvent(self, event: Any) -> None:
        event.ignore()  # the transcript scrolls, not the text


OBJECT = "\ufffc"


def shown_text(document: QTextDocument, selection: QTextCursor | None = None) -> str:
    """The document's text (or the selection's) with each formula as its source (the image's
    alt text) instead of the object replacement character Qt gives an image."""
    start, end = (selection.selectionStart(), selection.selectionEnd()) if selection is not None else (0, 1 << 30)
    pieces: list[str] = []
    block = document.begin()
    while block.isValid():
        if block.position() > end:
            break
        if pieces:
            pieces.append("\n")
        fragment = block.begin()
        while not fragment.atEnd():
            part = fragment.fragment()
            low, high = max(start, part.position()), min(end, part.position() + part.length())
            if low < high:
                text = part.text()[low - part.position() : high - part.position()]
                if OBJECT in text and part.charFormat().isImageFormat():
                    alt = part.charFormat().property(QTextFormat.Property.ImageAltText)
                    text = text.replace(OBJECT, str(alt) if alt else "")
                pieces.append(text)
            fragment += 1
        block = block.next()
    text = "".join(pieces)
    return text.strip("\n") if selection is not None else text


def set_spacing(browser: QTextBrowser) -> None:
    """Lines of prose a little apart (easier to read than Qt's tight default), and no space
    above the first block or below the last: the gaps between segments and messages are
    the view's, the same however the text was cut into segments."""
    document = browser.document()
    cursor = QTextCursor(document)
    cursor.select(QTextCursor.SelectionType.Document)
    spaced = QTextBlockFormat()
    spaced.setLineHeight(LINE_HEIGHT, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
    cursor.mergeBlockFormat(spaced)
    cursor = QTextCursor(document)
    first = cursor.blockFormat()
    if first.topMargin():
        first.setTopMargin(0)
        cursor.setBlockFormat(first)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    last = cursor.blockFormat()
    if last.bottomMargin():
        last.setBottomMargin(0)
        cursor.setBlockFormat(last)


@lru_cache(maxsize=512)
def block_html(
    source: str,
    references: tuple[tuple[str, str, str], ...],
    palette: Palette,
    code_offset: int,
    math_size: float = 16.0,
) -> tuple[str, tuple[str, ...]]:
    """One block as HTML (and the code blocks inside it, for their Copy links), given the
    references it uses. A block is final once the next ones arrive: while a reply streams,
    only the open ones are rendered again."""
    known = {label: {"href": href, "title": title} for label, href, title in references}
    rendered = MarkdownRenderer(palette, math="image", math_size=math_size).render(
        source, code_offset=code_offset, references=known
    )
    return rendered.html, tuple(rendered.code_blocks)


class TextSegmentView(DocumentView):
    """Markdown blocks (not code at the top level) in one document."""

    kind = "text"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.segment: Segment | None = None
        self.labels: frozenset[str] = frozenset()
        self.code_blocks: list[str] = []
        self.has_math = False  # (a typeset formula is an image: U+FFFC to a screen reader)
        self.linkActivated.connect(self._copy_code)

    def show_segment(self, segment: Segment, references: dict[str, Any], palette: Palette) -> None:
        parts: list[str] = []
        code_blocks: list[str] = []
        for block in segment.blocks:
            used = tuple(
                sorted(
                    (label, references[label]["href"], references[label]["title"])
                    for label in block.labels
                    if label in references
                )
            )
            html, codes = block_html(block.source, used, palette, len(code_blocks), self._math_size())
            parts.append(html)
            code_blocks.extend(codes)
        self.segment = segment
        self.labels = segment.labels()
        self.code_blocks = code_blocks
        html = "".join(parts)
        self.has_math = 'src="math:' in html
        self.setHtml(html)
        set_spacing(self)

    def body_document(self) -> QTextDocument:
        return self.document()

    def _math_size(self) -> float:
        """Formulas at the text's own size, in pixels."""
        # (STIX Two Math runs smaller than the UI fonts: its x-height is 0.48 em against 0.55)
        return round(QFontInfo(self.font()).pixelSize() * 1.15, 1)

    def _copy_code(self, href: str) -> None:
        # A code block inside a list or a quote stays in its text, with a Copy link.
        if href.startswith("copy:"):
            index = int(href.split(":", 1)[1])
            if 0 <= index < len(self.code_blocks):
                QGuiApplication.clipboard().setText(self.code_blocks[index])


class CodeBody(DocumentView):
    """The code of a code segment: lines never wrap; a long one scrolls this box sideways."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().setDocumentMargin(CODE_PADDING)

    def height_for(self, width: int) -> int:
        self.ensurePolished()
        document = self.document()
        if document.textWidth() != -1:  # (set again, it lays the code out again)
            document.setTextWidth(-1)  # no wrapping: as wide as the longest line
        height = math.ceil(document.size().height())
        if document.idealWidth() > width:
            height += self.horizontalScrollBar().sizeHint().height()
        return height

    def wheelEvent(self, event: Any) -> None:
        # Sideways scrolling (a touchpad, Shift+wheel) is this box's; the rest the transcript's.
        if event.angleDelta().x() and self.horizontalScrollBar().maximum():
            QTextBrowser.wheelEvent(self, event)
        else:
            event.ignore()


class CodeSegmentView(QFrame):
    """A code block: a bar with its language and Copy, over the highlighted code."""

    kind = "code"
    linkActivated = Signal(str)
    copied = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.segment: Segment | None = None
        self.labels: frozenset[str] = frozenset()
        self.code = ""
        self._palette = Palette()
        self.bar = QWidget(self)
        self.language = QLabel(self.bar)
        self.language.setTextFormat(Qt.TextFormat.PlainText)
        self.copy_button = QToolButton(self.bar)
        self.copy_button.setText("Copy")
        self.copy_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.copy_button.setAutoRaise(True)
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.clicked.connect(self.copy)
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(CODE_PADDING, 0, 4, 0)
        row.addWidget(self.language, 1)
        row.addWidget(self.copy_button)
        self.body = CodeBody(self)
        self.body.linkActivated.connect(self.linkActivated)

    def show_segment(self, segment: Segment, references: dict[str, Any], palette: Palette) -> None:
        block = segment.blocks[0]
        self.segment = segment
        code = block.content[:-1] if block.content.endswith("\n") else block.content
        self.code = code
        language = block.language
        self.language.setText(language or "code")
        name = f"{language} code" if language else "code"
        self.copy_button.setAccessibleName(f"Copy {name}")
        self.copy_button.setToolTip(f"Copy the {name}")
        self.body.setAccessibleName(name.capitalize())
        self.set_palette(palette)
        body = highlight(code, language, palette.pygments_style)
        self.body.setHtml(f'<pre style="margin:0; font-family:monospace; color:{palette.code_foreground}">{body}</pre>')

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette
        colours = self.palette()
        colours.setColor(QPalette.ColorRole.WindowText, QColor(palette.muted))
        colours.setColor(QPalette.ColorRole.ButtonText, QColor(palette.muted))
        self.bar.setPalette(colours)
        self.copy_button.setIcon(icon("copy", palette.muted))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code)
        self.copied.emit()

    def height_for(self, width: int) -> int:
        return self.bar.sizeHint().height() + self.body.height_for(width)

    def resizeEvent(self, event: Any) -> None:
        bar_height = self.bar.sizeHint().height()
        self.bar.setGeometry(0, 0, self.width(), bar_height)
        self.body.setGeometry(0, bar_height, self.width(), self.height() - bar_height)
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(self._palette.code_background))
        painter.drawRoundedRect(self.rect(), 8, 8)
        # The bar a shade apart from the code.
        bar = QColor(self._palette.quote_border)
        bar.setAlpha(60)
        painter.setBrush(bar)
        painter.setClipRect(0, 0, self.width(), self.bar.height())
        painter.drawRoundedRect(self.rect(), 8, 8)

    def body_document(self) -> QTextDocument:
        return self.body.document()


SegmentView = TextSegmentView | CodeSegmentView


def new_segment_view(code: bool, parent: QWidget) -> SegmentView:
    return CodeSegmentView(parent) if code else TextSegmentView(parent)


def set_segment_font(view: SegmentView, font: QFont) -> None:
    if isinstance(view, CodeSegmentView):
        view.body.setFont(font)
        view.bar.setFont(font)
    else:
        view.setFont(font)
