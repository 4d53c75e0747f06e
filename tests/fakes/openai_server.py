"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat streaming protocol.

Each test scripts what the next requests get (status, headers, SSE bytes, pauses,
a cut or a reset connection); every request is recorded. It serves bytes, not
objects, so the real `openai` SDK parses exactly what a real server would send.
Run it alone for screenshots and benchmarks: `python -m tests.fakes.openai_server`.
"""

from __future__ import annotations

import json
import queue
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Recorded streams and a real ChatGPT export, with their sources and licences: tests/data/README.md.
TESTDATA = Path(__file__).resolve().parents[1] / "data"


@dataclass
class Pause:
    seconds: float


@dataclass
class Reply:
    """What one request gets. `body` items are bytes to send or Pauses; `end` says how it ends:
    'normal' (chunked terminator), 'reset' (TCP RST mid-body), 'hang' (never ends; the
    server waits until the client goes away or `hang_limit` passes)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    body: list[bytes | Pause] = field(default_factory=list)
    end: str = "normal"
    hang_limit: float = 30.0


def chunk(
    content: str | None = None,
    finish: str | None = None,
    model: str = "test-model",
    usage: dict[str, int] | None = None,
    role: str | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    data: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
    }
    if usage is not None:
        data["usage"] = usage
    return data


def sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"data: {text}\n\n".encode()


