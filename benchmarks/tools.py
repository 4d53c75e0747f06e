"""A tool round trip in the real window (issue 15): the model asks for a tool, the app runs
it on a real MCP server and sends the result back; the app's own time for that, against
a bare SDK client calling the same tool on the same kind of server and posting the same
request, in the same run; how long the window's event loop waits meanwhile.

The window (offscreen, qasync) has one tool server configured, our fake MCP server
(`python -m tests.fakes.mcp_server`, stdio, through the app's launcher as always on
Linux), its `add` tool allowed always (so no consent is waited for), and a loopback model
scripted by what it is sent: a request whose last message is the user's gets a tool call
to `add` (its arguments in three pieces, as OpenAI streams them), one whose last message
is the tool's result gets a short text. Each round is a new chat, a question typed and
Send clicked.

Figures (medians of the timed rounds, after one untimed first round):
- app_round_trip_ms (and _min, _max): the last byte of the reply that asks for the tool
  handed to the kernel by the server (its clock just before the write) to the whole second
  POST, the one carrying the result, in the server's socket (the kernel's receive
  timestamp, SO_TIMESTAMPNS; `wire_clock` says so): what the app adds to a tool call,
  from the stream's end to the result on the wire, with no time waiting for consent
- app_before_call_ms: of that, the stream's end to the app's ToolUse.run called (the
  stream finished and parsed, the calls gathered, trust checked, the card and the store
  updated); app_call_ms: ToolUse.run (the call queued to the server's supervisor task, the
  SDK's call_tool, the result made text); app_after_call_ms: ToolUse.run returned to the
  POST in (the card and the store updated, the request built, the SDK's POST);
  request_for_ms: ChatSession.request_for, part of the last; cards_ms: in all, the window
  showing the calls' changes (ChatPresenter.stream_event of each ToolCallsChanged: the
  card made, then running, then done, and the transcript laid out), saves_ms: in all,
  the reply saved (HistoryStore.update_message), both within app_round_trip_ms
- bare_call_ms: the `mcp` SDK alone (a ClientSession over stdio_client, the same server
  started the same way but without the launcher) timing `call_tool("add")` in a loop;
  bare_post_ms: an `AsyncOpenAI` client's `chat.completions.create` of the same second
  request (the tools, the assistant's call, the tool's result), from the call to the POST
  in the server's socket; bare_round_trip_ms: the two one after the other, timed as one
- overhead_ms: app_round_trip_ms - bare_round_trip_ms; ratio: their quotient;
  call_overhead_ms: app_call_ms - bare_call_ms (the app's way to the server and back)
- max_stall_ms (and _median: of each round's longest): the longest the window's loop went
  without a turn (a 1 ms precise QTimer, beyond its interval), from the click on Send to
  50 ms after the reply ended, over the timed rounds
- first_round_trip_ms, first_send_to_request_ms (the click to the first POST in: the SDKs'
  imports, `import mcp` in a worker, the server started and its tools listed),
  first_round_max_stall_ms (the click to 50 ms after the reply), first_call_stall_ms (the
  longest wait within first_round_trip_ms): the first round, the window idle before it
  and the server not started

`python -m benchmarks.tools [--quick] --stacks` runs the same with a thread beside the loop
that samples the GUI thread's Python stack whenever the loop has not turned for 6 ms, and
prints on stderr where each wait over 16 ms was (the samples need the GIL: a C call that
holds it shows in the first sample after it, one frame up).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SERVER_ARGS = ("-m", "tests.fakes.mcp_server")
QUESTION = "What is {n} + 2?"

# The fake server's tools, as its own SDK lists them, printed as JSON (run in another
# process: here `mcp` is first imported by the app, in its worker).
_LIST_TOOLS = """
import asyncio, json, sys
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

async def main():
    params = StdioServerParameters(command=sys.executable, args=sys.argv[1:], cwd=None)
    with open("/dev/null", "w") as log:
        async with stdio_client(params, errlog=log) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
    print(json.dumps([t.model_dump(mode="json", by_alias=True) for t in listed.tools]))

