"""What a streamed reply is made of, above the wire: typed events, and the one function
that turns a server's chunk (already JSON) into them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from desktop_chat.errors import DesktopChatError

from .conversation import Part, ToolCallPart


class FailureKind(StrEnum):
    """Why a reply failed. The UI offers Retry for all; some carry more (retry_after)."""

    AUTH = "auth"  # 401, 403
    NOT_FOUND = "not_found"  # 404: the model or the address
    RATE_LIMIT = "rate_limit"  # 429, with retry_after when the server said when
    SERVER = "server"  # 5xx
    BAD_REQUEST = "bad_request"  # any other 4xx
    HTML = "html"  # a web page instead of the API: wrong URL, proxy, captive portal
    CONNECTION = "connection"  # refused, unreachable
    DNS = "dns"  # the host name did not resolve
    TIMEOUT = "timeout"  # the SDK's own timeout
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"  # nothing arrived in time
    IDLE_TIMEOUT = "idle_timeout"  # the reply stopped arriving
    CUT = "cut"  # the connection broke mid-reply
    INTERRUPTED = "interrupted"  # the body ended with no finish reason and no [DONE]
    MALFORMED = "malformed"  # a chunk that is not a chat completion chunk
    STREAM_ERROR = "stream_error"  # an error object inside a 200 stream
    UNEXPECTED = "unexpected"  # anything else, named
    SETUP = "setup"  # no key, no model, an unknown provider: nothing was sent
    CONTEXT = "context"  # the conversation is longer than the model's context


@dataclass(frozen=True)
class Failure:
    """What went wrong, in words for the user, plus what the UI needs to offer a retry."""

    kind: FailureKind
    message: str
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDetails:
    """Reasoning the provider wants back unchanged (OpenRouter's `reasoning_details`:
    summaries, encrypted blobs), as it came."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class AnswerWasReasoning:
    """The text given so far as answer was the model thinking: a closing `</think>` came
    with no opening one (core/reasoning.py). Whoever shows or keeps the reply moves it."""

    text: str


@dataclass(frozen=True)
class ReasoningWasAnswer:
    """The reverse: a model known to think without an opening tag ended without closing
    one, so what was given as reasoning was its answer."""

    text: str


@dataclass(frozen=True)
class UsageReport:
    prompt_tokens: int | None
    completion_tokens: int | None
    # Tokens the model spent thinking (completion_tokens_details.reasoning_tokens): how a
    # model that thinks without sending its thoughts is known to have thought.
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class Finished:
    finish_reason: str


@dataclass(frozen=True)
class Failed:
    failure: Failure


@dataclass(frozen=True)
class RequestTrimmed:
    """Before the reply: what of the conversation's attachments was cut or left out to fit
    the model's context (core/budget.py), said for the user."""

    notes: tuple[str, ...]


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call the model is writing: the first piece of call `index` has its
    id and function name, the arguments (JSON text) come in pieces after."""

    index: int
    call_id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class ToolCallsChanged:
    """The reply's rounds so far as they now stand: their text and thought, and their tool
    calls (asked, running, done…: a card each)."""

    parts: tuple[Part, ...]

    @property
    def calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))


@dataclass(frozen=True)
class ToolNote:
    """Something about the tools the user should know (a server that did not start, a
    model that takes no tools), said in words."""

    text: str


StreamEvent = (
    TextDelta
    | ReasoningDelta
    | ReasoningDetails
    | AnswerWasReasoning
    | ReasoningWasAnswer
    | UsageReport
    | Finished
    | Failed
    | RequestTrimmed
    | ToolCallDelta
    | ToolCallsChanged
    | ToolNote
)


class MalformedChunk(DesktopChatError, ValueError):
    """A chunk of the stream that is valid JSON but not a chat completion chunk."""


def chunk_events(chunk: Any) -> list[StreamEvent]:
    """Turn one chunk (the JSON object the server sent) into our events. Only the
    first choice is shown; anything not shaped like a chunk is malformed."""
    if not isinstance(chunk, dict):
        raise MalformedChunk(f"a chunk that is not an object: {str(chunk)[:80]}")
    events: list[StreamEvent] = []
    choices = chunk.get("choices")
    if choices is None:
        choices = []
    if not isinstance(choices, list):
        raise MalformedChunk("'choices' is not a list")
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events.append(ReasoningDelta(reasoning))
            details = delta.get("reasoning_details")
            if isinstance(details, list) and details:
                events.append(ReasoningDetails(tuple(details)))
            for key in ("content", "refusal"):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    events.append(TextDelta(text))
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                events.extend(_tool_call_deltas(calls))
        finish_reason = choice.get("finish_reason")
        if isinstance(finish_reason, str) and finish_reason:
            events.append(Finished(finish_reason))
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        x_groq = chunk.get("x_groq")  # Groq puts it here
        usage = x_groq.get("usage") if isinstance(x_groq, dict) else None
    if isinstance(usage, dict):
        details = usage.get("completion_tokens_details")
        events.append(
            UsageReport(
                _count(usage, "prompt_tokens"),
                _count(usage, "completion_tokens"),
                _count(details, "reasoning_tokens") if isinstance(details, dict) else None,
            )
        )
    return events


def _tool_call_deltas(calls: list[Any]) -> list[StreamEvent]:
    """Pieces of tool calls. Servers differ: OpenAI sends the id and name once, then
    arguments; Qwen repeats an empty id; some send a whole call at once and no index
    (its place in the list is its index then); some send arguments as an object."""
    events: list[StreamEvent] = []
    for position, call in enumerate(calls):
        if not isinstance(call, dict):
            continue
        index = call.get("index")
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):
            arguments = json.dumps(arguments, ensure_ascii=False)
        call_id, name = call.get("id"), function.get("name")
        events.append(
            ToolCallDelta(
                index if isinstance(index, int) and not isinstance(index, bool) else position,
                call_id if isinstance(call_id, str) else "",
                name if isinstance(name, str) else "",
                arguments if isinstance(arguments, str) else "",
            )
        )
    return events


def _count(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
