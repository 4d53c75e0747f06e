"""MessageView: one message of the transcript. A reply is the model's name over its body
(segments: text documents and code blocks, core/segments.py), what became of it (an error
with Retry, a cut-off with Continue) and a row of actions; the user's own message is a
tinted bubble on the right. The actions are real buttons named with their message, shown
when the pointer or the keyboard is on the message, and always on the last reply.

The transcript lays a message out at a width (`height_for`) and places it; a reply that
streams is fed its text (`feed`) and re-renders only the segments the new text changed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import (
    QAccessible,
    QColor,
    QFocusEvent,
    QFont,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QTextDocument,
)
from PySide6.QtWidgets import QAbstractButton, QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from desktop_chat.core.conversation import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    STOPPED,
    STREAMING,
    AttachmentPart,
    Message,
    Part,
    Round,
    TextPart,
    ToolCallPart,
    rounds_of,
    text_of,
)
from desktop_chat.core.markdown import Palette
from desktop_chat.core.segments import MarkdownStream, References, Segment, segments_of
from desktop_chat.ui.actions import MessageAction
from desktop_chat.ui.icons import icon

from .files_view import AttachedFiles, Thumbnails
from .reasoning_view import ReasoningView
from .segments import SEGMENT_GAP, CodeSegmentView, SegmentView, TextSegmentView, set_segment_font, shown_text
from .tools_view import ToolCallCard, ToolCallsView

# Characters of a user message shown; the rest stays in the history (Copy gives it all).
USER_TEXT_SHOWN = 20_000
BUBBLE_PADDING = (14, 10)  # sideways, up and down
BUBBLE_SHARE = 0.8  # of the column, at most
ROW_HEIGHT = 28
# Segment widgets a message keeps for its next text (~130 KB each).
SPARE_SEGMENTS = 2
ICONS = {
    MessageAction.COPY: "copy",
    MessageAction.EDIT: "pencil",
    MessageAction.REGENERATE: "refresh-cw",
    MessageAction.RETRY: "rotate-ccw",
    MessageAction.CONTINUE: "fast-forward",
    MessageAction.PREVIOUS: "chevron-left",
    MessageAction.NEXT: "chevron-right",
}


@dataclass
class MessageItem:
    """One message as the transcript shows it: which of its versions it is, of how many."""

    message: Message
    version: int = 1
    versions: int = 1


@dataclass
class Look:
    """What every message is drawn with: colours, the text's font, and model names."""

    palette: Palette = field(default_factory=Palette)
    font: QFont = field(default_factory=QFont)
    names: Callable[[str], str] = str
    # A reply's reasoning folded away once its answer starts (settings: reasoning).
    fold_reasoning: bool = True
    # Thumbnails of attached images, from the history's files (None: not shown).
    thumbnails: Thumbnails | None = None


def author(message: Message, names: Callable[[str], str]) -> str:
    """Who wrote it, as a screen reader and the buttons say it."""
    if message.role == "user":
        return "your message"
    if message.role == "assistant":
        return f"reply from {names(message.model)}" if message.model else "reply"
    return f"{message.role} message"


