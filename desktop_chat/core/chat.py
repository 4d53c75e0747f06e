"""ChatController: one chat as the user drives it, whatever shows it.

It holds the conversation on screen and its branch tree, the provider and model the
chat uses, and the work in flight (the reply, a wait for Retry-After, a title); it
sends, edits, regenerates, continues, retries and stops. It is Qt-free: the main
window and quick ask drive it through a thin Qt adapter (ui/chat_presenter.py), and
`desktop-chat ask` drives it from the command line. What it needs to tell them goes
through a ChatListener.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from desktop_chat.errors import try_to_save

from .attachments import Prepared
from .conversation import Conversation, Message, MessageTree, ToolCallPart, tool_calls
from .directory import Choice
from .events import RequestTrimmed, StreamEvent, ToolNote
from .session import ChatSession, PendingReply, ReplyOutcome
from .settings import Settings
from .store import StoreWriteError
from .tools.use import Answer, Decide, OfferedTool


class ChatListener:
    """What a chat tells whoever shows it. Each method does nothing here: a view overrides
    what it shows."""

    def show_branch(self, leaf_id: int | None) -> None:
        """Show the conversation's branch that ends at leaf_id (None: an empty chat)."""

    def append_message(self, message: Message) -> None:
        """Add one message after those shown."""

    def reply_started(self, pending: PendingReply) -> None:
        """A reply starts streaming after what is shown."""

    def stream_event(self, event: StreamEvent) -> None:
        """A piece of the reply that is streaming."""

    def reply_finished(self, pending: PendingReply, outcome: ReplyOutcome | None) -> None:
        """The reply is final (outcome None: it was stopped)."""

    def conversation_changed(self) -> None:
        """Another conversation, or its title, provider or model changed."""

    def busy_changed(self, busy: bool) -> None:
        """A reply (or a wait before one) started or ended."""

    def notice(self, text: str) -> None:
        """Something the user must read: a change that could not be saved, say."""

    def status(self, text: str) -> None:
        """A passing word on what is going on ("" clears it)."""

    def tools_changed(self) -> None:
        """Tools were turned on or off for this chat."""


ReplyTask = asyncio.Task[ReplyOutcome | None]