def text_stream(
    pieces: Iterable[str],
    model: str = "test-model",
    usage: bool = True,
    done: bool = True,
    finish: str | None = "stop",
    delay: float = 0.0,
) -> list[bytes | Pause]:
    """The body a real server sends for a reply made of these pieces."""
    body: list[bytes | Pause] = [sse(chunk(role="assistant", content="", model=model))]
    for piece in pieces:
        if delay:
            body.append(Pause(delay))
        body.append(sse(chunk(piece, model=model)))
    if finish:
        body.append(sse(chunk(finish=finish, model=model)))
    if usage:
        body.append(
            sse(
                chunk(
                    choices=False, model=model, usage={"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}
                )
            )
        )
    if done:
        body.append(b"data: [DONE]\n\n")
    return body


def reasoning_stream(
    thoughts: Iterable[str],
    answer: Iterable[str],
    field: str = "reasoning_content",
    model: str = "test-model",
    delay: float = 0.0,
) -> list[bytes | Pause]:
    """A reply whose reasoning comes in its own delta field (`reasoning_content` as DeepSeek
    and llama-server send it, `reasoning` as OpenRouter and vLLM do), then the answer."""
    body: list[bytes | Pause] = [sse(chunk(role="assistant", content="", model=model))]
    for piece in thoughts:
        if delay:
            body.append(Pause(delay))
        data = chunk(model=model)
        data["choices"][0]["delta"][field] = piece
        body.append(sse(data))
    return body + text_stream(answer, model=model, delay=delay)[1:]


def tool_call_stream(
    calls: Iterable[tuple[str, str, str]],
    text: str = "",
    model: str = "test-model",
    pieces: int = 3,
    finish: str = "tool_calls",
    delay: float = 0.0,
) -> list[bytes | Pause]:
    """A reply that asks for tools as OpenAI streams it: optional text first, then for each
    call (id, function name, arguments JSON) a chunk with its id and name and the arguments
    in `pieces` pieces after it; then finish_reason "tool_calls"."""
    body: list[bytes | Pause] = [sse(chunk(role="assistant", content=None if not text else "", model=model))]
    if text:
        body.append(sse(chunk(text, model=model)))
    for index, (call_id, name, arguments) in enumerate(calls):
        first = chunk(model=model)
        first["choices"][0]["delta"]["tool_calls"] = [
            {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        ]
        body.append(sse(first))
        size = max(1, -(-len(arguments) // pieces))
        for at in range(0, len(arguments), size):
            if delay:
                body.append(Pause(delay))
            piece = chunk(model=model)
            piece["choices"][0]["delta"]["tool_calls"] = [
                {"index": index, "function": {"arguments": arguments[at : at + size]}}
            ]
            body.append(sse(piece))
    body.append(sse(chunk(finish=finish, model=model)))
    body.append(b"data: [DONE]\n\n")
    return body


def recorded(name: str) -> bytes:
    return (TESTDATA / "openai-streams" / name).read_bytes()


DEMO_REPLY = """Here is a **short** answer with a list, a table and some code.

1. Streams arrive *token by token*
2. Markdown is rendered as it comes

| Provider | Local |
|---|---|
| Ollama | yes |
| OpenAI | no |

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```

> Nothing remote is ever loaded.
"""


def demo_pieces(text: str = DEMO_REPLY) -> list[str]:
    out, word = [], ""
    for ch in text:
        word += ch
        if ch in " \n":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


class FakeOpenAI:
    """Start with `with FakeOpenAI() as server:`; point the SDK at `server.base_url`."""

    def __init__(self, models: list[str] | None = None, default_delay: float = 0.0) -> None:
        self.models = models or ["test-model", "other-model"]
        # More of what /models says of a model, beside its id (a context length, modalities).
        self.model_details: dict[str, dict[str, Any]] = {}
        self.replies: queue.Queue[Reply] = queue.Queue()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.default_delay = default_delay
        self.closed_early = threading.Event()
        self.items_sent = 0  # body items written, all requests together
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Each SSE event is its own write, as real servers flush them: without
            # TCP_NODELAY the second one waits ~40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/api/tags":
                    # Ollama's own listing, which is how it is recognised.
                    body = json.dumps({"models": [{"name": m, "model": m, "size": 1} for m in server.models]}).encode()
                    self._plain(200, body, "application/json")
                elif self.path.rstrip("/").endswith("/models"):
                    body = json.dumps(
                        {
                            "object": "list",
                            "data": [
                                {"id": m, "object": "model", "created": 0, "owned_by": "test"}
                                | server.model_details.get(m, {})
                                for m in server.models
                            ],
                        }
                    ).encode()
                    self._plain(200, body, "application/json")
                else:
                    self._plain(404, b'{"error": {"message": "no such route"}}', "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(payload)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    reply = server.replies.get_nowait()
                except queue.Empty:
                    last = payload.get("messages", [{}])[-1].get("content", "")
                    text = DEMO_REPLY if "demo" in str(last).lower() or not last else f"You said: {last}"
                    reply = Reply(
                        body=text_stream(
                            demo_pieces(text), model=payload.get("model", "test-model"), delay=server.default_delay
                        )
                    )
                self._stream(reply)

            def _plain(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, reply: Reply) -> None:
                chunked = reply.status == 200 or "content-length" not in {k.lower() for k in reply.headers}
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if chunked:
                    self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                try:
                    for item in reply.body:
                        if isinstance(item, Pause):
                            if server._stop.wait(item.seconds):
                                return
                            continue
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(item), item) if chunked else item)
                        self.wfile.flush()
                        server.items_sent += 1
                    if reply.end == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.close_connection = True
                        return
                    if reply.end == "hang":
                        self._hang(reply.hang_limit)
                        return
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    server.closed_early.set()

            def _hang(self, limit: float) -> None:
                # Wait, without sending, until the client closes the connection.
                self.connection.settimeout(0.05)
                deadline = time.monotonic() + limit
                while time.monotonic() < deadline and not server._stop.is_set():
                    try:
                        if self.connection.recv(1) == b"":
                            server.closed_early.set()
                            return
                    except TimeoutError:
                        continue
                    except OSError:
                        server.closed_early.set()
                        return
                self.close_connection = True

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up (Stop, a timeout) is part of the script, not an error.
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def queue(self, *replies: Reply) -> None:
        for reply in replies:
            self.replies.put(reply)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between tokens")
    args = parser.parse_args()
    server = FakeOpenAI(default_delay=args.delay).start()
    if args.port_file:
        Path(args.port_file).write_text(str(server.port))
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
