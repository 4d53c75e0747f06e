"""ChatPresenter: the Qt side of one ChatController. It shows the chat in a TranscriptView,
takes the user's words from a Composer, carries out the buttons under each message, and turns
what the controller reports into signals for the window around it. The main window and
quick ask each have one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from desktop_chat.core.chat import ChatController, ChatListener
from desktop_chat.core.conversation import Message, version_label
from desktop_chat.core.events import (
    AnswerWasReasoning,
    ReasoningDelta,
    ReasoningDetails,
    ReasoningWasAnswer,
    StreamEvent,
    TextDelta,
    ToolCallsChanged,
)
from desktop_chat.core.model_names import display_name
from desktop_chat.core.providers import NoEndpoint, ProviderError
from desktop_chat.core.services import Services
from desktop_chat.core.session import PendingReply, ReplyOutcome

from .actions import MessageAction
from .composer import Composer
from .transcript import MessageItem, TranscriptView


class ChatPresenter(QObject, ChatListener):
    busyChanged = Signal(bool)
    # Another conversation, or its title, provider or model changed.
    conversationChanged = Signal()
    # The reply (a Message) is final: streamed, failed or stopped.
    replyFinished = Signal(object)
    # Something the user must read; something passing for a status line ("" clears it).
    noticeRaised = Signal(str)
    statusChanged = Signal(str)
    # An earlier message of the user's is being edited in the composer (or no longer is).
    editingChanged = Signal(bool)
    # Another conversation (or a new chat) is shown.
    switched = Signal()
    # Tools were turned on or off for this chat.
    toolsChanged = Signal()

    def __init__(
        self,
        services: Services,
        view: TranscriptView,
        composer: Composer,
        parent: QObject | None = None,
        titles: bool = True,
    ) -> None:
        super().__init__(parent)
        self.view = view
        self.composer = composer
        self.chat: ChatController = services.chat(self, titles)
        self.store = services.store
        view.set_attachments(services.store.attachments)
        # Asked before a message is sent; False keeps it in the composer (the window says why).
        self.may_send: Callable[[], bool] = lambda: True
        # The message being edited, and what the composer held before the edit began.
        self.editing: int | None = None
        self._draft = ""
        self._shown_conversation: int | None = None
        # What was typed in each conversation and not sent, kept while another is shown.
        self._drafts: dict[int | None, str] = {}
        self._sending = False
        composer.submitted.connect(self.submit)
        composer.attachment_bar.changed.connect(self.check_images)
        self._listing: asyncio.Future[Any] | None = None
        view.messageAction.connect(self.act)
        view.toolAnswered.connect(self.chat.answer_tool)
        view.linkOpened.connect(self.statusChanged)
        self._actions: dict[MessageAction, Callable[[int], object]] = {
            MessageAction.COPY: self.copy,
            MessageAction.EDIT: self.begin_edit,
            MessageAction.REGENERATE: self.chat.regenerate,
            MessageAction.RETRY: self.chat.retry,
            MessageAction.CONTINUE: self.chat.continue_reply,
            MessageAction.PREVIOUS: lambda message_id: self.switch_version(message_id, -1),
            MessageAction.NEXT: lambda message_id: self.switch_version(message_id, +1),
        }

    # What the user does

    def submit(self, text: str) -> None:
        bar = self.composer.attachment_bar
        if self.chat.busy or not (text.strip() or bar.attachments) or not self.may_send():
            return  # (when it may not be sent, the text and the files stay where they are)
        if bar.pending:
            self.notice("A file is still being read; send again in a moment.")
            return
        self._sending = True  # (a new chat gets its conversation now: the text is not a draft)
        with_files = self.editing is None
        try:
            if self.editing is not None:
                task = self.chat.edit(self.editing, text)
            else:
                task = self.chat.send(text, bar.attachments)
        finally:
            self._sending = False
        if task is not None:
            self.editing, self._draft = None, ""
            self.editingChanged.emit(False)
            self.composer.clear()
            if with_files:
                bar.take()

    def act(self, action: MessageAction, message_id: int) -> None:
        self._actions[action](message_id)

    def stop_or_cancel(self) -> None:
        """Esc: stop the reply; when there is none, give up the edit."""
        if self.chat.busy:
            self.chat.stop()
        elif self.editing is not None:
            self.cancel_edit()

    def _message(self, message_id: int) -> Message | None:
        return self.chat.tree.messages.get(message_id) or self.store.message(message_id)

    def copy(self, message_id: int) -> None:
        message = self._message(message_id)
        if message is not None:
            QGuiApplication.clipboard().setText(message.content)
            self.statusChanged.emit("Message copied as markdown")

    def copy_last_reply(self) -> None:
        reply = self.chat.last_reply()
        if reply is not None:
            QGuiApplication.clipboard().setText(reply.content)
            self.statusChanged.emit("Last reply copied as markdown")

    def begin_edit(self, message_id: int) -> None:
        message = self._message(message_id)
        if message is None or message.role != "user" or self.chat.busy:
            return
        if self.editing is None:
            self._draft = self.composer.toPlainText()  # given back if the edit is given up
        self.editing = message_id
        self.composer.setPlainText(message.content)
        self.composer.setFocus()
        self.editingChanged.emit(True)

    def cancel_edit(self) -> None:
        if self.editing is None:
            return
        self.editing = None
        self.composer.setPlainText(self._draft)
        self._draft = ""
        self.editingChanged.emit(False)

    def switch_version(self, message_id: int, step: int) -> None:
        """Another version of a message, shown where the reader had it, not at the bottom."""
        top = self.view.message_top(message_id)
        shown = self.chat.select_version(message_id, step)
        if shown is not None and top is not None:
            self.view.scroll_to_message(shown, at=top)

    def reveal(self, message_id: int, text: str) -> None:
        """Scroll to a message of the branch shown and mark `text` in it."""
        self.view.reveal(message_id, text)

    def conversation_markdown(self) -> str:
        """The branch shown, as markdown: who wrote each message, and what."""
        names = self.view.look.names
        parts = []
        for message in self.chat.tree.path_to(self.chat.current_leaf()):
            who = "You" if message.role == "user" else names(message.model) if message.model else "Assistant"
            parts.append(f"**{who}:**\n\n{message.content}")
        return "\n\n---\n\n".join(parts) + "\n" if parts else ""

    def copy_conversation(self) -> None:
        text = self.conversation_markdown()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.statusChanged.emit("Conversation copied as markdown")

    def _item(self, message: Message) -> MessageItem:
        tree = self.chat.tree
        if message.id not in tree.messages:
            tree.add(message)
        position, count = version_label(tree, message)
        return MessageItem(message, position, count)

    # What the chat reports (ChatListener)

    def show_branch(self, leaf_id: int | None) -> None:
        # All of the branch: the view lays out only what is in sight.
        self.view.show_messages([self._item(m) for m in self.chat.tree.path_to(leaf_id)])

    def append_message(self, message: Message) -> None:
        self.view.append_message(self._item(message))
        self.view.scroll_to_end()  # what was just sent, and the reply after it, in view

    def reply_started(self, pending: PendingReply) -> None:
        self.view.begin_reply(pending.reply, prefix=pending.prefix)

    def stream_event(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self.view.append_delta(event.text)
        elif isinstance(event, ReasoningDelta):
            self.view.append_reasoning(event.text)
        elif isinstance(event, ReasoningDetails):
            self.view.append_reasoning("")
        elif isinstance(event, AnswerWasReasoning):
            self.view.answer_was_reasoning(event.text)
        elif isinstance(event, ReasoningWasAnswer):
            self.view.reasoning_was_answer(event.text)
        elif isinstance(event, ToolCallsChanged):
            self.view.tool_calls_changed(event.parts)

    def reply_finished(self, pending: PendingReply, outcome: ReplyOutcome | None) -> None:
        shown = self.chat.conversation
        if shown is not None and shown.id == pending.reply.conversation_id:
            self.view.end_reply(self._item(pending.reply))
        self.replyFinished.emit(pending.reply)

    def conversation_changed(self) -> None:
        shown = self.chat.conversation.id if self.chat.conversation else None
        if shown != self._shown_conversation:
            # Another conversation: no edit carries over, and what was typed stays with the
            # conversation it was typed in.
            self.cancel_edit()
            if not self._sending:
                self._drafts[self._shown_conversation] = self.composer.toPlainText()
                self.composer.setPlainText(self._drafts.pop(shown, ""))
            self._shown_conversation = shown
            self.switched.emit()
        self.check_images()
        self.conversationChanged.emit()

    def check_images(self) -> None:
        """With images attached, say before sending if the model chosen does not see them (as
        its provider's model list says; the list is asked for once, if not yet)."""
        bar = self.composer.attachment_bar
        if not any(a.part.image for a in bar.attachments):
            bar.set_blind_model("")
            return
        choice = self.chat.choice
        directory = self.chat.directory
        info = directory.model_info(choice.provider, choice.model)
        bar.set_blind_model(display_name(choice.model) if info.vision is False else "")
        if info.vision is None and directory.models_of(choice.provider) is None and self._listing is None:
            self._listing = asyncio.ensure_future(self._list_models(choice.provider))

    async def _list_models(self, provider: str) -> None:
        try:
            await self.chat.directory.list_models(provider)
        except (ProviderError, NoEndpoint):
            return  # (nobody says: nothing is assumed)
        finally:
            self._listing = None
        self.check_images()

    def busy_changed(self, busy: bool) -> None:
        self.busyChanged.emit(busy)

    def tools_changed(self) -> None:
        self.toolsChanged.emit()

    def notice(self, text: str) -> None:
        self.noticeRaised.emit(text)

    def status(self, text: str) -> None:
        self.statusChanged.emit(text)
