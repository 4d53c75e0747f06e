"""`desktop-chat ask`: one reply streamed to stdout, through the same chat controller as the
window; the exchange is kept in the history (as `llm` logs every prompt) unless -n."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from .core.attachments import AttachmentError, Prepared, prepare_bytes, prepare_file
from .core.chat import ChatController, ChatListener
from .core.conversation import TOOL_ASKED, TOOL_DECLINED, TOOL_DONE, TOOL_ERROR, TOOL_RUNNING, ToolCallPart
from .core.events import ReasoningDelta, ReasoningWasAnswer, StreamEvent, TextDelta, ToolCallsChanged
from .core.paths import AppPaths
from .core.providers import NoEndpoint
from .core.services import HistoryUse, Services, open_services
from .core.store import StoreError
from .core.tools.use import Answer, OfferedTool


def fail(message: str, code: int) -> int:
    print(f"desktop-chat: {message}", file=sys.stderr)
    return code


def read_prompt(prompt: str | None) -> str | None:
    if prompt is not None:
        return prompt
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return sys.stdin.read()


# `-c` alone (argparse gives ""): the conversation with the latest activity.
LATEST = ""


async def ask(args: argparse.Namespace, paths: AppPaths) -> int:
    """Ask, print the reply; the exit code. A reader that went away (`| head`) raises
    BrokenPipeError, which cli.main ends quietly."""
    continue_id = args.continue_id
    prompt = args.prompt
    if continue_id not in (None, LATEST) and not continue_id.isdigit():
        # `ask -c "a question"`: -c took the prompt for an id.
        if prompt is not None:
            return fail(f"-c takes a conversation id, not {continue_id!r}", 2)
        continue_id, prompt = LATEST, continue_id
    if continue_id is not None and args.no_log:
        return fail("--continue carries on a conversation in the history; it cannot be used with --no-log", 2)
    files: list[str] = args.attachment
    if "-" in files and prompt is None:
        return fail("-a - reads the attachment from stdin: give the prompt as an argument", 2)
    prompt = prompt if "-" in files else read_prompt(prompt)
    if prompt is None:
        return fail("no prompt given (pass it as an argument or on stdin)", 2)
    if not prompt.strip() and not files:
        return fail("the prompt is empty", 2)
    try:
        attachments = [_attachment(file) for file in files]
    except AttachmentError as exc:
        return fail(f"{exc} Nothing was sent.", 2)
    try:
        services = open_services(paths, HistoryUse.NONE if args.no_log else HistoryUse.COMMAND)
    except (StoreError, OSError) as exc:
        return fail(f"{exc} (--no-log asks without the history)", 2)
    for notice in services.notices:
        print(f"desktop-chat: {notice}", file=sys.stderr)
    reply = PrintReply(sys.stdout, sys.stderr if args.reasoning else None)
    try:
        # No title is asked for: the command ends with its reply (the first words are the title).
        chat = services.chat(reply, titles=False, hold=True, decide=TerminalConsent(args.allow_tools))
        if args.no_tools:
            chat.set_tools(False)
        return await _ask(services, chat, reply, args, continue_id, prompt, attachments)
    finally:
        await services.aclose()
        services.close()


async def _ask(
    services: Services,
    chat: ChatController,
    reply: PrintReply,
    args: argparse.Namespace,
    continue_id: str | None,
    prompt: str,
    attachments: list[Prepared],
) -> int:
    directory = services.directory
    provider, model = args.ask_provider or args.provider, args.ask_model or args.model
    if provider and provider not in directory.names():
        return fail(f"unknown provider '{provider}' (known: {', '.join(directory.names())})", 2)
    if continue_id is not None:
        store = services.store
        latest = store.latest_conversation()
        target = (latest.id if latest else None) if continue_id == LATEST else int(continue_id)
        if target is None:
            return fail("there is no conversation to continue", 2)
        if store.in_trash(target):
            return fail(f"conversation {target} is in the trash (Undo it in the window first)", 2)
        if not chat.open(target):
            return fail(f"no conversation {target}", 2)
        if provider or model:
            choice = directory.choose(provider or chat.choice.provider, model)
            chat.set_choice(choice.provider, choice.model)
    else:
        directory.preferred = (provider, model)
        chat.new_chat()
    try:
        directory.check_endpoint(chat.choice.provider)
    except NoEndpoint as exc:
        return fail(str(exc), 2)
    if args.system is not None or args.temperature is not None:
        system, temperature = chat.conversation_settings()
        chosen_system = args.system if args.system is not None else system
        chosen_temperature = args.temperature if args.temperature is not None else temperature
        if not chat.set_conversation_settings(chosen_system, chosen_temperature):
            return 1  # (why was said on stderr)
    task = chat.send(prompt, attachments)
    if task is None:
        return 1
    try:
        outcome = await task
    except asyncio.CancelledError:
        if not reply.closed:
            raise  # Ctrl+C: the reply is kept as stopped; cli.main ends with 130
        raise BrokenPipeError from None  # (the reply is kept as stopped)
    reply.end_line()
    if outcome is not None and outcome.failure is not None:
        return fail(outcome.failure.message, 1)
    return 0


class TerminalConsent:
    """Whether a tool may run, for `ask`: every call with --allow-tools; else the user is
    asked on the terminal (/dev/tty, so also when stdin is piped); with no terminal to ask
    on, each call is declined and that is said on stderr."""

    def __init__(self, allow_all: bool, tty: str = "/dev/tty") -> None:
        self.allow_all = allow_all
        self.tty = tty
        self._one_at_a_time = asyncio.Lock()  # (parallel calls are asked in turn)
        # Tools answered "always" (kept by the session as the window keeps it): a call of
        # the same tool already waiting beside it is not asked again.
        self._always: set[tuple[str, str]] = set()

    async def __call__(self, call: ToolCallPart, tool: OfferedTool) -> Answer:
        name = f"{tool.info.name} of {tool.server.name}"
        if self.allow_all:
            print(f"desktop-chat: running the tool {name} (--allow-tools)", file=sys.stderr)
            return Answer.ONCE
        async with self._one_at_a_time:
            if (tool.server.id, tool.info.name) in self._always:
                return Answer.ONCE
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(None, self._ask, name, call.arguments or "{}")
            if answer is Answer.ALWAYS:
                self._always.add((tool.server.id, tool.info.name))
            return answer

    def _ask(self, name: str, arguments: str) -> Answer:
        try:
            # (Apart: a terminal opened for both cannot be a text file, it is not seekable.)
            with (
                open(self.tty, "w", encoding="utf-8", errors="replace") as out,
                open(self.tty, encoding="utf-8", errors="replace") as answer,
            ):
                shown = arguments if len(arguments) <= 2000 else arguments[:2000] + " …"
                out.write(f"\nThe model asks to run the tool {name} with {shown}\nAllow it? [y]es / [a]lways / [N]o: ")
                out.flush()
                said = answer.readline().strip().lower()
        except OSError:
            print(
                f"desktop-chat: the model asked to run the tool {name}; there is no terminal to ask on, so it was "
                "declined (--allow-tools allows tool calls)",
                file=sys.stderr,
            )
            return Answer.DENY
        if said in ("a", "always"):
            return Answer.ALWAYS
        return Answer.ONCE if said in ("y", "yes") else Answer.DENY


def _attachment(file: str) -> Prepared:
    if file == "-":
        return prepare_bytes(sys.stdin.buffer.read(), "stdin")
    return prepare_file(file)


class PrintReply(ChatListener):
    """Writes the reply's answer to stdout as it streams, and its reasoning to `thinking`
    (stderr with --reasoning) when asked; what the user must read goes to stderr."""

    def __init__(self, out: TextIO, thinking: TextIO | None = None) -> None:
        self.out = out
        self.thinking = thinking
        self.thinking_last = "\n"
        self.closed = False
        self.last = "\n"
        self.told_calls: set[str] = set()

    def stream_event(self, event: StreamEvent) -> None:
        if isinstance(event, ToolCallsChanged):
            self.tool_calls(event.calls)
            return
        if isinstance(event, ReasoningDelta) and self.thinking is not None:
            self.thinking.write(event.text)
            self.thinking.flush()
            self.thinking_last = event.text[-1:]
            return
        if not isinstance(event, TextDelta | ReasoningWasAnswer) or self.closed:
            return
        if self.thinking is not None and self.thinking_last != "\n":
            self.thinking.write("\n")  # the thought ends; the answer starts on stdout
            self.thinking_last = "\n"
        try:
            self.out.write(event.text)
            self.out.flush()
        except BrokenPipeError:
            # Nobody reads any more: stop the reply (it is kept, marked stopped).
            self.closed = True
            task = asyncio.current_task()
            if task is not None:
                task.cancel()
            return
        self.last = event.text[-1:]

    def notice(self, text: str) -> None:
        print(f"desktop-chat: {text}", file=sys.stderr)

    def tool_calls(self, calls: tuple[ToolCallPart, ...]) -> None:
        """Each call's outcome, once, on stderr (stdout is the answer alone)."""
        for call in calls:
            if call.status in (TOOL_ASKED, TOOL_RUNNING) or call.call_id in self.told_calls:
                continue
            self.told_calls.add(call.call_id)
            where = f" of {call.server}" if call.server else ""
            said = {TOOL_DONE: "ran", TOOL_DECLINED: "was declined"}.get(call.status, "failed")
            detail = f": {call.result.splitlines()[0][:200]}" if call.status == TOOL_ERROR and call.result else ""
            print(f"desktop-chat: the tool {call.tool or call.name}{where} {said}{detail}", file=sys.stderr)

    def end_line(self) -> None:
        if self.last != "\n":
            self.out.write("\n")
            self.out.flush()