class MessageView(QFrame):
    # (MessageAction, message id)
    actionRequested = Signal(object, int)
    # A link in the text was clicked (its address).
    linkActivated = Signal(str)
    # Up or Down (Home, End, Page Up, Page Down) on a message with focus: (view, key)
    moveRequested = Signal(object, int)
    focusEntered = Signal(object)
    # Its height changed by the user's hand (the reasoning folded or unfolded).
    resized = Signal(object)
    # An attached file was clicked: the AttachmentPart to open.
    fileOpened = Signal(object)
    # A tool call's card was answered: (call id, Answer).
    toolAnswered = Signal(str, object)

    def __init__(self, look: Look, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message")
        # Reached by the arrow keys and by Tab into the transcript (TranscriptView moves the
        # focus), not one by one in the window's Tab order.
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.look = look
        self.item: MessageItem | None = None
        self.active = False  # actions shown
        self.hovered = False
        self.last_reply = False
        self.failed = False  # its error is shown, in a tinted box
        self.segments: list[SegmentView] = []
        self._spare: list[SegmentView] = []
        self._stream: MarkdownStream | None = None
        self._references: References = {}
        self._settled = 0  # segments final for good, not looked at again while streaming
        self._content: str | None = None  # the text the segments show (None: nothing yet)
        self._plain = False  # shown as typed (the user's), not as markdown
        self._width = -1
        self._height = 0
        self._dirty_from: int | None = 0  # the first segment to lay out again
        self._segment_tops: list[int] = []
        self._body_top = 0
        self._bubble = QRect()
        self.reasoning: ReasoningView | None = None  # made for the first reply that thinks
        self._stream_started = 0.0
        self._prefix_length = 0  # a continued reply's earlier text, at the start of the stream

        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.files = AttachedFiles(self)  # images as thumbnails, documents as chips
        self.files.opened.connect(self.fileOpened)
        self.files.hide()
        # A reply that used tools: each round's cards after that round's text. `_frozen` are
        # the segments of the rounds before the one streaming; each group of cards comes
        # after the first `_group_at[i]` segments.
        self.tool_groups: list[ToolCallsView] = []
        self._group_at: list[int] = []
        self._frozen: list[Segment] = []
        self._frozen_references: References = {}
        self._frozen_rounds = 0
        self.more = QLabel(self)  # "… N more characters not shown"
        self.more.setTextFormat(Qt.TextFormat.PlainText)
        self.more.setWordWrap(True)

        # What became of it: an error and Retry, a cut-off and Continue.
        self.state_row = QWidget(self)
        self.state_icon = QLabel(self.state_row)
        self.state_text = QLabel(self.state_row)
        self.state_text.setTextFormat(Qt.TextFormat.PlainText)
        self.state_text.setWordWrap(True)
        self.state_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        state = QHBoxLayout(self.state_row)
        state.setContentsMargins(10, 6, 6, 6)
        state.setSpacing(6)
        state.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignVCenter)
        state.addWidget(self.state_text, 1, Qt.AlignmentFlag.AlignVCenter)
        self.buttons: dict[MessageAction, QToolButton] = {}
        for action in (MessageAction.RETRY, MessageAction.CONTINUE):
            state.addWidget(self._button(action, self.state_row, text=True), 0, Qt.AlignmentFlag.AlignVCenter)

        # The actions on it.
        self.footer = QWidget(self)
        self.footer.setFixedHeight(ROW_HEIGHT)
        row = QHBoxLayout(self.footer)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addStretch(0)
        for action in (MessageAction.COPY, MessageAction.EDIT, MessageAction.REGENERATE, MessageAction.PREVIOUS):
            row.addWidget(self._button(action, self.footer))
        self.version_label = QLabel(self.footer)
        row.addWidget(self.version_label)
        row.addWidget(self._button(MessageAction.NEXT, self.footer))
        self.usage = QLabel(self.footer)
        self.usage.setTextFormat(Qt.TextFormat.PlainText)
        row.addSpacing(8)
        row.addWidget(self.usage)
        row.addStretch(1)
        self._row = row
        self.apply_look(look)

    def _button(self, action: MessageAction, parent: QWidget, text: bool = False) -> QToolButton:
        button = QToolButton(parent)
        button.setObjectName(f"{action.value}Button")
        button.setText(action.name.capitalize())
        button.setToolTip(action.name.capitalize() if action not in _TIPS else _TIPS[action])
        button.setAutoRaise(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # (Tab to it: TranscriptView)
        button.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text else Qt.ToolButtonStyle.ToolButtonIconOnly
        )
        if not text:
            button.setFixedSize(ROW_HEIGHT, ROW_HEIGHT)
        button.clicked.connect(lambda: self._act(action))
        self.buttons[action] = button
        return button

    def _act(self, action: MessageAction) -> None:
        if self.item is not None:
            self.actionRequested.emit(action, self.item.message.id)

    # What it shows

    @property
    def message(self) -> Message:
        assert self.item is not None
        return self.item.message

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    def apply_look(self, look: Look) -> None:
        """Colours or text size changed: draw everything with the new ones."""
        old = self.look
        self.look = look
        palette = look.palette
        # Colours by style sheet: with the app's style sheet set, a label's own palette
        # is not what it is drawn with.
        for label in (self.status, self.more, self.usage, self.version_label, self.header):
            label.setStyleSheet(f"color: {palette.muted}")
            label.setFont(_smaller(look.font))
        header_font = _smaller(look.font)
        header_font.setWeight(QFont.Weight.DemiBold)
        self.header.setFont(header_font)
        self.state_text.setFont(look.font)
        self.state_text.setStyleSheet(f"color: {palette.error if self.failed else palette.muted}")
        self.state_icon.setPixmap(icon("triangle-alert", palette.error).pixmap(18, 18))
        for action, button in self.buttons.items():
            button.setIcon(icon(ICONS[action], palette.muted))
            button.setFont(_smaller(look.font))
        for segment in self.segments:
            set_segment_font(segment, look.font)
        if self.reasoning is not None:
            self.reasoning.apply_look(palette, look.font)
        self.files.set_thumbnails(look.thumbnails)
        self.files.apply_look(palette, _smaller(look.font))
        for group in self.tool_groups:
            group.apply_look(palette, look.font, look.thumbnails)
        if self.item is not None and (old.palette != look.palette or old.font != look.font):
            content, self._content = self._content, None
            self._drop_segments_from(0)  # every segment drawn again, in the new colours
            if self._stream is None:
                rounds = self._rounds(self.item.message)
                if rounds:
                    self._show_rounds(rounds)
                else:
                    self._show_body(content or "", plain=self._plain)
            else:
                self._references = {}
                self._settled = 0
                self._sync_stream()
        self._invalidate(0)

    def bind(self, item: MessageItem, last_reply: bool = False) -> None:
        """Show this message (a view is reused for others as the transcript scrolls)."""
        same = self.item is not None and self.item.message.id == item.message.id
        above = self._above_body()
        self.item = item
        self.last_reply = last_reply
        message = item.message
        if not same:
            self._stream = None
            self.hovered = False
            if self.reasoning is not None:
                self.reasoning.reset()
        user = message.role == "user"
        who = author(message, self.look.names)
        self.setAccessibleName(who[0].upper() + who[1:])
        self.header.setVisible(not user)
        if not user:
            self.header.setText(self.look.names(message.model) if message.model else "Assistant")
            self.header.setToolTip(message.model or "")
        if self._stream is None:
            self._show_reasoning(message, same)
            rounds = self._rounds(message)
            if rounds:
                self._show_rounds(rounds)
            else:
                self._set_groups([], [])
                self._show_body(message.content if not user else message.content[:USER_TEXT_SHOWN], plain=user)
        self._show_more(message)
        self._show_files(message)
        self._show_status(message)
        self._show_state(message)
        self._show_actions(item)
        # What is above the body unchanged (a reply that finished, a version count): only
        # the rows under it are laid out again, not every segment of a long reply.
        self._invalidate(len(self.segments) if same and self._above_body() == above else 0)
        self._describe_formulas()

    def _describe_formulas(self) -> None:
        """A screen reader reads a typeset formula in the text as U+FFFC (Qt's text
        interface gives an image so): a message with formulas is described with its text,
        formulas as their source, so that it is heard on focus."""
        # (Only with a screen reader listening: reading a 20,000-token reply's text back
        # takes ~80 ms, which a finished reply would otherwise cost every time.)
        if (
            self._stream is None
            and QAccessible.isActive()
            and any(getattr(s, "has_math", False) for s in self.segments)
        ):
            self.setAccessibleDescription(self.spoken_text())
        elif self.accessibleDescription():
            self.setAccessibleDescription("")

    def _above_body(self) -> tuple[object, ...]:
        reasoning = self.reasoning
        return (
            self.header.isVisibleTo(self),
            self.header.text(),
            self.status.text(),
            self.more.isVisibleTo(self),
            self.more.text(),
            reasoning is not None and reasoning.isVisibleTo(self),
            reasoning.toggle.text() if reasoning is not None else "",
            reasoning.expanded if reasoning is not None else False,
            tuple(self.files.parts),
            tuple(self.tool_calls_shown()),
            tuple(card.expanded for card in self.tool_cards()),
        )

    def _reasoning_view(self) -> ReasoningView:
        if self.reasoning is None:
            self.reasoning = ReasoningView(self)
            self.reasoning.apply_look(self.look.palette, self.look.font)
            self.reasoning.toggled.connect(self._reasoning_toggled)
        if self.item is not None:
            self.reasoning.set_author(author(self.item.message, self.look.names))
        self.reasoning.show()
        return self.reasoning

    def _show_reasoning(self, message: Message, same: bool) -> None:
        part = message.reasoning if message.role == "assistant" else None
        if part is None:
            if self.reasoning is not None:
                self.reasoning.hide()
            return
        view = self._reasoning_view()
        if not same:
            view.user_chose = False
        # Folded (as set) when there is an answer to read; open when the thought is all.
        view.show_part(part, expanded=not (self.look.fold_reasoning and message.content))

    def _math_typeset(self) -> None:
        self._invalidate(0)
        self.resized.emit(self)

    def _reasoning_toggled(self) -> None:
        self._invalidate(0)
        self.resized.emit(self)

    def _show_body(self, content: str, plain: bool = False) -> None:
        if content == self._content and plain == self._plain:
            return
        self._plain = plain
        self._content = content
        if plain:
            self._drop_segments_from(0)
            if content:
                view = self._segment_at(0, code=False)
                assert isinstance(view, TextSegmentView)
                view.setPlainText(content)
                view.segment = None
            self._name_segments()
            self._invalidate(0)
            return
        segments, references = segments_of(content) if content else ([], {})
        # (The segments shown were rendered with self._references: _sync renders again
        # those whose references differ in this text, a view rebound to another message.)
        self._settled = 0
        self._sync(segments, references, len(segments))

    # A reply that used tools

    def _rounds(self, message: Message) -> list[Round]:
        return rounds_of(message.parts, message.status) if message.role == "assistant" else []

    def _show_rounds(self, rounds: list[Round]) -> None:
        """A finished reply that used tools: each round's text, then its calls' cards."""
        segments, references, at = _round_segments(rounds)
        self._plain = False
        self._content = text_of([TextPart(r.text) for r in rounds])
        self._settled = 0
        self._sync(segments, references, len(segments))
        self._set_groups([r.calls for r in rounds if r.calls], at)

    def tool_calls_changed(self, parts: tuple[Part, ...]) -> None:
        """The streaming reply's rounds so far (a new round began, or a call's state changed)."""
        stream = self._stream
        if stream is None:
            return
        rounds = rounds_of(parts, STREAMING)
        if len(rounds) != self._frozen_rounds:
            # What streamed is a finished round's text now; the next round's text starts anew.
            self._frozen, self._frozen_references, at = _round_segments(rounds)
            self._frozen_rounds = len(rounds)
            self._stream = MarkdownStream()
            self._settled = 0
            self._sync_stream()
            self._set_groups([r.calls for r in rounds], at)
        else:
            for group, round_ in zip(self.tool_groups, rounds, strict=False):
                group.show_calls(list(round_.calls))
        if self.item is not None:
            self._show_status(self.item.message)
        self._invalidate(0)

    def _set_groups(self, calls: list[tuple[ToolCallPart, ...]], at: list[int]) -> None:
        if not calls and not self._group_at and not any(not g.isHidden() for g in self.tool_groups):
            return  # (a reply without tools, as nearly all are: nothing to lay out again)
        while len(self.tool_groups) < len(calls):
            group = ToolCallsView(self)
            group.apply_look(self.look.palette, self.look.font, self.look.thumbnails)
            group.answered.connect(self.toolAnswered)
            group.toggled.connect(self._reasoning_toggled)
            group.fileOpened.connect(self.fileOpened)
            self.tool_groups.append(group)
        for index, group in enumerate(self.tool_groups):
            shown = index < len(calls)
            group.show_calls(list(calls[index]) if shown else [])
            group.setVisible(shown)
        self._group_at = at[: len(calls)]
        self._invalidate(0)

    def tool_cards(self) -> list[ToolCallCard]:
        """The cards shown, in order."""
        return [c for g in self.tool_groups if not g.isHidden() for c in g.cards if not c.isHidden()]

    def tool_calls_shown(self) -> list[ToolCallPart]:
        return [c.call for c in self.tool_cards() if c.call is not None]

    def _sync_stream(self) -> None:
        """Show the streaming text after the finished rounds' text."""
        stream = self._stream
        if stream is None:
            return
        references = self._frozen_references | stream.references if self._frozen_references else stream.references
        self._sync([*self._frozen, *stream.segments], references, len(self._frozen) + stream.settled)

    def _show_files(self, message: Message) -> None:
        attached = [p for p in message.parts if isinstance(p, AttachmentPart)]
        self.files.setVisible(bool(attached))
        self.files.show_parts(attached, right=message.role == "user")

    def _show_more(self, message: Message) -> None:
        hidden = len(message.content) - USER_TEXT_SHOWN if message.role == "user" else 0
        self.more.setVisible(hidden > 0)
        if hidden > 0:
            self.more.setText(f"… {hidden:,} more characters not shown — Copy gives the whole message")

    def _show_status(self, message: Message) -> None:
        text = ""
        if message.role == "assistant":
            thinks = self.reasoning is not None and self.reasoning.isVisibleTo(self)
            if self._stream is not None and not self._stream.text and not thinks and not self.tool_cards():
                text = "…"
            elif message.status == COMPLETE and not message.content and self._stream is None:
                text = "(no text)"
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _show_state(self, message: Message) -> None:
        text, retry, carry_on = "", False, False
        if message.role == "assistant" and message.status != STREAMING:
            if message.status in (FAILED, INTERRUPTED) or (message.status == STOPPED and not message.content):
                text = message.error or _STATUS_TEXT.get(message.status, message.status)
                retry, carry_on = True, bool(message.content)
            elif message.status == STOPPED:
                text, carry_on = "Stopped.", True
            elif message.finish_reason == "length":
                text, carry_on = "Cut off at the token limit.", True
            elif message.finish_reason == "content_filter":
                text = "Stopped by the provider's content filter."
        self.state_text.setText(text)
        self.state_text.setAccessibleName(text)  # (selectable, so focusable: named)
        self.state_row.setVisible(bool(text))
        self.state_icon.setVisible(retry)
        colour = self.look.palette.error if retry else self.look.palette.muted
        if retry != self.failed or not self.state_text.styleSheet():
            self.state_text.setStyleSheet(f"color: {colour}")
        self.failed = retry
        self.buttons[MessageAction.RETRY].setVisible(retry)
        self.buttons[MessageAction.CONTINUE].setVisible(carry_on)

    def _show_actions(self, item: MessageItem) -> None:
        message = item.message
        who = author(message, self.look.names)
        user = message.role == "user"
        final = message.status != STREAMING and self._stream is None
        names = {
            MessageAction.COPY: f"Copy {who}",
            MessageAction.EDIT: f"Edit {who}",
            MessageAction.REGENERATE: f"Regenerate {who}",
            MessageAction.RETRY: f"Retry {who}",
            MessageAction.CONTINUE: f"Continue {who}",
            MessageAction.PREVIOUS: f"Previous version of {who}",
            MessageAction.NEXT: f"Next version of {who}",
        }
        for action, button in self.buttons.items():
            button.setAccessibleName(names[action])
        shown = final and (self.active or self.hovered or self.last_reply)
        self.buttons[MessageAction.COPY].setVisible(shown and bool(message.content))
        self.buttons[MessageAction.EDIT].setVisible(shown and user)
        # (A failed reply offers Retry, in its place.)
        self.buttons[MessageAction.REGENERATE].setVisible(shown and not user and not self.failed)
        versions = item.versions > 1 and final
        for action in (MessageAction.PREVIOUS, MessageAction.NEXT):
            self.buttons[action].setVisible(versions)
        self.buttons[MessageAction.PREVIOUS].setEnabled(item.version > 1)
        self.buttons[MessageAction.NEXT].setEnabled(item.version < item.versions)
        self.version_label.setVisible(versions)
        self.version_label.setText(f"{item.version}/{item.versions}")
        self.version_label.setAccessibleName(f"Version {item.version} of {item.versions}")
        usage = ""
        if message.completion_tokens is not None or message.prompt_tokens is not None:
            prompt = message.prompt_tokens if message.prompt_tokens is not None else "?"
            completion = message.completion_tokens if message.completion_tokens is not None else "?"
            usage = f"{prompt} in · {completion} out tokens"
        self.usage.setText(usage)
        self.usage.setVisible(shown and bool(usage))
        # The user's buttons under their bubble, on the right; a reply's on the left.
        self._row.setStretch(0, 1 if user else 0)
        self._row.setStretch(self._row.count() - 1, 0 if user else 1)

    def set_active(self, active: bool) -> None:
        """Show the actions (the pointer is on it, or the keyboard) or hide them."""
        if active != self.active:
            self.active = active
            if self.item is not None:
                self._show_actions(self.item)

    # Streaming

    def begin_stream(self, prefix: str = "") -> None:
        self._stream = MarkdownStream()
        self._stream_started = time.monotonic()
        self._prefix_length = len(prefix)
        if self.reasoning is not None:
            self.reasoning.reset()
        self._drop_segments_from(0)
        self._references, self._settled, self._content, self._plain = {}, 0, "", False
        self._frozen, self._frozen_references, self._frozen_rounds = [], {}, 0
        self._set_groups([], [])
        if self.item is not None:
            # A continued reply keeps the thought it had, and its rounds; a new one starts without.
            self._show_reasoning(self.item.message, same=True)
            rounds = self._rounds(self.item.message)
            if rounds:
                last = rounds.pop() if not rounds[-1].calls else Round("")
                self._frozen, self._frozen_references, at = _round_segments(rounds)
                self._frozen_rounds = len(rounds)
                self._set_groups([r.calls for r in rounds], at)
                prefix = last.text
            self._show_status(self.item.message)
            self._show_state(self.item.message)
            self._show_actions(self.item)
        if prefix:
            self.feed(prefix)

    def feed(self, text: str) -> None:
        stream = self._stream
        if stream is None or not text:
            return
        if self.reasoning is not None and self.reasoning.thinking:
            self.reasoning.end_thinking(fold=self.look.fold_reasoning)
            self._invalidate(0)
        was_empty = not stream.text
        stream.feed(text)
        self._sync_stream()
        self._content = stream.text
        if was_empty and self.item is not None:
            self._show_status(self.item.message)
            self._invalidate(0)

    def feed_reasoning(self, text: str) -> None:
        """More of the model's thought, while the reply streams."""
        if self._stream is None or self.item is None:
            return
        view = self._reasoning_view()
        if not view.thinking and not self._stream.text:
            # (A round after tool calls thinks again: its thought follows the earlier ones',
            # as the reply keeps them.)
            earlier = view.text() if self._frozen_rounds else ""
            view.begin(self._stream_started)
            if earlier:
                view.set_text(earlier + "\n\n")
        view.append(text)  # ("" for a thought that comes without its text)
        self._show_status(self.item.message)
        self._invalidate(0)

    def answer_was_reasoning(self, text: str) -> None:
        """What was shown as the answer was the start of the thought (core/reasoning.py)."""
        if self._stream is None or self.item is None:
            return
        view = self._reasoning_view()
        thought = view.text() if view.thinking else ""
        view.begin(self._stream_started)
        view.set_text(text + thought)
        self._restart_answer("")

    def reasoning_was_answer(self, text: str) -> None:
        """What was shown as the thought was the answer: a model that did not think."""
        if self._stream is None:
            return
        if self.reasoning is not None:
            self.reasoning.end_thinking(fold=False)
            self.reasoning.hide()
        shown = self._stream.text  # (a continued reply's earlier text first, as it is kept)
        self._restart_answer(shown[: self._prefix_length] + text + shown[self._prefix_length :])

    def _restart_answer(self, text: str) -> None:
        self._stream = MarkdownStream()
        self._drop_segments_from(len(self._frozen))
        self._references, self._settled, self._content = {}, 0, ""
        if text:
            self.feed(text)
        if self.item is not None:
            self._show_status(self.item.message)
        self._invalidate(0)

    def finish(self, item: MessageItem, last_reply: bool = True) -> None:
        """The reply is final: its last block, and what became of it."""
        stream = self._stream
        if stream is not None:
            rounds = self._rounds(item.message)
            if stream.text == (rounds[-1].text if rounds and not rounds[-1].calls else item.message.content):
                stream.finish()
                self._sync_stream()
                self._content = stream.text
            self._stream = None
        self.bind(item, last_reply)

    # Segments

    def _sync(self, segments: list[Segment], references: References, settled: int) -> None:
        """Show these segments; re-render only those not shown already, and those whose
        references changed (a definition that arrived late)."""
        changed = _changed_labels(self._references, references)
        self._references = references
        palette = self.look.palette
        first: int | None = None
        for index in range(self._settled, len(segments)):
            segment = segments[index]
            view = self.segments[index] if index < len(self.segments) else None
            if (
                view is not None
                and view.segment is not None
                and view.kind == ("code" if segment.code else "text")
                and (view.segment is segment or view.segment == segment)
                and not (changed and view.labels & changed)
            ):
                view.segment = segment
                continue
            view = self._segment_at(index, segment.code)
            view.show_segment(segment, references, palette)
            first = index if first is None else min(first, index)
        if changed:
            for index in range(min(self._settled, len(self.segments))):
                view = self.segments[index]
                if view.labels & changed and view.segment is not None:
                    view.show_segment(view.segment, references, palette)
                    first = index if first is None else min(first, index)
        if len(self.segments) > len(segments):
            self._drop_segments_from(len(segments))
            first = len(segments) if first is None else min(first, len(segments))
        self._settled = min(settled, len(segments))
        if first is not None:
            self._name_segments(first)
            self._invalidate(first)

    def _segment_at(self, index: int, code: bool) -> SegmentView:
        """The segment view at `index`, of the right kind (reusing a spare one)."""
        kind = "code" if code else "text"
        if index < len(self.segments) and self.segments[index].kind == kind:
            return self.segments[index]
        view = next((v for v in self._spare if v.kind == kind), None)
        if view is not None:
            self._spare.remove(view)
        else:
            view = CodeSegmentView(self) if code else TextSegmentView(self)
            view.linkActivated.connect(self.linkActivated)
            if isinstance(view, TextSegmentView):
                view.mathTypeset.connect(self._math_typeset)
            if isinstance(view, CodeSegmentView):
                view.copied.connect(lambda: self.linkActivated.emit("copied:"))
        set_segment_font(view, self.look.font)
        view.show()
        if index < len(self.segments):
            old = self.segments[index]
            old.hide()
            self._spare.append(old)
            self.segments[index] = view
        else:
            self.segments.append(view)
        return view

    def _drop_segments_from(self, index: int) -> None:
        for view in self.segments[index:]:
            view.hide()
            view.segment = None
            self._spare.append(view)
        del self.segments[index:]
        for extra in self._spare[SPARE_SEGMENTS:]:  # (more spares than that go with their widgets)
            extra.deleteLater()
        del self._spare[SPARE_SEGMENTS:]

    def _name_segments(self, first: int = 0) -> None:
        if self.item is None:
            return
        who = author(self.item.message, self.look.names)
        name = who[0].upper() + who[1:]
        for index in range(first, len(self.segments)):
            view = self.segments[index]
            if isinstance(view, TextSegmentView):  # (a code block is named after its language)
                view.setAccessibleName(name if index == 0 else f"{name}, part {index + 1}")

    # Layout

    def _invalidate(self, first: int) -> None:
        self._dirty_from = first if self._dirty_from is None else min(self._dirty_from, first)

    def height_for(self, width: int) -> int:
        """Lay the message out at `width`; its height."""
        if width != self._width:
            self._width = width
            self._dirty_from = 0
        if self._dirty_from is None:
            return self._height
        if self.item is not None and self.item.message.role == "user":
            self._height = self._lay_out_bubble(width)
        else:
            self._height = self._lay_out_reply(width, self._dirty_from)
        self._dirty_from = None
        return self._height

    def _lay_out_reply(self, width: int, first: int) -> int:
        y = 0
        if first == 0:
            self._bubble = QRect()
            if self.header.isVisibleTo(self):
                height = self.header.sizeHint().height()
                self.header.setGeometry(0, 0, width, height)
                y += height + 4
            if self.status.isVisibleTo(self):
                height = self.status.sizeHint().height()
                self.status.setGeometry(0, y, width, height)
                y += height + 4
            if self.reasoning is not None and self.reasoning.isVisibleTo(self):
                height = self.reasoning.height_for(width)
                self.reasoning.setGeometry(0, y, width, height)
                y += height + 4
            if self.files.isVisibleTo(self):
                height = self.files.height_for(width)
                self.files.setGeometry(0, y, width, height)
                y += height + 8
            self._body_top = y
            self._segment_tops = []
        if self._group_at:
            return self._lay_out_rounds(width)
        del self._segment_tops[first:]
        y = self._segment_tops[-1] if self._segment_tops else self._body_top
        if first > 0:
            previous = self.segments[first - 1]
            y += previous.height() + SEGMENT_GAP
        for view in self.segments[first:]:
            height = view.height_for(width)
            view.setGeometry(0, y, width, height)
            self._segment_tops.append(y)
            y += height + SEGMENT_GAP
        if self.segments:
            y -= SEGMENT_GAP
        return self._lay_out_rows(width, y, 0)

    def _lay_out_rounds(self, width: int) -> int:
        """A reply that used tools, laid out whole: its segments, each round's cards after
        the round's text."""
        y = self._body_top
        self._segment_tops = []
        groups = [g for g in self.tool_groups if not g.isHidden()]
        placed = 0
        for index in range(len(self.segments) + 1):
            while placed < min(len(groups), len(self._group_at)) and self._group_at[placed] == index:
                height = groups[placed].height_for(width)
                groups[placed].setGeometry(0, y, width, height)
                y += height + SEGMENT_GAP
                placed += 1
            if index < len(self.segments):
                view = self.segments[index]
                height = view.height_for(width)
                view.setGeometry(0, y, width, height)
                self._segment_tops.append(y)
                y += height + SEGMENT_GAP
        if self.segments or placed:
            y -= SEGMENT_GAP
        return self._lay_out_rows(width, y, 0)

    def _lay_out_bubble(self, width: int) -> int:
        pad_x, pad_y = BUBBLE_PADDING
        widest = max(1, int(width * BUBBLE_SHARE) - 2 * pad_x)
        inner = widest
        if self.segments:
            self.segments[0].height_for(widest)
            inner = min(widest, max(1, math.ceil(self.segments[0].body_document().idealWidth()) + 2))
        if self.more.isVisibleTo(self):
            inner = widest
        left = width - inner - 2 * pad_x
        top = 0
        if self.files.isVisibleTo(self):
            # Above the bubble, on the right, as wide as the bubble may be.
            shared = max(1, int(width * BUBBLE_SHARE))
            top = self.files.height_for(shared)
            self.files.setGeometry(width - shared, 0, shared, top)
            top += 6 if self.segments else 0
        y = top + pad_y
        for view in self.segments:
            height = view.height_for(inner)
            view.setGeometry(left + pad_x, y, inner, height)
            y += height
        if self.more.isVisibleTo(self):
            height = self.more.heightForWidth(inner)
            self.more.setGeometry(left + pad_x, y + 4, inner, height)
            y += height + 4
        y += pad_y
        # (Files sent with no text have no bubble.)
        self._bubble = (
            QRect(left, top, width - left, y - top) if self.segments or self.more.isVisibleTo(self) else QRect()
        )
        if self._bubble.isNull():
            y = top
        return self._lay_out_rows(width, y, left)

    def _lay_out_rows(self, width: int, y: int, left: int) -> int:
        if self.state_row.isVisibleTo(self):
            y += 8 if self.segments else 0
            height = self.state_row.heightForWidth(width - left)
            if height <= 0:
                height = self.state_row.sizeHint().height()
            self.state_row.setGeometry(left, y, width - left, height)
            y += height
        y += 2
        self.footer.setGeometry(0, y, width, ROW_HEIGHT)
        return y + ROW_HEIGHT

    # Reading it

    def body_documents(self) -> list[QTextDocument]:
        """The documents of its body, in order (text segments and the code of code blocks)."""
        return [view.body_document() for view in self.segments]

    def spoken_text(self) -> str:
        """Its body as a screen reader should hear it: the text shown, a line per paragraph."""
        return "\n".join(shown_text(document).strip() for document in self.body_documents())

    def plain_text(self) -> str:
        """What it shows, as text: who, the body, what became of it, the figures."""
        parts = [self.header.text() if self.header.isVisibleTo(self) else "", self.status.text()]
        if self.files.isVisibleTo(self):
            parts.append(self.files.summary())
        if self.reasoning is not None and self.reasoning.isVisibleTo(self):
            parts.append(self.reasoning.toggle.text())
            if self.reasoning.body.isVisibleTo(self):
                parts.append(self.reasoning.text())
        for view in self.segments:
            if isinstance(view, CodeSegmentView):
                parts.append(f"{view.language.text()}\n{view.body.toPlainText()}")
            else:
                parts.append(shown_text(view.document()))
        parts += [self.more.text() if self.more.isVisibleTo(self) else "", self.state_text.text()]
        if self.version_label.isVisibleTo(self):
            parts.append(self.version_label.text())
        if self.usage.isVisibleTo(self):
            parts.append(self.usage.text())
        return "\n".join(part for part in parts if part)

    # Drawing and input

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        if not self._bubble.isNull():
            painter.setBrush(QColor(self.look.palette.bubble))
            painter.drawRoundedRect(self._bubble, 14, 14)
        if self.failed and self.state_row.isVisible():
            painter.setBrush(QColor(self.look.palette.error_background))
            painter.drawRoundedRect(self.state_row.geometry(), 8, 8)
        if self.hasFocus():
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if self._bubble.isNull():
                painter.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), 8, 8)
            else:
                painter.drawRoundedRect(self._bubble.adjusted(1, 1, -1, -1), 14, 14)

    def enterEvent(self, event: Any) -> None:
        self.hovered = True
        if self.item is not None:
            self._show_actions(self.item)
        super().enterEvent(event)

    def leaveEvent(self, event: Any) -> None:
        self.hovered = False
        if self.item is not None:
            self._show_actions(self.item)
        super().leaveEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.focusEntered.emit(self)
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusOutEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in _MOVES and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.moveRequested.emit(self, key)
        elif event.matches(QKeySequence.StandardKey.Copy):
            self._act(MessageAction.COPY)
        else:
            super().keyPressEvent(event)

    def action_buttons(self) -> list[QAbstractButton]:
        """Its buttons that are shown, in the order Tab goes through them: the code blocks'
        Copy, then what became of it (Retry, Continue), then the actions."""
        order = (
            MessageAction.RETRY,
            MessageAction.CONTINUE,
            MessageAction.COPY,
            MessageAction.EDIT,
            MessageAction.REGENERATE,
            MessageAction.PREVIOUS,
            MessageAction.NEXT,
        )
        copies: list[QAbstractButton] = [tile for tile in self.files.tiles if self.files.isVisibleTo(self)]
        copies += [view.copy_button for view in self.segments if isinstance(view, CodeSegmentView)]
        # (The cards' buttons in the order they are shown, with the code blocks' Copy.)
        copies += [b for g in self.tool_groups if not g.isHidden() for b in g.focusables()]
        if self.reasoning is not None and self.reasoning.isVisibleTo(self):
            thought = [self.reasoning.toggle, self.reasoning.copy_button]
            copies = [b for b in thought if b.isVisibleTo(self) and b.isEnabled()] + copies
        actions = [self.buttons[a] for a in order if self.buttons[a].isVisibleTo(self) and self.buttons[a].isEnabled()]
        return copies + actions