class ChatController:
    def __init__(
        self,
        session: ChatSession,
        listener: ChatListener | None = None,
        titles: bool = True,
        hold: bool = False,
        decide: Decide | None = None,
    ) -> None:
        self.session = session
        self.store = session.store
        self.directory = session.directory
        self.settings = session.settings
        self.listener = listener or ChatListener()
        self.titles = titles
        # Keep back text that may yet turn out to be reasoning (`ask`: stdout cannot take it back).
        self.hold = hold
        self.conversation: Conversation | None = None
        self.tree = MessageTree()
        self.choice: Choice = self.directory.for_new_chats()
        # True while the choice is the one made for the user, not one they made.
        self._choice_is_default = True
        self.reply_task: asyncio.Task[ReplyOutcome | None] | None = None
        self.title_task: asyncio.Task[None] | None = None
        self._busy = False
        # Honour Retry-After: a Retry before then waits out the rest (time.monotonic()).
        self._retry_not_before = 0.0
        # Who answers whether a tool may run: given (`ask`), or the user through a card.
        self._decide = decide
        self._asked: dict[str, tuple[asyncio.Future[Answer], OfferedTool]] = {}
        self._tools_for_new_chat = True
        self.store.subscribe(self._store_changed)
        self.settings.subscribe(self._settings_changed)

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.listener.busy_changed(busy)

    # Which conversation

    def new_chat(self) -> None:
        self.stop()
        self.conversation = None
        self.tree = MessageTree()
        self.choice, self._choice_is_default = self.directory.for_new_chats(), True
        self.listener.conversation_changed()
        self.listener.show_branch(None)

    def open(self, conversation_id: int) -> bool:
        """Show a conversation (on the branch it was left on); False if there is none such."""
        conversation = self.store.conversation(conversation_id)
        if conversation is None:
            return False
        self.stop()
        self.conversation = conversation
        self.choice = self.directory.choose(conversation.provider, conversation.model)
        self._choice_is_default = False
        self.listener.conversation_changed()
        self._show(conversation.current_leaf_id)
        return True

    def open_at(self, conversation_id: int, message_id: int) -> bool:
        """Open a conversation on the branch that holds a message (a search hit)."""
        conversation = self.store.conversation(conversation_id)
        if conversation is None:
            return False
        if message_id not in {m.id for m in self.store.tree(conversation_id).path_to(conversation.current_leaf_id)}:
            self._write(lambda: self.store.select_branch(conversation_id, message_id))
        return self.open(conversation_id)

    def current_leaf(self) -> int | None:
        return self.conversation.current_leaf_id if self.conversation else None

    def show_current(self) -> None:
        """Show the conversation again, from the store (after a version switch, say)."""
        self._show(self.current_leaf())

    def _show(self, leaf_id: int | None) -> None:
        self.tree = self.store.tree(self.conversation.id) if self.conversation else MessageTree()
        self.listener.show_branch(leaf_id)

    def _store_changed(self, conversation_id: int | None) -> None:
        # Keep the conversation on screen as the store has it (a title written in the
        # background, a rename in the sidebar, the branch tip moved).
        current = self.conversation
        if current is None or conversation_id not in (None, current.id):
            return
        fresh = self.store.conversation(current.id)
        if fresh is None or fresh == current:
            return
        self.conversation = fresh
        if (fresh.provider, fresh.model) != (current.provider, current.model) and fresh.provider and fresh.model:
            # Changed elsewhere (a provider renamed): the chat sends where the conversation says.
            self.choice = Choice(fresh.provider, fresh.model)
        self.listener.conversation_changed()

    # The provider and model

    def set_choice(self, provider: str, model: str) -> None:
        """The user picked a provider and model for this chat."""
        choice = Choice(provider, model.strip())
        self._choice_is_default = False
        if choice == self.choice:
            return
        self.choice = choice
        if self.conversation is not None:
            self._write(self._write_choice)
        self.listener.conversation_changed()

    def keys_answered(self) -> None:
        """The keyring has answered: a new chat's default choice may be another one now."""
        if self.conversation is None and self._choice_is_default:
            self._rechoose(self.directory.for_new_chats())

    def _settings_changed(self, old: Settings, new: Settings) -> None:
        provider = self.choice.provider
        renamed = old.provider(provider)
        if renamed is not None:
            # A provider keeps its id through a rename: so does the chat's choice.
            provider = next((p.name for p in new.providers if p.id == renamed.id), provider)
        if self.conversation is None and self._choice_is_default:
            self._rechoose(self.directory.for_new_chats())
        else:
            self._rechoose(self.directory.choose(provider, self.choice.model))

    def _rechoose(self, choice: Choice) -> None:
        if choice != self.choice:
            self.choice = choice
            self.listener.conversation_changed()

    def _write_choice(self) -> None:
        conversation = self.conversation
        if conversation is not None and (conversation.provider, conversation.model) != (
            self.choice.provider,
            self.choice.model,
        ):
            self.store.update_conversation(conversation.id, provider=self.choice.provider, model=self.choice.model)

    # Tools

    @property
    def tools_on(self) -> bool:
        """Whether this chat's model is offered the enabled tool servers' tools."""
        return self.conversation.tools if self.conversation is not None else self._tools_for_new_chat

    def set_tools(self, on: bool) -> None:
        if on == self.tools_on:
            return
        if self.conversation is None:
            self._tools_for_new_chat = on
        else:
            conversation_id = self.conversation.id
            if not self._write(lambda: self.store.update_conversation(conversation_id, tools=int(on))):
                return
            self.conversation.tools = on
        self.listener.tools_changed()

    def waiting_for_consent(self) -> list[str]:
        """The ids of tool calls waiting for the user's answer."""
        return [call_id for call_id, (future, _) in self._asked.items() if not future.done()]

    def answer_tool(self, call_id: str, answer: Answer) -> bool:
        """The user's answer on a tool call's card; False if it was not waiting (any more).
        "Always" also lets the other calls of the same tool that wait run."""
        future, tool = self._asked.get(call_id, (None, None))
        if future is None or tool is None or future.done():
            return False
        future.set_result(answer)
        if answer == Answer.ALWAYS:
            for other, same in self._asked.values():
                if not other.done() and (same.server.id, same.info.name) == (tool.server.id, tool.info.name):
                    other.set_result(Answer.ONCE)
        return True

    async def _ask_user(self, call: ToolCallPart, tool: OfferedTool) -> Answer:
        if self._decide is not None:
            return await self._decide(call, tool)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._asked[call.call_id] = (future, tool)
        self.listener.status("A tool is waiting for you: allow or deny it on its card (Esc stops the reply)")
        try:
            return await future
        finally:
            self._asked.pop(call.call_id, None)
            if not self.waiting_for_consent():
                self.listener.status("")

    # This conversation's own settings

    def conversation_settings(self) -> tuple[str, float | None]:
        """(system prompt, temperature) of this chat: its own, or what a new one gets."""
        if self.conversation is not None:
            return self.conversation.system_prompt, self.conversation.temperature
        settings = self.settings.current
        return settings.system_prompt, settings.temperature

    def set_conversation_settings(self, system_prompt: str, temperature: float | None) -> bool:
        def write() -> None:
            conversation = self._ensure_conversation()
            self.store.update_conversation(conversation.id, system_prompt=system_prompt, temperature=temperature)

        return self._write(write)

    def _ensure_conversation(self) -> Conversation:
        """The conversation, made now if this is a new chat; its provider and model are the chat's."""
        if self.conversation is None:
            settings = self.settings.current
            self.conversation = self.store.create_conversation(
                provider=self.choice.provider,
                model=self.choice.model,
                system_prompt=settings.system_prompt,
                temperature=settings.temperature,
            )
            if not self._tools_for_new_chat:
                self.store.update_conversation(self.conversation.id, tools=0)
                self.conversation.tools = False
            self.listener.conversation_changed()
        else:
            self._write_choice()
        return self.conversation

    # Sending

    def send(self, text: str, attachments: Sequence[Prepared] = ()) -> ReplyTask | None:
        """Send a message (with files attached, prepared by core/attachments.py) at the tip
        of the current branch; the task streams the reply. None when nothing was sent (busy,
        empty, or the history refused it: then the listener is told why)."""
        if self.busy or not (text.strip() or attachments):
            return None
        try:
            pending = self.session.prepare_send(self._ensure_conversation(), text, attachments)
        except StoreWriteError as exc:
            self.listener.notice(f"{exc} Your message was not sent.")
            return None
        user = self.store.message(pending.reply.parent_id or 0)
        if user is not None:
            self.tree.add(user)
            self.listener.append_message(user)
        return self._start(pending)

    def edit(self, message_id: int, text: str) -> ReplyTask | None:
        """Send a new version of an earlier message of the user's: a new branch from it."""
        if self.busy or not text.strip() or self.conversation is None:
            return None
        try:
            pending = self.session.prepare_edit(self._ensure_conversation(), message_id, text)
        except StoreWriteError as exc:
            self.listener.notice(f"{exc} Your message was not sent.")
            return None
        self._show(pending.reply.parent_id)
        return self._start(pending)

    def regenerate(self, reply_id: int) -> ReplyTask | None:
        """Another version of a reply; the old one stays, one arrow away."""
        message = self.tree.messages.get(reply_id) or self.store.message(reply_id)
        if self.busy or self.conversation is None or message is None or message.role != "assistant":
            return None
        try:
            pending = self.session.prepare_regenerate(self._ensure_conversation(), reply_id)
        except StoreWriteError as exc:
            self.listener.notice(str(exc))
            return None
        self._show(pending.reply.parent_id)
        return self._start(pending)

    def regenerate_last(self) -> ReplyTask | None:
        leaf = self.current_leaf()
        last = self.store.message(leaf) if leaf is not None else None
        return self.regenerate(last.id) if last is not None and last.role == "assistant" else None

    def retry(self, reply_id: int) -> ReplyTask | None:
        """Regenerate a failed reply; after a 429 that said when, wait until then first."""
        if self.busy:
            return None
        wait = self._retry_not_before - time.monotonic()
        if wait <= 0:
            return self._retry_now(reply_id)
        self._set_busy(True)
        self.reply_task = asyncio.ensure_future(self._retry_later(reply_id, wait))
        return self.reply_task

    async def _retry_later(self, reply_id: int, wait: float) -> ReplyOutcome | None:
        try:
            while wait > 0:
                self.listener.status(f"Rate limited: retrying in {wait:.0f} s, as the provider asked (Esc cancels)")
                await asyncio.sleep(min(1.0, wait))
                wait = self._retry_not_before - time.monotonic()
        finally:
            self._set_busy(False)
            self.listener.status("")
        self._retry_now(reply_id)  # the reply task from here on
        return None

    def _retry_now(self, reply_id: int) -> ReplyTask | None:
        """A reply that failed before any text came is asked for again in its own place:
        failed tries do not pile up as versions. One with text keeps it, as a version."""
        reply = self.tree.messages.get(reply_id) or self.store.message(reply_id)
        if reply is None or (reply.content and not tool_calls(reply.parts)) or self.conversation is None:
            return self.regenerate(reply_id)  # (a reply that used tools goes on from them: they are not run twice)
        try:
            pending = self.session.prepare_retry(self._ensure_conversation(), reply_id)
        except StoreWriteError as exc:
            self.listener.notice(str(exc))
            return None
        self._show(reply.parent_id)
        return self._start(pending)

    def continue_reply(self, reply_id: int) -> ReplyTask | None:
        """Ask the model to carry on a reply that was cut short, in the same message."""
        reply = self.tree.messages.get(reply_id) or self.store.message(reply_id)
        if self.busy or self.conversation is None or reply is None or not reply.content:
            return None
        conversation = self.conversation
        try:
            # The branch first: if the disk refuses it, the reply is left as it was.
            self.store.select_branch(conversation.id, reply_id)
            pending = self.session.prepare_continue(self._ensure_conversation(), reply_id)
        except StoreWriteError as exc:
            self.listener.notice(str(exc))
            return None
        self._show(reply.parent_id)
        return self._start(pending)

    def select_version(self, message_id: int, step: int) -> int | None:
        """Show the previous (-1) or next (+1) version of a message, and the branch it starts;
        returns the version now shown (None if there is none that way)."""
        if self.busy or self.conversation is None or message_id not in self.tree.messages:
            return None
        siblings = self.tree.siblings(message_id)
        index = [m.id for m in siblings].index(message_id) + step
        conversation_id = self.conversation.id
        if 0 <= index < len(siblings) and self._write(
            lambda: self.store.select_branch(conversation_id, siblings[index].id)
        ):
            self.show_current()
            return siblings[index].id
        return None

    def last_reply(self) -> Message | None:
        replies = [m for m in self.tree.path_to(self.current_leaf()) if m.role == "assistant" and m.content]
        return replies[-1] if replies else None

    def _start(self, pending: PendingReply) -> ReplyTask:
        self.tree.add(pending.reply)
        self.listener.reply_started(pending)
        self._set_busy(True)
        self.reply_task = asyncio.ensure_future(self._run(pending))
        return self.reply_task

    async def _run(self, pending: PendingReply) -> ReplyOutcome | None:
        outcome = None
        try:
            outcome = await self.session.stream(pending, self._stream_event, hold=self.hold, decide=self._ask_user)
        finally:
            # Final in memory, even when the disk refused it (unless another chat is shown by now).
            if self.conversation is not None and self.conversation.id == pending.reply.conversation_id:
                self.tree.add(pending.reply)
            self.listener.reply_finished(pending, outcome)
            self._set_busy(False)
        assert outcome is not None  # (stream() returns or raises)
        if outcome.storage_problem:
            self.listener.notice(f"{outcome.storage_problem} The reply is shown but will not be in your history.")
        if outcome.failure is not None:
            self.listener.status(outcome.failure.message)
            if outcome.failure.retry_after:
                self._retry_not_before = time.monotonic() + outcome.failure.retry_after
        elif self.titles and self.settings.current.model_titles and self._is_first_exchange(pending):
            self.title_task = asyncio.ensure_future(self._title(pending.conversation.id))
        return outcome

    def _stream_event(self, event: StreamEvent) -> None:
        if isinstance(event, RequestTrimmed):
            self.listener.notice(" ".join(event.notes))
        elif isinstance(event, ToolNote):
            self.listener.notice(event.text)
        else:
            self.listener.stream_event(event)

    def _is_first_exchange(self, pending: PendingReply) -> bool:
        user = self.tree.messages.get(pending.reply.parent_id or 0)
        return user is not None and user.parent_id is None and len(self.tree.children(None)) == 1

    async def _title(self, conversation_id: int) -> None:
        # In the background: the first words stay the title if the model cannot help.
        # The store tells this controller (and the sidebar) when the title is written.
        conversation = self.store.conversation(conversation_id)
        if conversation is not None:
            await self.session.suggest_title(conversation)

    def _write(self, change: Callable[[], object]) -> bool:
        """Run a change to the history; if the disk refuses it, say so and go on."""
        return try_to_save(change, self.listener.notice)

    # Ending

    def stop(self) -> None:
        """Stop the reply (kept, marked stopped) or the wait before one."""
        if self.reply_task is not None and not self.reply_task.done():
            self.reply_task.cancel()

    def shutdown(self) -> None:
        self.stop()
        if self.title_task is not None:
            self.title_task.cancel()

    @property
    def idle(self) -> bool:
        """Nothing in flight: no reply, no wait before one, no title being asked for."""
        return all(t is None or t.done() for t in (self.reply_task, self.title_task))

    async def wait(self) -> None:
        """Let cancelled work finish its clean-up (a stopped reply is saved as stopped)."""
        tasks: list[asyncio.Task[ReplyOutcome | None] | asyncio.Task[None]] = [
            t for t in (self.reply_task, self.title_task) if t is not None and not t.done()
        ]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
