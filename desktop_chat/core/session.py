"""ChatSession: one reply's life, from the user's words to a saved, finished message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .attachments import Prepared, data_url, document_for_model
from .budget import CHARS_PER_TOKEN, Plan, context_words, fit_results, plan, reply_room
from .conversation import (
    COMPLETE,
    FAILED,
    STOPPED,
    STREAMING,
    TOOL_ASKED,
    TOOL_DECLINED,
    TOOL_RUNNING,
    AttachmentPart,
    Conversation,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    text_of,
    tool_calls,
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
    ToolCallDelta,
    ToolCallsChanged,
    ToolNote,
    UsageReport,
)
from .local_models import LOCAL_NAME
from .model_names import display_name
from .providers import ChatRequest, NoEndpoint
from .reasoning import ThinkHabits, ThinkSplitter, may_think_in_content, split_think
from .settings import SettingsStore
from .store import HistoryStore, StoreWriteError
from .tools.use import (
    DECLINED_RESULT,
    NO_ANSWER_RESULT,
    Answer,
    CallGathering,
    Decide,
    Toolbox,
    ToolUse,
    arguments_problem,
)

logger = logging.getLogger(__name__)

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
    (its text, how long it took, what the provider wants back unchanged); with tools, the
    rounds before this one (their text, thought and tool calls), kept in order.

    `prior` are the parts a continued reply already had; `prefix` its text."""

    def __init__(
        self, prior: tuple[Part, ...] = (), prefix: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.started = clock()
        frozen = list(prior)
        last = frozen[-1] if frozen else None
        if isinstance(last, TextPart):
            frozen.pop()
            prefix = last.text  # (a continued reply goes on from its last text)
        elif self._rounds(frozen):
            prefix = ""  # (its last round only thought, or only called tools: its text is in the rounds)
        # Parts before this round's: a continued reply's own, earlier rounds (never text
        # alone: a reply that is just its text keeps it in `prefix`).
        self.frozen: list[Part] = [p for p in frozen if not isinstance(p, TextPart) or self._rounds(frozen)]
        self.prefix = prefix
        self.told: set[str] = set()  # notes of this reply already given
        self.version = 0  # bumped whenever `frozen` changes
        self._start_round()

    @staticmethod
    def _rounds(parts: list[Part]) -> bool:
        return any(isinstance(p, ToolCallPart) for p in parts)

    def _start_round(self) -> None:
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

    def end_round(self, calls: list[ToolCallPart]) -> None:
        """This request's reply asked for tools: its thought, text and calls are kept as
        they are, and the next request's reply comes after them."""
        reasoning = self.reasoning_part(finished=True)
        round_text = self.prefix + "".join(self.text)
        # (Its text part even when empty: it marks where the round's calls begin.)
        self.frozen.extend([*([reasoning] if reasoning else []), TextPart(round_text)])
        self.frozen.extend(calls)
        self.version += 1
        self.prefix = ""
        self._start_round()

    def calls(self) -> list[ToolCallPart]:
        return [p for p in self.frozen if isinstance(p, ToolCallPart)]

    def restart_clock(self) -> None:
        self.started = self._clock()

    def set_call(self, call: ToolCallPart) -> None:
        """A call's new state (asked, running, its result), in its place."""
        for index, part in enumerate(self.frozen):
            if isinstance(part, ToolCallPart) and part.call_id == call.call_id:
                self.frozen[index] = call
                self.version += 1
                return

    def settle_calls(self) -> None:
        """The reply ends here (Stop): calls still waiting did not run."""
        self.frozen = [p.settled(STOPPED) if isinstance(p, ToolCallPart) else p for p in self.frozen]
        self.version += 1

    @property
    def answer(self) -> str:
        return text_of(self.parts()) if self.frozen else self.prefix + "".join(self.text)

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
        kept: list[Part] = [*self.frozen, *([reasoning] if reasoning else [])]
        text = self.prefix + "".join(self.text)
        if self._rounds(self.frozen) and not text:
            return tuple(kept)
        return (*kept, TextPart(text)) if kept else ()


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
        tools: ToolUse | None = None,
    ) -> None:
        self.store = store
        self.directory = directory
        self.settings = settings
        self.habits = habits or ThinkHabits(None)
        self.tools = tools
        # (provider, model) that refused a request offering tools: asked without from then on.
        self._no_tools: set[tuple[str, str]] = set()

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
        """Ask again for a reply that failed before any text came (or after tools ran: it goes
        on from them), in the same message."""
        reply = self.store.message(reply_id)
        if reply is None or reply.role != "assistant" or (reply.content and not tool_calls(reply.parts)):
            raise ValueError("only a reply without text, or one that used tools, is asked for again in place")
        # (A failed try's thought goes with it: the new try thinks again. Rounds of tool
        # calls that ran stay: they are not run again, the model goes on from them.)
        kept = _completed_rounds(reply.parts, reply.status)
        self.store.update_message(
            reply.id,
            parts=kept,
            status=STREAMING,
            error=None,
            finish_reason=None,
            prompt_tokens=None,
            completion_tokens=None,
        )
        reply.parts = kept
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
        if tool_calls(reply.parts):
            # Calls that were waiting when it ended did not run, and stay so.
            reply.parts = tuple(p.settled(reply.status) if isinstance(p, ToolCallPart) else p for p in reply.parts)
            self.store.update_message(reply.id, parts=reply.parts)
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

    def request_for(
        self, pending: PendingReply, built: ReplyParts | None = None, toolbox: Toolbox | None = None
    ) -> ChatRequest:
        """The request for the reply: the branch before it, then (with tools) its own rounds so
        far; `toolbox` the tools offered, or None."""
        built = built or ReplyParts(pending.reply.parts, pending.prefix)
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
            if m.role in ("user", "assistant", "system")
            and not (m.role == "assistant" and not m.content and not tool_calls(m.parts))
        ]
        reasonings = [m.reasoning for m in sent if send_reasoning and m.role == "assistant"]
        extra = len(system) + sum(len(r.text) for r in reasonings if r is not None)
        keyed = {_call_key(m.id, i): c for m in sent for i, c in enumerate(tool_calls(m.parts))}
        keyed |= {_call_key(pending.reply.id, i): c for i, c in enumerate(built.calls())}
        calls = list(keyed.values())
        extra += sum(len(c.arguments) + CALL_CHARS for c in calls) + len(text_of(built.frozen)) + len(built.prefix)
        # Tools' results share what the text leaves of the context (a 100,000-character
        # result would not fit an 8,192-token model); documents then share what is left.
        context, assumed = self._context(pending)
        lengths = {key: len(c.result) for key, c in keyed.items()}
        room = (context - reply_room(context)) * CHARS_PER_TOKEN - extra - sum(len(m.content) for m in sent)
        room -= CUT_NOTE_CHARS * len(lengths)  # (a result cut says so)
        cut = fit_results(lengths, room) if sum(lengths.values()) > room else {}
        extra += sum(min(length, cut.get(call_id, length)) for call_id, length in lengths.items())
        fit = self._fit(pending, sent, extra)
        for index, call in enumerate(built.calls()):
            key = _call_key(pending.reply.id, index)
            if key in cut:
                fit.tool_notes.append(
                    f"The result of {call.tool or call.name} ({call.server}) was cut to its first "
                    f"{cut[key]:,} of {len(call.result):,} characters to fit "
                    f"{context_words(display_name(pending.model), context, assumed)}."
                )
        structured = toolbox is not None
        for message in sent:
            if message.role == "assistant" and tool_calls(message.parts):
                messages.extend(_rounds(message.parts, message.status, send_reasoning, structured, cut, message.id))
                continue
            entry: dict[str, Any] = {"role": message.role, "content": self._content(message, fit)}
            reasoning = message.reasoning if send_reasoning and message.role == "assistant" else None
            if reasoning is not None:
                _add_reasoning(entry, reasoning)
            messages.append(entry)
        messages.extend(_rounds(tuple(built.frozen), STREAMING, send_reasoning, structured, cut, pending.reply.id))
        if built.prefix:
            messages.append({"role": "assistant", "content": built.prefix})
            messages.append({"role": "user", "content": CONTINUE_PROMPT})
        return ChatRequest(
            pending.model,
            messages,
            pending.conversation.temperature,
            tuple(fit.notes),
            toolbox.specs() if toolbox is not None else (),
            tuple(fit.tool_notes),
        )

    def _fit(self, pending: PendingReply, history: list[Message], extra_chars: int) -> Plan:
        """How the attachments fit the model's context: the provider's word for it, else the
        settings' (core/budget.py)."""
        context, assumed = self._context(pending)
        return plan(history, context, display_name(pending.model), assumed=assumed, extra_chars=extra_chars)

    def _context(self, pending: PendingReply) -> tuple[int, bool]:
        """The model's context in tokens, and whether it is the settings' guess."""
        known = self.directory.model_info(pending.provider, pending.model).context
        return known or self.settings.current.context_tokens, known is None

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
        decide: Decide | None = None,
    ) -> ReplyOutcome:
        """Stream the reply into the store, telling on_event about each event (the content
        already split into answer and reasoning: core/reasoning.py).

        `hold` keeps back text that may yet turn out to be reasoning (for a reader that
        cannot take text back), for a model never seen whose name says it may think. Saves the partial reply every SAVE_INTERVAL_S. On
        cancellation what came is saved with status 'stopped' and CancelledError propagates.

        With tools (the conversation allows them and servers are enabled), a reply that asks
        for tools has them run, each once `decide` allows it (or the user allowed it always),
        and the model is asked again with their results, round after round.
        """
        reply = pending.reply
        reply.finish_reason = None
        saving = _Saving(self.store)
        built = ReplyParts(reply.parts, pending.prefix)
        settings = self.settings.current
        last_save = time.monotonic()

        def tell(event: StreamEvent) -> None:
            if on_event is not None:
                on_event(event)

        def take(event: StreamEvent) -> None:
            nonlocal last_save
            built.add(event)
            if isinstance(event, TextDelta | ReasoningDelta | AnswerWasReasoning):
                now = time.monotonic()
                if now - last_save >= SAVE_INTERVAL_S:
                    last_save = now
                    saving.save_streaming(reply.id, built)
            tell(event)

        def changed(call: ToolCallPart | None = None) -> None:
            if call is not None:
                built.set_call(call)
            saving.save_streaming(reply.id, built)
            tell(ToolCallsChanged(tuple(built.frozen)))

        try:
            toolbox = await self._toolbox(pending, tell)
            rounds = 0
            while True:
                offered = toolbox if toolbox is not None and rounds < settings.tool_rounds else None
                if toolbox is not None and offered is None:
                    tell(
                        ToolNote(f"The model asked for tools {rounds} times in this reply; it is asked to answer now.")
                    )
                splitter, failure, calls = await self._round(pending, built, offered, take, hold, rounds)
                # (Calls when no tools were offered cannot be served: the reply ends there.)
                if failure is not None or not calls or offered is None or reply.finish_reason in UNFINISHED:
                    break
                rounds += 1
                calls = self._trusted_running(offered, _unique_ids(calls, built.calls(), rounds))
                built.end_round(calls)
                reply.finish_reason = None
                changed()
                await self._use_tools(built, offered, calls, decide, changed)
        except asyncio.CancelledError:
            built.settle_calls()
            saving.finish(reply, built, STOPPED, None)
            raise
        except Exception as exc:  # (a fault of ours must not leave the reply streaming for ever)
            logger.exception("the reply failed")
            built.settle_calls()
            failure = Failure(FailureKind.UNEXPECTED, f"The reply could not go on: {type(exc).__name__}: {exc}")
            saving.finish(reply, built, FAILED, failure)
            return ReplyOutcome(reply, failure, saving.problem)
        if failure is None and reply.finish_reason not in UNFINISHED:
            self.habits.learn(pending.provider, pending.model, splitter, answered=bool(built.text))
        saving.finish(reply, built, FAILED if failure else COMPLETE, failure)
        return ReplyOutcome(reply, failure, saving.problem)

    async def _round(
        self,
        pending: PendingReply,
        built: ReplyParts,
        toolbox: Toolbox | None,
        take: Callable[[StreamEvent], None],
        hold: bool,
        number: int,
    ) -> tuple[ThinkSplitter, Failure | None, list[ToolCallPart]]:
        """One request and its streamed reply: (the splitter, its failure, the tools it asked for)."""
        reply = pending.reply
        if number:
            built.restart_clock()  # (a round's thought is timed from its request, not from the consent)
        splitter = ThinkSplitter(
            self.habits.of(pending.provider, pending.model), hold=hold and may_think_in_content(pending.model)
        )
        settings = self.settings.current
        failure: Failure | None = None
        gathering = CallGathering()
        try:
            async for event in self._events(
                pending, built, toolbox, settings.first_token_timeout, settings.idle_timeout
            ):
                if isinstance(event, ToolCallDelta):
                    gathering.add(event)
                    continue
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
            raise
        for split in splitter.finish(clean=False):  # (a stream ends with one of them: nothing left)
            take(split)
        return splitter, failure, gathering.calls(toolbox, number) if gathering else []

    async def _toolbox(self, pending: PendingReply, tell: Callable[[StreamEvent], None]) -> Toolbox | None:
        """The tools this reply offers: None when the conversation does without, no server
        is enabled, or the model is known not to take them."""
        use = self.tools
        if use is None or not pending.conversation.tools or not use.any_enabled():
            return None
        if (pending.provider, pending.model) in self._no_tools or pending.provider == LOCAL_NAME:
            return None
        toolbox = await use.toolbox()
        for note in toolbox.notes:
            tell(ToolNote(note))
        return toolbox if toolbox.tools else None

    def _trusted_running(self, toolbox: Toolbox | None, calls: list[ToolCallPart]) -> list[ToolCallPart]:
        """Calls that need no asking (allowed always, or read-only by choice) run at once:
        their cards never ask."""
        if self.tools is None or toolbox is None:
            return calls
        use = self.tools
        return [
            replace(c, status=TOOL_RUNNING) if c.status == TOOL_ASKED and use.trusted(toolbox.tools[c.name]) else c
            for c in calls
        ]

    async def _use_tools(
        self,
        built: ReplyParts,
        toolbox: Toolbox | None,
        calls: list[ToolCallPart],
        decide: Decide | None,
        changed: Callable[[ToolCallPart], None],
    ) -> None:
        """Ask about each call (all at once), run each one allowed as soon as it is; a call
        declined is told to the model as declined."""
        use = self.tools
        if use is None or toolbox is None:
            return

        async def one(call: ToolCallPart) -> None:
            if call.status not in (TOOL_ASKED, TOOL_RUNNING):
                return  # (failed already: no such tool, arguments that are not JSON)
            tool = toolbox.tools[call.name]
            if call.status == TOOL_ASKED:
                answer = await decide(call, tool) if decide is not None else Answer.DENY
                if answer == Answer.DENY:
                    changed(
                        replace(
                            call,
                            status=TOOL_DECLINED,
                            result=DECLINED_RESULT if decide is not None else NO_ANSWER_RESULT,
                        )
                    )
                    return
                if answer == Answer.ALWAYS:
                    use.trust.allow(tool.server, tool.info)
                changed(replace(call, status=TOOL_RUNNING))
            changed(await use.run(tool, call))

        # (Each call ends before a fault in one is raised: none goes on after the reply ends.)
        ended = await asyncio.gather(*(one(call) for call in calls), return_exceptions=True)
        for outcome in ended:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _events(
        self,
        pending: PendingReply,
        built: ReplyParts,
        toolbox: Toolbox | None,
        first_token_timeout: float,
        idle_timeout: float,
    ) -> AsyncIterator[StreamEvent]:
        """The reply's events; what stops it before anything is sent is a Failed event too.
        A model or server that refuses tools is asked again without them, and that is said."""
        try:
            if not pending.model:
                raise NoEndpoint("No model is chosen for this conversation. Pick one in the model list.")
            endpoint = await self.directory.endpoint(pending.provider, pending.model)
        except NoEndpoint as exc:
            yield Failed(Failure(FailureKind.SETUP, str(exc)))
            return
        request = self.request_for(pending, built, toolbox)
        refusal = await self.directory.preflight(pending.provider, request)
        if refusal is not None:
            yield Failed(refusal)
            return
        if request.notes and not built.frozen:
            yield RequestTrimmed(request.notes)
        for note in request.tool_notes:
            if note not in built.told:  # (each round sends the results again: said once)
                built.told.add(note)
                yield ToolNote(note)
        said = False
        async for event in self.directory.clients.stream_reply(
            endpoint, request, first_token_timeout=first_token_timeout, idle_timeout=idle_timeout
        ):
            if isinstance(event, Failed) and not said and toolbox is not None and _refuses_tools(event.failure):
                self._no_tools.add((pending.provider, pending.model))
                yield ToolNote(
                    f"{display_name(pending.model)} does not take tools ({event.failure.message}); "
                    "it was asked again without them."
                )
                async for retried in self._events(pending, built, None, first_token_timeout, idle_timeout):
                    yield retried
                return
            said = True
            yield event


