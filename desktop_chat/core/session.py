"""ChatSession: one reply's life, from the user's words to a saved, finished message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .attachments import Prepared, data_url, document_for_model
from .budget import Plan, plan
from .conversation import (
    COMPLETE,
    FAILED,
    STOPPED,
    STREAMING,
    AttachmentPart,
    Conversation,
    Message,
    Part,
    ReasoningPart,
    TextPart,
)
from .directory import ProviderDirectory
from .events import (
    AnswerWasReasoning,
    Failed,
    Failure,
    FailureKind,
    Finished,
    ReasoningDelta,
    ReasoningDetails,
    ReasoningWasAnswer,
    RequestTrimmed,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from .model_names import display_name
from .providers import ChatRequest, NoEndpoint
from .reasoning import ThinkHabits, ThinkSplitter, may_think_in_content, split_think
from .settings import SettingsStore
from .store import HistoryStore, StoreWriteError

# A crash loses at most this much received text (in seconds of streaming).
SAVE_INTERVAL_S = 1.0
TITLE_LENGTH = 48
TITLE_PROMPT = "Write a title of at most six words for this conversation. Reply with the title only."
CONTINUE_PROMPT = "Continue exactly where your last message stopped. Do not repeat anything already written."


@dataclass
class PendingReply:
    """A reply that is about to stream: its saved placeholder and where it goes."""

    conversation: Conversation
    reply: Message
    provider: str
    model: str
    # Continue: the text the reply already has; the model is asked to carry on after it.
    prefix: str = ""


@dataclass
class ReplyOutcome:
    message: Message
    failure: Failure | None = None
    # Set when the reply could not be saved (disk full, read-only): it was still shown.
    storage_problem: str | None = None


class ReplyParts:
    """A reply's parts as its events arrive: the answer's text, and the model's reasoning
    (its text, how long it took, what the provider wants back unchanged).

    `prior` are the parts a continued reply already had; `prefix` its text."""

    def __init__(
        self, prior: tuple[Part, ...] = (), prefix: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.started = clock()
        self.prior = tuple(p for p in prior if not isinstance(p, TextPart))
        self.prefix = prefix
        self.text: list[str] = []  # what this request added to the answer
        self.reasoning: list[str] = []
        self.details: list[object] = []
        self.reasoning_tokens = 0
        # When the answer's first words came (the end of thinking), or None.
        self.thought_until: float | None = None

    def add(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
            if self.thought_until is None:
                self.thought_until = self._clock()
        elif isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
        elif isinstance(event, ReasoningDetails):
            self.details.extend(event.items)
        elif isinstance(event, AnswerWasReasoning):
            # What was shown as answer is the start of the thought: the answer starts over.
            self.reasoning.insert(0, event.text)
            self.text = []
            self.thought_until = None
        elif isinstance(event, ReasoningWasAnswer):
            self.text.insert(0, event.text)
            thought = "".join(self.reasoning)
            at = thought.find(event.text)  # (reasoning from the provider's own field stays)
            thought = thought[:at] + thought[at + len(event.text) :] if at >= 0 and event.text else thought
            self.reasoning = [thought] if thought else []
            if self.thought_until is None:
                self.thought_until = self._clock()
        elif isinstance(event, UsageReport) and event.reasoning_tokens:
            self.reasoning_tokens = event.reasoning_tokens

    @property
    def answer(self) -> str:
        return self.prefix + "".join(self.text)

    @property
    def thought(self) -> bool:
        return bool(self.reasoning or self.details or self.reasoning_tokens)

    def reasoning_part(self, finished: bool = False) -> ReasoningPart | None:
        if not self.thought:
            return None
        end = self.thought_until if self.thought_until is not None else (self._clock() if finished else None)
        return ReasoningPart(
            "".join(self.reasoning),
            round(end - self.started, 1) if end is not None else None,
            {"reasoning_details": list(self.details)} if self.details else None,
        )

    def parts(self, finished: bool = False) -> tuple[Part, ...]:
        """The reply's parts as they stand; () when it is its text alone."""
        reasoning = self.reasoning_part(finished)
        kept: list[Part] = [*self.prior, *([reasoning] if reasoning else [])]
        return (*kept, TextPart(self.answer)) if kept else ()


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


