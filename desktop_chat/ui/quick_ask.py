"""QuickAskWindow: a small window over whatever the user is doing; ask, read, go back.

Made once at start-up and hidden, so showing it is only a map and a focus change.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCursor, QGuiApplication, QKeyEvent, QShowEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_chat.core.conversation import Message
from desktop_chat.core.sdk import warm_up_sdk
from desktop_chat.core.services import Services

from .chat_presenter import ChatPresenter
from .composer import Composer
from .labels import ElidedLabel
from .transcript import TranscriptView

TITLE = "Quick Ask — Desktop Chat"


class QuickAskWindow(QWidget):
    openInMainRequested = Signal()
    closedByUser = Signal()

    def __init__(self) -> None:
        super().__init__(
            None, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setWindowTitle(TITLE)
        self.setObjectName("quickAsk")
        self.setAccessibleName("Quick ask")
        frame = QFrame(self)
        frame.setObjectName("quickAskFrame")
        self.composer = Composer()
        self.composer.setAccessibleName("Quick question")
        self.composer.setMaximumHeight(72)
        self.composer.setPlaceholderText(
            "Ask anything — Enter to send, Ctrl+Enter to continue in the main window, Esc to close"
        )
        self.composer.cancelRequested.connect(self.hide_by_user)
        self.chat_view = TranscriptView()
        self.chat_view.setAccessibleName("Quick answer")
        self.chat_view.hide()
        self.open_button = QPushButton("Open in main window")
        self.open_button.setAccessibleName("Open in main window")
        self.open_button.clicked.connect(self.openInMainRequested)
        # Which model answers: the user sees it before asking.
        self.model_label = ElidedLabel()
        self.model_label.setObjectName("quickAskModel")
        self.model_label.setAccessibleName("Model")
        self.status = QLabel("Esc closes")
        self.status.setObjectName("quickAskStatus")
        # A long error wraps here instead of widening the window past the screen.
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout()
        row.addWidget(self.model_label, 1)
        row.addWidget(self.status, 2)
        row.addWidget(self.open_button)
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(10, 10, 10, 8)
        inner.addWidget(self.composer.attachment_bar)  # (a pasted screenshot shows here)
        inner.addWidget(self.composer)
        inner.addWidget(self.chat_view, 1)
        inner.addLayout(row)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        self.resize(680, 150)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide_by_user()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Ctrl+Enter in the question box: carry on in the main window.
        if watched is self.composer and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier
            ):
                self.openInMainRequested.emit()
                return True
        return super().eventFilter(watched, event)

    def hide_by_user(self) -> None:
        self.hide()
        self.closedByUser.emit()

    def show_answer_area(self) -> None:
        if not self.chat_view.isVisible():
            self.chat_view.show()
            self.resize(self.width(), 460)
            self._center()

    def present(self) -> None:
        """Show centred on the screen that has the mouse, on top, with keyboard focus."""
        self._center()
        self.show()
        self.raise_()
        self.activateWindow()
        self.composer.setFocus()

    def _center(self) -> None:
        screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        self.move(area.x() + (area.width() - self.width()) // 2, area.y() + (area.height() - self.height()) // 3)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.composer.setFocus()


class QuickAsk(QObject):
    """Runs quick asks: each opening of the window starts a new conversation in the history,
    on a chat of its own (core/chat.py), shown by the same presenter as the main window's."""

    def __init__(
        self,
        services: Services,
        open_in_main: Callable[[int | None, str], None],
        window: QuickAskWindow | None = None,
    ) -> None:
        super().__init__()
        self.window = window or QuickAskWindow()
        self.tools = services.tools
        self.open_in_main_window = open_in_main
        # A quick question keeps its first words as its title, as it always has.
        self.presenter = ChatPresenter(services, self.window.chat_view, self.window.composer, self, titles=False)
        self.chat = self.presenter.chat
        self.presenter.busyChanged.connect(self._busy_changed)
        self.presenter.replyFinished.connect(self._finished)
        self.presenter.noticeRaised.connect(self.window.status.setText)
        self.window.composer.attachment_bar.problem.connect(self.window.status.setText)
        self.presenter.statusChanged.connect(self._status)
        self.presenter.conversationChanged.connect(self._show_model)
        self.window.closedByUser.connect(self.chat.stop)
        self.window.openInMainRequested.connect(self.open_in_main)
        self.window.composer.installEventFilter(self.window)

    def toggle(self) -> None:
        if self.window.isVisible():
            self.window.hide_by_user()
        else:
            self.open()

    def open(self) -> None:
        warm_up_sdk()  # a question is coming: load the SDK while it is typed
        self.tools.warm_up()  # and the tool servers start
        if not self.window.isVisible():
            self.chat.new_chat()  # a new question, a new conversation
            self.window.chat_view.hide()
            self.window.resize(self.window.width(), 150)
            self.window.status.setText("Esc closes")
        self.window.present()

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            self.window.show_answer_area()
            self.window.status.setText("Answering… Esc stops")

    def _show_model(self) -> None:
        choice = self.chat.choice
        self.window.model_label.setText(f"{choice.model} · {choice.provider}")

    def _status(self, text: str) -> None:
        if text:  # (a reply's end says its own)
            self.window.status.setText(text)

    def _finished(self, reply: Message) -> None:
        self.window.status.setText(reply.error or "Esc closes · kept in your history")

    def open_in_main(self) -> None:
        """Carry on in the main window: the same conversation, and whatever is typed."""
        draft = self.window.composer.toPlainText()
        conversation = self.chat.conversation
        self.chat.stop()  # a reply still arriving is kept as stopped, with Continue
        self.window.composer.clear()
        self.window.hide()
        self.open_in_main_window(conversation.id if conversation else None, draft)

    def close(self) -> None:
        self.chat.shutdown()
        self.window.close()
