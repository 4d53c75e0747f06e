"""ToolCallsView: the tools a reply called, a card each, above its answer. A card says which
tool of which server, with what arguments, and what became of it; while the call waits for
the user it asks, with the arguments in sight: Allow once, Always allow, Deny. Its
arguments and result fold away once it has run (a click, or Enter on its header, opens
them again); images the tool returned are shown as thumbnails.

What the model wrote and what the tool returned are shown as plain text: never rendered,
never loaded.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from desktop_chat.core.conversation import (
    TOOL_ASKED,
    TOOL_DONE,
    TOOL_ERROR,
    TOOL_RUNNING,
    TOOL_STATUS_WORDS,
    ToolCallPart,
)
from desktop_chat.core.markdown import Palette
from desktop_chat.core.tools.use import Answer
from desktop_chat.ui.icons import icon

from .files_view import AttachedFiles, Thumbnails

# How much of a result a card shows (the whole of it is kept, and copied).
SHOWN_RESULT_CHARS = 4_000


# Characters that reorder or hide text (bidirectional controls, zero-width marks): shown as
# their escapes, so that arguments cannot disguise a path as another on the consent card.
_HIDING = {c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200E, 0x200F, 0x061C)}


def pretty_arguments(arguments: str) -> str:
    try:
        shown = json.dumps(json.loads(arguments), indent=2, ensure_ascii=False) if arguments.strip() else "{}"
    except (ValueError, RecursionError):
        shown = arguments
    return shown.translate(_HIDING)


class ToolCallCard(QFrame):
    # (call id, Answer)
    answered = Signal(str, object)
    toggled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolCall")
        self.call: ToolCallPart | None = None
        self.expanded = False
        self.user_chose = False
        self.palette_ = Palette()

        self.header = QToolButton(self)
        self.header.setObjectName("toolCallHeader")
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setCursor(Qt.CursorShape.PointingHandCursor)
        self.header.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # (Tab to it: TranscriptView)
        self.header.clicked.connect(self._toggle_by_hand)
        self.state = QLabel(self)
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header, 1, Qt.AlignmentFlag.AlignLeft)
        top.addWidget(self.state, 0, Qt.AlignmentFlag.AlignRight)

        self.question = QLabel(self)
        self.question.setTextFormat(Qt.TextFormat.PlainText)
        self.question.setWordWrap(True)
        self.arguments_label = QLabel("Arguments", self)
        self.arguments = _plain_label(self)
        self.result_label = QLabel("Result", self)
        self.result = _plain_label(self)
        self.images = AttachedFiles(self)
        self.images.hide()

        self.buttons: dict[Answer, QPushButton] = {}
        row = QHBoxLayout()
        row.setContentsMargins(0, 4, 0, 0)
        for answer, text, tip in (
            (Answer.ONCE, "Allow once", "Run it this time"),
            (
                Answer.ALWAYS,
                "Always allow",
                "Run this tool of this server without asking (revocable in File → Tools)",
            ),
            (Answer.DENY, "Deny", "Do not run it; the model is told it was declined"),
        ):
            button = QPushButton(text, self)
            button.setObjectName(f"tool{answer.value.capitalize()}Button")
            button.setToolTip(tip)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # (Tab to it: TranscriptView)
            button.clicked.connect(lambda _=False, a=answer: self._answer(a))
            row.addWidget(button)
            self.buttons[answer] = button
        row.addStretch(1)
        self.button_row = QWidget(self)
        self.button_row.setLayout(row)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(top)
        for widget in (
            self.question,
            self.arguments_label,
            self.arguments,
            self.result_label,
            self.result,
            self.images,
            self.button_row,
        ):
            layout.addWidget(widget)

    def apply_look(self, palette: Palette, font: QFont, thumbnails: Thumbnails | None) -> None:
        self.palette_ = palette
        border = palette.quote_border
        self.setStyleSheet(
            f"QFrame#toolCall {{ border: 1px solid {border}; border-radius: 8px; background: {palette.code_background}; }}"
        )
        small = QFont(font)
        if font.pointSizeF() > 0:
            small.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        for label in (self.state, self.arguments_label, self.result_label):
            label.setFont(small)
            label.setStyleSheet(f"color: {palette.muted}; border: none; background: transparent")
        self.header.setFont(small)
        self.question.setFont(font)
        self.question.setStyleSheet("border: none; background: transparent")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        if font.pointSizeF() > 0:
            mono.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        for label in (self.arguments, self.result):
            label.setFont(mono)
            label.setStyleSheet(f"color: {palette.code_foreground}; border: none; background: transparent")
        self.images.set_thumbnails(thumbnails)
        self.images.apply_look(palette, small)
        if self.call is not None:
            self._show_header()

    def show_call(self, call: ToolCallPart) -> None:
        # (The same call in another state; ids repeat across replies, so not by id alone.)
        same = self.call is not None and (self.call.call_id, self.call.arguments) == (call.call_id, call.arguments)
        self.call = call
        if not same:
            self.user_chose = False
        if not self.user_chose:
            # Open while it asks (the user decides with the arguments in sight); folded once it ran.
            self.expanded = call.status == TOOL_ASKED
        asking = call.status == TOOL_ASKED
        where = f" of {call.server}" if call.server else ""
        self.question.setText(f"Allow the tool {call.tool or call.name}{where} to run, with these arguments?")
        self.question.setVisible(asking)
        self.button_row.setVisible(asking)
        for button in self.buttons.values():
            button.setEnabled(asking)
            button.setAccessibleName(f"{button.text()}: {call.tool or call.name}{where}")
        self.arguments.setText(pretty_arguments(call.arguments))
        result = call.result
        if len(result) > SHOWN_RESULT_CHARS:
            result = result[:SHOWN_RESULT_CHARS] + f"\n… {len(call.result) - SHOWN_RESULT_CHARS:,} more characters"
        self.result.setText(result)
        self.images.show_parts(list(call.images), right=False)
        self._show_header()

    def _show_header(self) -> None:
        call = self.call
        if call is None:
            return
        palette = self.palette_
        where = f" · {call.server}" if call.server else ""
        self.header.setText(f"{call.tool or call.name}{where}")
        self.header.setIcon(icon("wrench", palette.muted))
        self.header.setAccessibleName(
            f"Tool {call.tool or call.name}{where}, {TOOL_STATUS_WORDS.get(call.status, call.status)}; "
            + ("folds its details" if self.expanded else "shows its details")
        )
        self.header.setToolTip("Hide the arguments and result" if self.expanded else "Show the arguments and result")
        words = TOOL_STATUS_WORDS.get(call.status, call.status)
        colour = palette.error if call.status in (TOOL_ERROR,) else palette.muted
        self.state.setText(words)
        self.state.setStyleSheet(f"color: {colour}; border: none; background: transparent")
        settled = call.status not in (TOOL_ASKED, TOOL_RUNNING)
        self.arguments_label.setVisible(self.expanded)
        self.arguments.setVisible(self.expanded)
        self.result_label.setVisible(self.expanded and settled and bool(call.result))
        self.result.setVisible(self.expanded and settled and bool(call.result))
        self.images.setVisible(bool(call.images) and (self.expanded or call.status == TOOL_DONE))

    def _toggle_by_hand(self) -> None:
        self.user_chose = True
        self.expanded = not self.expanded
        self._show_header()
        self.toggled.emit()

    def _answer(self, answer: Answer) -> None:
        if self.call is not None and self.call.status == TOOL_ASKED:
            for button in self.buttons.values():
                button.setEnabled(False)  # (one answer: the card shows the next state soon)
            self.answered.emit(self.call.call_id, answer)

    def height_for(self, width: int) -> int:
        layout = self.layout()
        if not self.images.isHidden():
            # (Its tiles are laid out by hand: the layout is told the height they take.)
            margins = layout.contentsMargins() if layout is not None else None
            inner = width - (margins.left() + margins.right() if margins is not None else 0)
            self.images.setFixedHeight(self.images.height_for(max(1, inner)))
        if layout is not None and layout.hasHeightForWidth():
            return max(layout.heightForWidth(width), layout.minimumSize().height())
        return self.sizeHint().height()

    def focusables(self) -> list[QToolButton | QPushButton]:
        found: list[QToolButton | QPushButton] = [self.header]
        if self.button_row.isVisibleTo(self):
            found += [b for b in self.buttons.values() if b.isEnabled()]
        return found


def _plain_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ToolCallsView(QWidget):
    """The cards of one reply's tool calls, in the order the model called them."""

    answered = Signal(str, object)
    toggled = Signal()
    # An image a tool returned was clicked: the AttachmentPart to open.
    fileOpened = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolCalls")
        self.cards: list[ToolCallCard] = []
        self._look: tuple[Palette, QFont, Thumbnails | None] = (Palette(), QFont(), None)

    def apply_look(self, palette: Palette, font: QFont, thumbnails: Thumbnails | None) -> None:
        self._look = (palette, font, thumbnails)
        for card in self.cards:
            card.apply_look(palette, font, thumbnails)

    def show_calls(self, calls: list[ToolCallPart]) -> None:
        while len(self.cards) < len(calls):
            card = ToolCallCard(self)
            card.apply_look(*self._look)
            card.answered.connect(self.answered)
            card.toggled.connect(self.toggled)
            card.images.opened.connect(self.fileOpened)
            self.cards.append(card)
        for card, call in zip(self.cards, calls, strict=False):
            card.show_call(call)
            card.show()
        for card in self.cards[len(calls) :]:
            card.hide()
            card.call = None

    @property
    def calls(self) -> list[ToolCallPart]:
        return [card.call for card in self.cards if card.call is not None and not card.isHidden()]

    def height_for(self, width: int) -> int:
        y = 0
        for card in self.cards:
            if card.isHidden():
                continue
            height = card.height_for(width)
            card.setGeometry(0, y, width, height)
            y += height + 6
        return max(0, y - 6)

    def focusables(self) -> list[QToolButton | QPushButton]:
        return [b for card in self.cards if not card.isHidden() for b in card.focusables()]