asyncio.run(main())
"""


def listed_tools() -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-c", _LIST_TOOLS, *SERVER_ARGS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    tools: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return tools


def _ends_with_tool_result(body: bytes) -> bool:
    try:
        messages = json.loads(body).get("messages") or [{}]
    except ValueError:
        return False
    return bool(messages[-1].get("role") == "tool")


class ScriptedModel:
    """attachments.WireServer (kernel receive timestamps of each POST) answering as a model
    that calls `add` once: a request ending with the user's message gets the tool call, one
    ending with the tool's result gets text. Each POST handed to `on_post` carries, when it
    ends with a tool result, `reply_ns`: when the last tool-call reply was written."""

    def __init__(self, on_post: Any) -> None:
        from benchmarks.attachments import WireServer
        from tests.fakes.openai_server import text_stream, tool_call_stream

        local = threading.local()
        self.calls = 0
        self.reply_ns = 0
        model = self

        def posted(post: dict[str, Any]) -> None:
            local.body = post["body"]
            if _ends_with_tool_result(post["body"]):
                post["reply_ns"] = model.reply_ns
            on_post(post)

        class Server(WireServer):
            def _answer(self, method: str, path: str) -> bytes:
                if not (method == "POST" and path.endswith("/chat/completions")):
                    return super()._answer(method, path)
                if _ends_with_tool_result(local.body):
                    body = b"".join(p for p in text_stream(["The sum ", "is ", "there."]) if isinstance(p, bytes))
                    timed = False
                else:
                    model.calls += 1
                    arguments = json.dumps({"a": model.calls, "b": 2})
                    stream = tool_call_stream([(f"call_{model.calls}", "add", arguments)], text="Let me add.")
                    body = b"".join(p for p in stream if isinstance(p, bytes))
                    timed = True
                head = f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {len(body)}\r\n\r\n"
                if timed:
                    # (the write follows at once, in this thread: the bytes are the client's then)
                    model.reply_ns = time.time_ns()
                return head.encode() + body

        self.server = Server(posted)
        self.base_url = self.server.base_url

    def close(self) -> None:
        self.server.close()


class StallStacks:
    """Where the GUI thread was while its loop did not turn: a thread samples its Python
    stack once the loop has not turned for `after_ms`. It needs the GIL for that, so a C
    call that holds the GIL shows only in the first sample after it (one frame up), or
    not at all; `report` prints where each wait over `over_ms` was, after which mark
    (`mark`: a click) it began."""

    def __init__(self, ticks: list[float], after_ms: float = 6.0) -> None:
        self.ticks = ticks
        self.after = after_ms / 1000
        self.main = threading.main_thread().ident or 0
        self.samples: dict[float, list[tuple[float, list[str]]]] = collections.defaultdict(list)
        self.marks: list[tuple[float, str]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        # The collector's passes (it holds the GIL throughout): start, end, generation, thread.
        self.collections: list[tuple[float, float, int, str]] = []
        self._collecting: dict[str, Any] = {}
        gc.callbacks.append(self._collected)

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._collecting["at"] = now
        elif "at" in self._collecting:
            began = self._collecting.pop("at")
            self.collections.append((began, now, info["generation"], threading.current_thread().name))

    def mark(self, label: str) -> None:
        self.marks.append((time.perf_counter(), label))

    def _watch(self) -> None:
        while not self.stopped.wait(0.0005):
            if not self.ticks:
                continue
            last = self.ticks[-1]
            now = time.perf_counter()
            if now - last < self.after:
                continue
            frame = sys._current_frames().get(self.main)
            if frame is None:
                continue
            stack: list[str] = []
            while frame is not None:  # (no source lines read: nothing but the frames touched)
                stack.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
                frame = frame.f_back
            stack.reverse()
            self.samples[last].append((now - last, stack))

    def report(self, over_ms: float = 16.0) -> None:
        """Each wait over `over_ms`: the sampled stacks grouped by where they leave for the
        standard library, with their times into the wait."""
        self.stopped.set()
        gc.callbacks.remove(self._collected)
        ticks = self.ticks
        for before, after in zip(ticks, ticks[1:], strict=False):
            if (after - before) * 1000 < over_ms:
                continue
            inside = [m for m in self.marks if before < m[0] <= after]
            if inside:
                where = f"{(inside[0][0] - before) * 1000:.1f} ms before {inside[0][1]}"
            else:
                mark = max((m for m in self.marks if m[0] <= before), default=(before, "the start"))
                where = f"{(before - mark[0]) * 1000:.1f} ms after {mark[1]}"
            print(f"\n--- the loop waited {(after - before) * 1000:.1f} ms, from {where} ---", file=sys.stderr)
            for began, ended, generation, thread in self.collections:
                if began < after and ended > before and ended - began > 0.002:
                    print(
                        f"  garbage collection (generation {generation}, in {thread}): {(ended - began) * 1000:.1f} ms,"
                        f" from +{(began - before) * 1000:.1f} ms",
                        file=sys.stderr,
                    )
            groups: dict[tuple[str, ...], list[float]] = {}
            for when, stack in self.samples.get(before, []):
                groups.setdefault(_call_site(_inner(stack)), []).append(when * 1000)
            ranked = sorted(groups.items(), key=lambda group: -len(group[1]))
            for key, whens in ranked[:6]:
                print(f"  sampled {len(whens)}x, +{min(whens):.1f}..+{max(whens):.1f} ms:", file=sys.stderr)
                for line in key:
                    print(f"    {line}", file=sys.stderr)
            if len(ranked) > 6:
                print(
                    f"  ({len(ranked) - 6} more places, {sum(len(w) for _, w in ranked[6:])} samples)", file=sys.stderr
                )


def _inner(stack: list[str]) -> list[str]:
    """A stack below the loop's own frames (the callback it runs), without the benchmark's."""
    ours = [s for s in stack if "benchmarks/" not in s and "<frozen runpy>" not in s]
    inner = [s for s in ours if "qasync/" not in s and "asyncio/events.py" not in s]
    return inner or ours[-2:]


def _call_site(stack: list[str]) -> tuple[str, ...]:
    """A stack told by the app's frames in it (desktop_chat's), then the library frames it
    went through after the app's last (the first and the last two), and where it left them
    for the standard library (an import, a subprocess, ssl): where the time went, without
    the import machinery's own frames."""
    stdlib = os.path.dirname(os.__file__) + "/"

    def standard(line: str) -> bool:
        return line.startswith(("<frozen", stdlib))

    ours = [at for at, line in enumerate(stack) if "/desktop_chat/" in line]
    last = ours[-1] if ours else -1
    rest = stack[last + 1 :]
    leaves = next((at for at, line in enumerate(rest) if standard(line)), len(rest))
    libraries = rest[:leaves]
    shown = [stack[at] for at in ours[-7:]]
    if len(libraries) > 3:
        shown += [libraries[0], "  ...", *libraries[-2:]]
    else:
        shown += libraries
    if leaves < len(rest):
        shown.append(rest[leaves])
    return tuple(shown)