def _round_segments(rounds: list[Round]) -> tuple[list[Segment], References, list[int]]:
    """The segments of the rounds' texts, one after the other; their references; and, for
    each round that called tools, how many segments come before its cards."""
    segments: list[Segment] = []
    references: References = {}
    at = []
    for round_ in rounds:
        if round_.text:
            found, defined = segments_of(round_.text)
            segments += found
            references |= defined
        if round_.calls:
            at.append(len(segments))
    return segments, references, at


def _smaller(font: QFont) -> QFont:
    smaller = QFont(font)
    if font.pointSizeF() > 0:
        smaller.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
    return smaller


def _changed_labels(old: References, new: References) -> frozenset[str]:
    if old == new:
        return frozenset()
    return frozenset(label for label in old.keys() | new.keys() if old.get(label) != new.get(label))


_TIPS = {
    MessageAction.COPY: "Copy as markdown",
    MessageAction.EDIT: "Edit and send again",
    MessageAction.REGENERATE: "Ask again for another version",
    MessageAction.RETRY: "Ask again",
    MessageAction.CONTINUE: "Carry on from where it stopped",
    MessageAction.PREVIOUS: "Previous version",
    MessageAction.NEXT: "Next version",
}
_STATUS_TEXT = {
    STOPPED: "Stopped before any text arrived.",
    INTERRUPTED: "The app closed while this reply was arriving.",
    FAILED: "The reply failed.",
}
_MOVES = {
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
}