def _completed_rounds(parts: tuple[Part, ...], status: str) -> tuple[Part, ...]:
    """A reply's parts up to its last tool call (the rounds that ran, their calls settled);
    () for a reply that called none."""
    last = max((i for i, p in enumerate(parts) if isinstance(p, ToolCallPart)), default=-1)
    return tuple(p.settled(status) if isinstance(p, ToolCallPart) else p for p in parts[: last + 1])


def _unique_ids(calls: list[ToolCallPart], earlier: list[ToolCallPart], round_number: int) -> list[ToolCallPart]:
    """The round's calls, each with an id no other call of the reply has (some servers
    number their calls from 0 in every round): a result must answer one call only."""
    taken = {c.call_id for c in earlier}
    unique = []
    for call in calls:
        call_id, attempt = call.call_id, 0
        while call_id in taken:
            attempt += 1
            call_id = f"{call.call_id}_{round_number}_{attempt}"
        taken.add(call_id)
        unique.append(replace(call, call_id=call_id) if call_id != call.call_id else call)
    return unique


# Room kept for the note a cut result ends with.
CUT_NOTE_CHARS = 120
# What a call costs besides its arguments (its id, its name, the JSON around them).
CALL_CHARS = 100


def _refuses_tools(failure: Failure) -> bool:
    """A request refused because it offered tools: Ollama's "does not support tools",
    llama-server's "tools param requires --jinja", and the like."""
    text = failure.message.lower()
    said = "jinja" in text or (
        "tool" in text and any(w in text for w in ("support", "not enabled", "not allowed", "unknown", "unrecognized"))
    )
    return failure.kind in (FailureKind.BAD_REQUEST, FailureKind.SERVER) and said