def run(quick: bool = False, stacks: bool = False) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    folder = Path(tempfile.mkdtemp(prefix="tools-bench-"))
    # Nothing of the user's own profile is read or written.
    os.environ["DESKTOP_CHAT_HOME"] = str(folder / "home")
    rounds = 3 if quick else 20
    try:
        return _measure(folder, rounds, listed_tools(), stacks)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _measure(folder: Path, rounds: int, tools: list[dict[str, Any]], stacks: bool) -> dict[str, object]:
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    from benchmarks.attachments import Heartbeat
    from desktop_chat.core.conversation import TOOL_DONE, tool_calls
    from desktop_chat.core.events import ToolCallsChanged
    from desktop_chat.core.services import Services
    from desktop_chat.core.settings import ProviderConfig, Settings
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.core.tools.config import ToolServerConfig
    from desktop_chat.core.tools.servers import ToolInfo

    app = QApplication.instance() or QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    posts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    model = ScriptedModel(lambda post: loop.call_soon_threadsafe(posts.put_nowait, post))
    store = HistoryStore(folder / "history.db")
    provider = ProviderConfig("Bench", model.base_url, "m", needs_key=False)
    calc = ToolServerConfig("calc", sys.executable, SERVER_ARGS, str(ROOT))
    settings = Settings(
        providers=(provider,),
        default_provider="Bench",
        first_token_timeout=60,
        idle_timeout=60,
        tool_servers=(calc,),
    )
    services = Services.build(settings, store)
    services.directory.discovery_targets = ()
    add = next(t for t in tools if t["name"] == "add")
    # Allowed always, as the card's "Always allow" leaves it: no consent is waited for.
    services.tools.trust.allow(calc, ToolInfo("add", add.get("description") or "", add["inputSchema"]))
    # Where the time goes: around the app's ToolUse.run and ChatSession.request_for.
    runs: list[tuple[int, int]] = []
    requests_for: list[float] = []
    use_run = services.tools.run

    async def timed_run(*args: Any, **kwargs: Any) -> Any:
        began = time.time_ns()
        try:
            return await use_run(*args, **kwargs)
        finally:
            runs.append((began, time.time_ns()))

    services.tools.run = timed_run  # type: ignore[method-assign]
    request_for = services.session.request_for

    def timed_request_for(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return request_for(*args, **kwargs)
        finally:
            requests_for.append((time.perf_counter() - began) * 1000)

    services.session.request_for = timed_request_for  # type: ignore[method-assign]
    # (when each began, time.time_ns(), and how long it took, ms)
    saves: list[tuple[int, float]] = []
    update_message = store.update_message

    def timed_update_message(*args: Any, **kwargs: Any) -> Any:
        began = time.time_ns()
        try:
            return update_message(*args, **kwargs)
        finally:
            saves.append((began, (time.time_ns() - began) / 1e6))

    store.update_message = timed_update_message  # type: ignore[method-assign]
    cards: list[tuple[int, float]] = []
    figures: dict[str, object] = {}
    kernel_times: list[bool] = []

    async def measure() -> None:
        from desktop_chat.ui.main_window import MainWindow

        window = MainWindow(services)
        window.resize(900, 600)
        window.show()
        shown = window.presenter.stream_event

        def timed_stream_event(event: Any) -> None:
            began = time.time_ns()
            try:
                shown(event)
            finally:
                if isinstance(event, ToolCallsChanged):
                    cards.append((began, (time.time_ns() - began) / 1e6))

        window.presenter.stream_event = timed_stream_event  # type: ignore[method-assign]
        await asyncio.sleep(0.2)  # (the first paint and what follows it)
        while not (window.key_lookup.done and window.idle):
            await asyncio.sleep(0.01)
        # As the app does after its first paint: the collector kept off start-up objects.
        gc.collect()
        gc.freeze()
        heartbeat = Heartbeat()
        sampler = StallStacks(heartbeat.ticks) if stacks else None
        trips, befores, calls, afters, stalls, cards_ms, saves_ms = [], [], [], [], [], [], []
        for number in range(rounds + 1):
            window.new_chat()
            await asyncio.sleep(0.05)
            window.composer.setPlainText(QUESTION.format(n=number + 1))
            await asyncio.sleep(0.05 if number else 1.0)  # (the first time: the SDK loads, as when typing)
            assert window.send_button.isEnabled(), window.send_blocker.text()
            while not posts.empty():
                posts.get_nowait()
            runs.clear()
            clicked = time.perf_counter()
            clicked_ns = time.time_ns()
            if sampler is not None:
                sampler.mark(f"the click of round {number}")
            window.send_button.click()
            task = window.chat.reply_task
            assert task is not None
            seen: list[dict[str, Any]] = []
            while not any("reply_ns" in p for p in seen):
                got = asyncio.ensure_future(posts.get())
                await asyncio.wait([got, task], timeout=60, return_when=asyncio.FIRST_COMPLETED)
                if not got.done():
                    got.cancel()
                    waiting = window.chat.waiting_for_consent()
                    outcome = task.result() if task.done() else None
                    why = (
                        "consent was asked (the tool's trust did not match)"
                        if waiting
                        else (outcome.failure if outcome else "no answer in 60 s")
                    )
                    raise RuntimeError(f"the tool's result never came: {why}")
                seen.append(got.result())
            outcome = await task
            assert outcome is not None and outcome.failure is None, outcome
            (call,) = tool_calls(outcome.message.parts)
            assert call.status == TOOL_DONE and call.result == str(number + 3), call
            await asyncio.sleep(0.05)
            stall = heartbeat.longest_wait_ms(clicked, time.perf_counter())
            first_post, result_post = seen[0], seen[-1]
            trip = (result_post["body_ns"] - result_post["reply_ns"]) / 1e6
            kernel_times.append(result_post["kernel"])
            if number == 0:
                # (the perf_counter of a time.time_ns(), from the two read at the click)
                reply_at = clicked + (result_post["reply_ns"] - clicked_ns) / 1e9
                result_at = clicked + (result_post["body_ns"] - clicked_ns) / 1e9
                figures["first_call_stall_ms"] = heartbeat.longest_wait_ms(reply_at, result_at)
                figures["first_send_to_request_ms"] = (first_post["body_ns"] - clicked_ns) / 1e6
                figures["first_round_trip_ms"] = trip
                figures["first_round_max_stall_ms"] = stall
                requests_for.clear()
                continue
            ((began, ended),) = runs
            span = (result_post["reply_ns"], result_post["body_ns"])
            cards_ms.append(sum(took for at, took in cards if span[0] <= at <= span[1]))
            saves_ms.append(sum(took for at, took in saves if span[0] <= at <= span[1]))
            trips.append(trip)
            befores.append((began - result_post["reply_ns"]) / 1e6)
            calls.append((ended - began) / 1e6)
            afters.append((result_post["body_ns"] - ended) / 1e6)
            stalls.append(stall)
        heartbeat.timer.stop()
        if sampler is not None:
            sampler.report()
        figures.update(
            app_round_trip_ms=statistics.median(trips),
            app_round_trip_ms_min=min(trips),
            app_round_trip_ms_max=max(trips),
            app_before_call_ms=statistics.median(befores),
            app_call_ms=statistics.median(calls),
            app_after_call_ms=statistics.median(afters),
            request_for_ms=statistics.median(requests_for),
            cards_ms=statistics.median(cards_ms),
            saves_ms=statistics.median(saves_ms),
            max_stall_ms=max(stalls),
            max_stall_ms_median=statistics.median(stalls),
        )
        # The baseline, after the window's rounds, on the same loop (the SDKs imported by then).
        figures.update(await bare(model, posts, rounds, folder, kernel_times))
        window.shutdown()
        while not window.idle:
            await asyncio.sleep(0.01)
        await services.aclose()

    try:
        with loop:
            loop.run_until_complete(measure())
    finally:
        model.close()
        store.close()
    figures["overhead_ms"] = float(figures["app_round_trip_ms"]) - float(figures["bare_round_trip_ms"])  # type: ignore[arg-type]
    figures["ratio"] = float(figures["app_round_trip_ms"]) / float(figures["bare_round_trip_ms"])  # type: ignore[arg-type]
    figures["call_overhead_ms"] = float(figures["app_call_ms"]) - float(figures["bare_call_ms"])  # type: ignore[arg-type]
    figures["wire_clock"] = "kernel" if all(kernel_times) else "server thread"
    order = [
        "app_round_trip_ms",
        "app_round_trip_ms_min",
        "app_round_trip_ms_max",
        "app_before_call_ms",
        "app_call_ms",
        "app_after_call_ms",
        "request_for_ms",
        "cards_ms",
        "saves_ms",
        "bare_call_ms",
        "bare_post_ms",
        "bare_round_trip_ms",
        "overhead_ms",
        "ratio",
        "call_overhead_ms",
        "max_stall_ms",
        "max_stall_ms_median",
        "first_send_to_request_ms",
        "first_round_trip_ms",
        "first_round_max_stall_ms",
        "first_call_stall_ms",
        "bare_first_call_ms",
        "wire_clock",
    ]
    out: dict[str, object] = {"rounds": rounds}
    for key in order:
        value = figures[key]
        out[key] = round(value, 3 if key == "ratio" else 2) if isinstance(value, float) else value
    return out


async def bare(
    model: ScriptedModel,
    posts: asyncio.Queue[dict[str, Any]],
    rounds: int,
    folder: Path,
    kernel_times: list[bool],
) -> dict[str, float]:
    """A bare client: the `mcp` SDK's ClientSession over stdio calling `add` on the same
    server, then the `openai` SDK posting the request with its result."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=model.base_url, api_key="none")
    params = StdioServerParameters(command=sys.executable, args=list(SERVER_ARGS), cwd=str(ROOT))
    calls, posted, trips = [], [], []
    first_call = 0.0
    with open(folder / "bare-server.log", "w") as log:
        async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
            specs = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
                }
                for t in listed.tools
            ]
            for number in range(rounds + 1):
                arguments = {"a": number + 1, "b": 2}
                messages: list[dict[str, Any]] = [
                    {"role": "user", "content": QUESTION.format(n=number + 1)},
                    {
                        "role": "assistant",
                        "content": "Let me add.",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "add", "arguments": json.dumps(arguments)},
                            }
                        ],
                    },
                ]
                while not posts.empty():
                    posts.get_nowait()
                began = time.time_ns()
                result = await session.call_tool("add", arguments)
                called = time.time_ns()
                text = "".join(getattr(block, "text", "") for block in result.content)
                assert text == str(number + 3), result
                messages.append({"role": "tool", "tool_call_id": "call_1", "content": text})
                stream = await client.chat.completions.create(
                    model="m",
                    messages=cast(Any, messages),
                    tools=cast(Any, specs),
                    stream=True,
                )
                async for _ in stream:
                    pass
                post = await asyncio.wait_for(posts.get(), 30)
                kernel_times.append(post["kernel"])
                if number == 0:
                    first_call = (called - began) / 1e6
                    continue
                calls.append((called - began) / 1e6)
                posted.append((post["body_ns"] - called) / 1e6)
                trips.append((post["body_ns"] - began) / 1e6)
    await client.close()
    return {
        "bare_call_ms": statistics.median(calls),
        "bare_post_ms": statistics.median(posted),
        "bare_round_trip_ms": statistics.median(trips),
        "bare_first_call_ms": first_call,
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.tools", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stacks", action="store_true", help="where the loop waited over 16 ms, on stderr")
    options = parser.parse_args()
    print(json.dumps(run(quick=options.quick, stacks=options.stacks)), flush=True)