class ChatSession:
    """Turns user intent into stored messages and a streamed reply.

    The UI calls prepare_* (quick, synchronous, writes to the store) and then awaits
    stream() in a task; cancelling that task is how Stop works.
    """

    def __init__(
        self,
        store: HistoryStore,
        directory: ProviderDirectory,
        settings: SettingsStore,
        habits: ThinkHabits | None = None,
    ) -> None:
        self.store = store
        self.directory = directory
        self.settings = settings
        self.habits = habits or ThinkHabits(None)

    def _placeholder(self, conversation: Conversation, parent_id: int) -> PendingReply:
        provider = conversation.provider or ""
        model = conversation.model or ""
        reply = self.store.add_message(
            conversation.id, parent_id, "assistant", "", status=STREAMING, provider=provider, model=model
        )
        return PendingReply(conversation, reply, provider, model)

    def prepare_send(self, conversation: Conversation, text: str, attachments: Sequence[Prepared] = ()) -> PendingReply:
        """Append the user's message (and what is attached to it: kept first) at the tip of
        the current branch, and a reply after it."""
        if not conversation.title:
            conversation.title = title_from(text or ", ".join(a.part.name for a in attachments))
            self.store.update_conversation(conversation.id, title=conversation.title)
        for attachment in attachments:
            self.store.attachments.put(attachment.data)
        parts: tuple[Part, ...] = (*(a.part for a in attachments), TextPart(text)) if attachments else ()
        parent = self.store.conversation(conversation.id)
        leaf = parent.current_leaf_id if parent else None
        user = self.store.add_message(conversation.id, leaf, "user", text, parts=parts)
        return self._placeholder(conversation, user.id)

    def prepare_edit(self, conversation: Conversation, user_message_id: int, text: str) -> PendingReply:
        """A new version of an earlier user message: a sibling, and a new branch from it."""
        original = self.store.message(user_message_id)
        if original is None or original.role != "user":
            raise ValueError("only a user message can be edited")
        user = self.store.add_message(conversation.id, original.parent_id, "user", text)
        return self._placeholder(conversation, user.id)

    def prepare_regenerate(self, conversation: Conversation, reply_id: int) -> PendingReply:
        """Another version of a reply; the old one stays as a sibling."""
        old = self.store.message(reply_id)
        if old is None or old.role != "assistant" or old.parent_id is None:
            raise ValueError("only a reply can be regenerated")
        return self._placeholder(conversation, old.parent_id)

    def prepare_retry(self, conversation: Conversation, reply_id: int) -> PendingReply:
        """Ask again for a reply that failed before any text came, in the same message."""
        reply = self.store.message(reply_id)
        if reply is None or reply.role != "assistant" or reply.content:
            raise ValueError("only a reply without text is asked for again in place")
        # (A failed try's thought goes with it: the new try thinks again.)
        self.store.update_message(
            reply.id,
            parts=(),
            status=STREAMING,
            error=None,
            finish_reason=None,
            prompt_tokens=None,
            completion_tokens=None,
        )
        reply.parts = ()
        reply.status, reply.error, reply.finish_reason = STREAMING, None, None
        reply.prompt_tokens = reply.completion_tokens = None
        provider = conversation.provider or reply.provider or ""
        model = conversation.model or reply.model or ""
        return PendingReply(conversation, reply, provider, model)

    def prepare_continue(self, conversation: Conversation, reply_id: int) -> PendingReply:
        """Carry on a reply that was cut short, appending to the same message."""
        reply = self.store.message(reply_id)
        if reply is None or reply.role != "assistant" or not reply.content:
            raise ValueError("only a reply with text can be continued")
        self.store.update_message(reply.id, status=STREAMING, error=None)
        reply.status, reply.error = STREAMING, None
        provider = conversation.provider or reply.provider or ""
        model = conversation.model or reply.model or ""
        return PendingReply(conversation, reply, provider, model, prefix=reply.content)

    async def suggest_title(self, conversation: Conversation) -> str | None:
        """Ask the conversation's model for a short title; None if that fails (the title stays)."""
        path = self.store.tree(conversation.id).path_to(conversation.current_leaf_id)
        exchange = "\n\n".join(f"{m.role}: {m.content[:1500]}" for m in path[:2])
        if not exchange or not conversation.model:
            return None
        request = ChatRequest(
            conversation.model,
            [
                {"role": "system", "content": TITLE_PROMPT},
                {"role": "user", "content": exchange},
            ],
        )
        try:
            endpoint = await self.directory.endpoint(conversation.provider or "", conversation.model or "")
        except NoEndpoint:
            return None
        parts = []
        async for event in self.directory.clients.stream_reply(
            endpoint, request, first_token_timeout=20, idle_timeout=10
        ):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, Failed):
                return None
        title = " ".join(split_think("".join(parts))[1].split()).strip(" \"'.#*")
        if not title:
            return None
        title = title_from(title)
        try:
            self.store.update_conversation(conversation.id, title=title)
        except StoreWriteError:
            return None  # the first words stay the title
        return title

    def request_for(self, pending: PendingReply) -> ChatRequest:
        tree = self.store.tree(pending.conversation.id)
        history = tree.path_to(pending.reply.parent_id)
        messages: list[dict[str, Any]] = []
        config = self.settings.current.provider(pending.provider)
        send_reasoning = config is not None and config.send_reasoning
        system = pending.conversation.system_prompt.strip() or self.directory.system_prompt(pending.provider)
        if system:
            messages.append({"role": "system", "content": system})
        # Tool output from an import has no tool call to answer; empty replies say nothing.
        sent = [
            m
            for m in history
            if m.role in ("user", "assistant", "system") and not (m.role == "assistant" and not m.content)
        ]
        reasonings = [m.reasoning for m in sent if send_reasoning and m.role == "assistant"]
        fit = self._fit(pending, sent, len(system) + sum(len(r.text) for r in reasonings if r is not None))
        for message in sent:
            entry: dict[str, Any] = {"role": message.role, "content": self._content(message, fit)}
            reasoning = message.reasoning if send_reasoning and message.role == "assistant" else None
            if reasoning is not None:
                if reasoning.text:
                    entry["reasoning_content"] = reasoning.text
                if reasoning.opaque and "reasoning_details" in reasoning.opaque:
                    entry["reasoning_details"] = reasoning.opaque["reasoning_details"]
            messages.append(entry)
        if pending.prefix:
            messages.append({"role": "assistant", "content": pending.prefix})
            messages.append({"role": "user", "content": CONTINUE_PROMPT})
        return ChatRequest(pending.model, messages, pending.conversation.temperature, tuple(fit.notes))

    def _fit(self, pending: PendingReply, history: list[Message], extra_chars: int) -> Plan:
        """How the attachments fit the model's context: the provider's word for it, else the
        settings' (core/budget.py)."""
        known = self.directory.model_info(pending.provider, pending.model).context
        context = known or self.settings.current.context_tokens
        return plan(history, context, display_name(pending.model), assumed=known is None, extra_chars=extra_chars)

    def _content(self, message: Message, fit: Plan | None = None) -> str | list[dict[str, Any]]:
        """What the model gets of a message: its text; with attachments, content parts (the
        text with each document in it, then each image as a data: URL), as much of them as
        `fit` lets go."""
        attached = [p for p in message.parts if isinstance(p, AttachmentPart)]
        if not attached or message.role != "user":
            return message.content
        fit = fit or Plan()
        documents = [
            document_for_model(p, fit.document_chars.get((message.id, p.digest), len(p.text)))
            for p in attached
            if not p.image
        ]
        text = "\n\n".join([*documents, message.content] if message.content else documents)
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for part in attached:
            if not part.image:
                continue
            if (message.id, part.digest) in fit.dropped_images:
                content.append(
                    {"type": "text", "text": f"[The image {part.name} was left out here to fit the context.]"}
                )
                continue
            data = self.store.attachments.get(part.digest)
            if data is None:
                content.append({"type": "text", "text": f"[The image {part.name} is no longer kept.]"})
                continue
            content.append({"type": "image_url", "image_url": {"url": data_url(part, data)}})
        return content

    async def stream(
        self,
        pending: PendingReply,
        on_event: Callable[[StreamEvent], None] | None = None,
        *,
        hold: bool = False,
    ) -> ReplyOutcome:
        """Stream the reply into the store, telling on_event about each event (the content
        already split into answer and reasoning: core/reasoning.py).

        `hold` keeps back text that may yet turn out to be reasoning (for a reader that
        cannot take text back), for a model never seen whose name says it may think. Saves the partial reply every SAVE_INTERVAL_S. On
        cancellation what came is saved with status 'stopped' and CancelledError propagates.
        """
        reply = pending.reply
        saving = _Saving(self.store)
        built = ReplyParts(reply.parts, pending.prefix)
        splitter = ThinkSplitter(
            self.habits.of(pending.provider, pending.model), hold=hold and may_think_in_content(pending.model)
        )
        failure: Failure | None = None
        last_save = time.monotonic()
        settings = self.settings.current

        def take(event: StreamEvent) -> None:
            nonlocal last_save
            built.add(event)
            if isinstance(event, TextDelta | ReasoningDelta | AnswerWasReasoning):
                now = time.monotonic()
                if now - last_save >= SAVE_INTERVAL_S:
                    last_save = now
                    saving.save(reply.id, content=built.answer, parts=built.parts())
            if on_event is not None:
                on_event(event)

        try:
            async for event in self._events(pending, settings.first_token_timeout, settings.idle_timeout):
                if isinstance(event, TextDelta):
                    for split in splitter.feed(event.text):
                        take(split)
                    continue
                if isinstance(event, Finished | Failed):
                    for split in splitter.finish(clean=_clean(event)):
                        take(split)
                if isinstance(event, UsageReport):
                    reply.prompt_tokens, reply.completion_tokens = event.prompt_tokens, event.completion_tokens
                elif isinstance(event, Finished):
                    reply.finish_reason = event.finish_reason
                elif isinstance(event, Failed):
                    failure = event.failure
                take(event)
        except asyncio.CancelledError:
            for split in splitter.finish(clean=False):
                built.add(split)
            saving.finish(reply, built, STOPPED, None)
            raise
        for split in splitter.finish(clean=False):  # (a stream ends with one of them: nothing left)
            take(split)
        if failure is None and reply.finish_reason not in UNFINISHED:
            self.habits.learn(pending.provider, pending.model, splitter, answered=bool(built.text))
        saving.finish(reply, built, FAILED if failure else COMPLETE, failure)
        return ReplyOutcome(reply, failure, saving.problem)

    async def _events(
        self, pending: PendingReply, first_token_timeout: float, idle_timeout: float
    ) -> AsyncIterator[StreamEvent]:
        """The reply's events; what stops it before anything is sent is a Failed event too."""
        try:
            if not pending.model:
                raise NoEndpoint("No model is chosen for this conversation. Pick one in the model list.")
            endpoint = await self.directory.endpoint(pending.provider, pending.model)
        except NoEndpoint as exc:
            yield Failed(Failure(FailureKind.SETUP, str(exc)))
            return
        request = self.request_for(pending)
        refusal = await self.directory.preflight(pending.provider, request)
        if refusal is not None:
            yield Failed(refusal)
            return
        if request.notes:
            yield RequestTrimmed(request.notes)
        async for event in self.directory.clients.stream_reply(
            endpoint, request, first_token_timeout=first_token_timeout, idle_timeout=idle_timeout
        ):
            yield event


# Finish reasons of a reply the model did not end itself: what it was thinking stays thought.
UNFINISHED = ("length", "content_filter")


def _clean(event: Finished | Failed) -> bool:
    return isinstance(event, Finished) and event.finish_reason not in UNFINISHED


class _Saving:
    """Writes one reply as it streams; a disk that refuses is noted once, and the reply goes
    on streaming and is shown all the same."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.problem: str | None = None

    def save(self, message_id: int, parts: tuple[Part, ...] | None = None, **fields: object) -> None:
        if self.problem is not None:
            return
        try:
            self.store.update_message(message_id, parts, **fields)
        except StoreWriteError as exc:
            self.problem = str(exc)

    def finish(self, reply: Message, built: ReplyParts, status: str, failure: Failure | None) -> None:
        reply.content, reply.parts, reply.status = built.answer, built.parts(finished=True), status
        reply.error = failure.message if failure else None
        self.problem = None  # the final state is worth one more try
        self.save(
            reply.id,
            content=reply.content,
            parts=reply.parts,
            status=status,
            error=reply.error,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            finish_reason=reply.finish_reason,
        )
        if self.problem is None:
            try:
                self.store.touch(reply.conversation_id)
            except StoreWriteError as exc:
                self.problem = str(exc)