def _add_reasoning(entry: dict[str, Any], reasoning: ReasoningPart) -> None:
    if reasoning.text:
        entry["reasoning_content"] = reasoning.text
    if reasoning.opaque and "reasoning_details" in reasoning.opaque:
        entry["reasoning_details"] = reasoning.opaque["reasoning_details"]


def _call_key(message_id: int, index: int) -> str:
    """A call's place: its message and its position there (ids repeat across replies)."""
    return f"{message_id}:{index}"


def _rounds(
    parts: tuple[Part, ...],
    status: str,
    send_reasoning: bool,
    structured: bool,
    cut: dict[str, int] | None = None,
    message_id: int = 0,
) -> list[dict[str, Any]]:
    """A reply that used tools, as the model is told of it: each round an assistant message
    with its text and tool calls, then a tool message per call with its result. Without
    tools offered (they are off now, or the model takes none) the calls are told as text."""
    entries: list[dict[str, Any]] = []
    text: list[str] = []
    calls: list[tuple[ToolCallPart, str]] = []  # (the call as it stands, its place)
    reasoning: ReasoningPart | None = None
    told: list[str] = []  # without tools: the whole reply, one assistant message

    def result(call: ToolCallPart, place: str) -> str:
        keep = (cut or {}).get(place)
        if not call.result:
            return "(the tool returned nothing)"
        if keep is None:
            return call.result
        return (
            call.result[:keep] + f"\n\n[Only the first {keep:,} of {len(call.result):,} characters of this result"
            " were sent, to fit the context.]"
        )

    def flush() -> None:
        nonlocal text, calls, reasoning
        if not (text or calls):
            return
        if structured and calls:
            entry: dict[str, Any] = {
                "role": "assistant",
                "content": "\n\n".join(text) or None,
                "tool_calls": [
                    {
                        "id": c.call_id,
                        "type": "function",
                        # (Arguments that are not a JSON object go back as {}: servers that
                        # parse them again refuse the whole request; the result said why.)
                        "function": {
                            "name": c.name,
                            "arguments": c.arguments
                            if not arguments_problem(c.arguments) and c.arguments.strip()
                            else "{}",
                        },
                    }
                    for c, _ in calls
                ],
            }
            if reasoning is not None:
                _add_reasoning(entry, reasoning)
            entries.append(entry)
            entries.extend({"role": "tool", "tool_call_id": c.call_id, "content": result(c, at)} for c, at in calls)
        else:
            told.extend(text)
            told.extend(
                f"[I called the tool {c.tool or c.name} with {c.arguments or '{}'}: {result(c, at)}]" for c, at in calls
            )
        text, calls, reasoning = [], [], None

    index = 0
    for part in parts:
        if isinstance(part, ToolCallPart):
            calls.append((part.settled(status), _call_key(message_id, index)))
            index += 1
        elif isinstance(part, TextPart):
            if calls:
                flush()
            if part.text:
                text.append(part.text)
        elif isinstance(part, ReasoningPart) and send_reasoning:
            if calls:
                flush()
            reasoning = part
    flush()
    if told:
        entries.append({"role": "assistant", "content": "\n\n".join(told)})
    return entries


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
        self._frozen_version: int | None = None  # ReplyParts.version at the last save

    def save_streaming(self, message_id: int, built: ReplyParts) -> None:
        """The reply so far, every second while it streams: the parts of its earlier rounds
        are written again only when they changed (a 100,000-character result costs ~11 ms
        through the full-text index)."""
        same = len(built.frozen) if self._frozen_version == built.version else 0
        self.save(message_id, content=built.answer, parts=built.parts(), unchanged=same)
        self._frozen_version = built.version

    def save(
        self, message_id: int, parts: tuple[Part, ...] | None = None, unchanged: int = 0, **fields: object
    ) -> None:
        if self.problem is not None:
            return
        try:
            self.store.update_message(message_id, parts, unchanged=unchanged, **fields)
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
