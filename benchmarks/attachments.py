"""Attaching a 12-megapixel photo in the real window: the drop to its chip, and Send to the
first byte on the wire, against a bare encode of the same photo in the same run; how long
the window's event loop waits meanwhile.

The photo: 4000x3000, smooth gradients and grain (a JPEG of realistic size, 4.3 MB at
quality 92), its EXIF with a camera, GPS and orientation 6 (a phone held upright), made
in a separate process so that this one imports Pillow first where the app does: in the
worker that prepares the first drop.

Figures (medians of the timed rounds, after one untimed first round):
- photo_mb: the photo's size on disk; prepared_kb: what is kept and sent (2048 px JPEG)
- bare_encode_ms: Pillow open, full decode (no draft), thumbnail((2048, 2048), LANCZOS),
  JPEG save at quality 88, in this thread: the least any client does with the photo
- prepare_ms: the app's prepare_file (the same, plus EXIF transpose, a clean copy of the
  pixels, the JPEG and its SHA-256), in this thread
- drop_to_chip_ms (and _min, _max): a QMimeData with the file's URL into the real
  window's composer (`insertFromMimeData`, what a drop does) to the chip added
  (`AttachmentBar.changed` with the attachment in it); drop_ratio: over bare_encode_ms
- chip_thumbnail_ms: of that, the chip's thumbnail (attachment_bar `thumbnail_image`: the
  prepared JPEG decoded at the chip's size), made in the worker after the photo is prepared
- gui_stall_ms_max (and _median): the longest the window's event loop went without a
  turn (a 1 ms precise QTimer, beyond its interval) from the drop to 50 ms after the
  chip, over all rounds (the median of each round's longest)
- preparing_stall_ms_median, _max: of that, the longest wait while the worker prepared
  the photo (from the drop to the chip's thumbnail begun: the GUI thread had nothing to
  do but wait for the GIL)
- send_to_first_byte_ms (and _min, _max): the Send button clicked to the first byte of
  the POST in the loopback server's socket (the kernel's receive timestamp,
  SO_TIMESTAMPNS); send_to_body_ms: to the whole request body in; send_ratio:
  send_to_first_byte_ms over bare_encode_ms
- submit_ms: the click's own call on the GUI thread (the message kept, its files stored,
  shown in the transcript); request_for_ms: ChatSession.request_for (the image read back
  and base64'd into a data: URL), on the loop
- bare_base64_ms, bare_json_ms: base64 of the prepared bytes, and json.dumps of a request
  holding it; bare_send_first_byte_ms, bare_send_body_ms: a bare client (those two, then
  a blocking socket write on a kept-open connection) to the same server;
  send_client_ratio: send_to_first_byte_ms over bare_send_first_byte_ms
- send_stall_ms_max (and _median): the loop's longest wait from the click to 150 ms after
  the reply ends (the sent image's thumbnail in the transcript included)
- wire_clock: "kernel" when the server's times are the kernel's receive timestamps (else
  its thread's clock after each read, later by up to a GIL switch)
- first_drop_to_chip_ms, first_gui_stall_ms, first_preparing_stall_ms,
  first_send_stall_ms: the untimed first round, the window idle before it (Pillow
  imported in the worker; the provider's model list asked for, to know whether the model
  sees images; the SDK client made; the connection opened); first_gui_stall_ms runs
  from the drop to the click on Send, a second after the chip
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What is in this photo?"
# Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS): the kernel's receive time of what a recvmsg
# returns (for TCP: of the last segment read), CLOCK_REALTIME, as time.time_ns() reads it.
SO_TIMESTAMPNS = 35


def make_photo(path: Path, width: int = 4000, height: int = 3000, seed: int = 12) -> None:
    """A photo-like JPEG: a sky-to-ground gradient, soft blotches at several scales, grain;
    EXIF with a camera, GPS and orientation 6."""
    import random

    from PIL import Image, ImageChops

    rnd = random.Random(seed)

    def blotches(w: int, h: int) -> Image.Image:
        return Image.frombytes("RGB", (w, h), rnd.randbytes(w * h * 3)).resize(
            (width, height), Image.Resampling.BICUBIC
        )

    sky = Image.linear_gradient("L").resize((width, height))
    base = Image.merge(
        "RGB",
        [sky.point(lambda v: 150 - v // 3), sky.point(lambda v: 170 - v // 3), sky.point(lambda v: 220 - v // 2)],
    )
    image = Image.blend(base, blotches(16, 12), 0.3)
    image = Image.blend(image, blotches(400, 300), 0.25)
    image = Image.blend(image, blotches(width // 3, height // 3), 0.12)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 6) for _ in range(3)])
    image = ImageChops.add(image, grain, 1.0, -128)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS R6"
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x0132] = "2026:11:28 12:00:00"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.34), 3: "E", 4: (13.0, 24.0, 56.78), 5: 0, 6: 34.5}
    image.save(path, "JPEG", quality=92, exif=exif)


class WireServer:
    """An OpenAI-compatible server on 127.0.0.1 that notes when each POST's first byte and
    its whole body came in (the kernel's timestamps on Linux), and answers with a short
    stream. `on_post` is called (in the server's thread) with a dict per POST: first_ns,
    body_ns (time.time_ns() clock), body, path, and kernel (whether both times are the
    kernel's)."""

    def __init__(self, on_post: Callable[[dict[str, Any]], None]) -> None:
        from tests.fakes.openai_server import text_stream

        self.on_post = on_post
        self.reply = b"".join(p for p in text_stream(["A ", "photo ", "of ", "colours."]) if isinstance(p, bytes))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if sys.platform == "linux":
                conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    @staticmethod
    def _read(conn: socket.socket, size: int) -> tuple[bytes, int, bool]:
        """Up to `size` bytes, when the kernel received them (else now), and which it was."""
        data, ancillary, _, _ = conn.recvmsg(size, socket.CMSG_SPACE(16))
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                if seconds:
                    return data, seconds * 1_000_000_000 + nanoseconds, True
        return data, time.time_ns(), False

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while True:
                if buffer:  # (a request sent right behind another: not timed)
                    first_ns, kernel = time.time_ns(), False
                else:
                    # One byte first: its timestamp is that of the request's first segment.
                    buffer, first_ns, kernel = self._read(conn, 1)
                    if not buffer:
                        return
                last_ns = first_ns
                while b"\r\n\r\n" not in buffer:
                    data, last_ns, stamped = self._read(conn, 65536)
                    if not data:
                        return
                    kernel &= stamped
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
                assert "chunked" not in headers.get("transfer-encoding", ""), "a chunked request body"
                length = int(headers.get("content-length", 0))
                parts = [buffer]
                have = len(buffer)
                while have < length:
                    data, last_ns, stamped = self._read(conn, min(1 << 20, length - have))
                    if not data:
                        return
                    kernel &= stamped
                    parts.append(data)
                    have += len(data)
                received = b"".join(parts)
                body, buffer = received[:length], received[length:]
                if method == "POST":
                    post = {"first_ns": first_ns, "body_ns": last_ns, "body": body, "path": path, "kernel": kernel}
                    self.on_post(post)
                conn.sendall(self._answer(method, path))

    def _answer(self, method: str, path: str) -> bytes:
        if method == "POST" and path.endswith("/chat/completions"):
            kind, body, status = "text/event-stream", self.reply, "200 OK"
        elif method == "GET" and path.rstrip("/").endswith("/models"):
            kind = "application/json"
            body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "x"}]}).encode()
            status = "200 OK"
        else:
            kind, body, status = "application/json", b'{"error": {"message": "no such route"}}', "404 Not Found"
        head = f"HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def close(self) -> None:
        self.listener.close()


class Heartbeat:
    """A 1 ms precise QTimer; the longest the loop went without a tick in a span of time."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.timer = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=1)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self.timer.start()

    def longest_wait_ms(self, start: float, end: float) -> float:
        inside = self.ticks[bisect.bisect_right(self.ticks, start) : bisect.bisect_left(self.ticks, end)]
        points = [start, *inside, end]
        longest = max(b - a for a, b in zip(points, points[1:], strict=False))
        return max(0.0, longest * 1000 - 1.0)  # (beyond the timer's own interval)


def _timed(function: Callable[..., Any], into: list[float], starts: list[float] | None = None) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        if starts is not None:
            starts.append(started)
        try:
            return function(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - started) * 1000)

    return timed


def bare_encode(path: Path) -> bytes:
    """What any client does at least: decode it all, scale to 2048 px, encode a JPEG."""
    import io

    from PIL import Image

    with Image.open(path) as image:
        image.load()  # (the whole image: no draft, as the app decodes it)
        image.thumbnail((2048, 2048), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=88)
    return out.getvalue()


def bare_request(data: bytes, times: dict[str, list[float]]) -> bytes:
    """The request a bare client sends for the photo: base64, then JSON."""
    import base64

    started = time.perf_counter()
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    encoded = time.perf_counter()
    content = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": url}}]
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": content}], "stream": True}).encode()
    done = time.perf_counter()
    times["base64"].append((encoded - started) * 1000)
    times["json"].append((done - encoded) * 1000)
    return body


def bare_send(conn: socket.socket, port: int, data: bytes, times: dict[str, list[float]]) -> int:
    """A bare client's send on a kept-open connection, the answer read; when it began (ns)."""
    started_ns = time.time_ns()
    body = bare_request(data, times)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    conn.sendall(head.encode())
    conn.sendall(body)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += conn.recv(65536)
    head_part, rest = answer.split(b"\r\n\r\n", 1)
    length = int(
        next(line.split(b":")[1] for line in head_part.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(rest) < length:
        rest += conn.recv(65536)
    return started_ns


def run(quick: bool = False) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    folder = Path(tempfile.mkdtemp(prefix="attach-bench-"))
    # Nothing of the user's own profile is read or written.
    os.environ["DESKTOP_CHAT_HOME"] = str(folder / "home")
    photo = folder / "IMG_4032.jpg"
    size = (1600, 1200) if quick else (4000, 3000)
    # Made in another process: here Pillow is first imported by the app's worker.
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from pathlib import Path; from benchmarks.attachments import make_photo; "
            f"make_photo(Path({str(photo)!r}), {size[0]}, {size[1]})",
        ],
        cwd=ROOT,
        check=True,
    )
    rounds = 1 if quick else 7
    try:
        return _measure(photo, folder, rounds, quick)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _measure(photo: Path, folder: Path, rounds: int, quick: bool) -> dict[str, object]:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    from desktop_chat.core.services import Services
    from desktop_chat.core.settings import ProviderConfig, Settings
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.ui import attachment_bar as bar_module

    app = QApplication.instance() or QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    posts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    server = WireServer(lambda post: loop.call_soon_threadsafe(posts.put_nowait, post))
    store = HistoryStore(folder / "history.db")
    provider = ProviderConfig("Bench", server.base_url, "m", needs_key=False)
    settings = Settings(providers=(provider,), default_provider="Bench", first_token_timeout=60, idle_timeout=60)
    services = Services.build(settings, store)
    services.directory.discovery_targets = ()
    thumbnails: list[float] = []
    thumbnail_starts: list[float] = []
    requests_for: list[float] = []
    bar_module.thumbnail_image = _timed(bar_module.thumbnail_image, thumbnails, thumbnail_starts)  # type: ignore[assignment]
    services.session.request_for = _timed(services.session.request_for, requests_for)  # type: ignore[method-assign]
    figures: dict[str, object] = {}

    async def measure() -> None:
        from desktop_chat.ui.main_window import MainWindow

        window = MainWindow(services)
        window.resize(900, 600)
        window.show()
        await asyncio.sleep(0.2)  # (the first paint and what follows it)
        while not (window.key_lookup.done and window.idle):
            await asyncio.sleep(0.01)
        heartbeat = Heartbeat()
        bar = window.composer.attachment_bar
        chip_at: list[float] = []
        bar.changed.connect(lambda: bar.attachments and not chip_at and chip_at.append(time.perf_counter()))
        drops, drop_stalls, preparing_stalls, sends, bodies, send_stalls, submits = [], [], [], [], [], [], []
        thumbnails_timed: list[float] = []
        kernel_times: list[bool] = []
        for number in range(rounds + 1):
            window.new_chat()
            await asyncio.sleep(0.05)
            # The drop.
            chip_at.clear()
            dropped = QMimeData()
            dropped.setUrls([QUrl.fromLocalFile(str(photo))])
            dropped_at = started = time.perf_counter()
            window.composer.insertFromMimeData(dropped)
            while not chip_at:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.05)
            drop_stall = heartbeat.longest_wait_ms(started, time.perf_counter())
            # (while the worker prepares: the GUI thread has nothing else to do)
            preparing_stall = heartbeat.longest_wait_ms(started, thumbnail_starts[-1])
            drop_ms = (chip_at[0] - started) * 1000
            # Send.
            window.composer.setPlainText(QUESTION)
            await asyncio.sleep(0.05 if number else 1.0)  # (the first time: the SDK loads, as when typing)
            assert window.send_button.isEnabled(), window.send_blocker.text()
            while not posts.empty():
                posts.get_nowait()
            started = time.perf_counter()
            started_ns = time.time_ns()
            window.send_button.click()
            submit_ms = (time.perf_counter() - started) * 1000
            task = window.chat.reply_task
            assert task is not None
            got = asyncio.ensure_future(posts.get())
            await asyncio.wait([got, task], timeout=60, return_when=asyncio.FIRST_COMPLETED)
            if not got.done():
                got.cancel()
                outcome = task.result() if task.done() else None
                raise RuntimeError(f"the request never came: {outcome.failure if outcome else 'no answer in 60 s'}")
            post = got.result()
            assert b'"image_url"' in post["body"], post["body"][:200]
            outcome = await task
            assert outcome is not None and outcome.failure is None, outcome
            await asyncio.sleep(0.15)  # (the sent image's thumbnail in the transcript: made in a worker)
            send_stall = heartbeat.longest_wait_ms(started, time.perf_counter())
            if number == 0:
                figures["first_drop_to_chip_ms"] = round(drop_ms, 1)
                # (the first time, until Send: the model list asked for meanwhile)
                figures["first_gui_stall_ms"] = round(heartbeat.longest_wait_ms(dropped_at, started), 1)
                figures["first_preparing_stall_ms"] = round(preparing_stall, 1)
                figures["first_send_stall_ms"] = round(send_stall, 1)
                thumbnails.clear()
                requests_for.clear()
                continue
            drops.append(drop_ms)
            drop_stalls.append(drop_stall)
            preparing_stalls.append(preparing_stall)
            thumbnails_timed.append(thumbnails[-1])
            kernel_times.append(post["kernel"])
            sends.append((post["first_ns"] - started_ns) / 1e6)
            bodies.append((post["body_ns"] - started_ns) / 1e6)
            send_stalls.append(send_stall)
            submits.append(submit_ms)
            figures["body_kb"] = round(len(post["body"]) / 1024)
        heartbeat.timer.stop()
        figures.update(
            drop_to_chip_ms=statistics.median(drops),
            drop_to_chip_ms_min=min(drops),
            drop_to_chip_ms_max=max(drops),
            chip_thumbnail_ms=statistics.median(thumbnails_timed),
            gui_stall_ms_max=max(drop_stalls),
            gui_stall_ms_median=statistics.median(drop_stalls),
            preparing_stall_ms_median=statistics.median(preparing_stalls),
            preparing_stall_ms_max=max(preparing_stalls),
            send_to_first_byte_ms=statistics.median(sends),
            send_to_first_byte_ms_min=min(sends),
            send_to_first_byte_ms_max=max(sends),
            send_to_body_ms=statistics.median(bodies),
            submit_ms=statistics.median(submits),
            request_for_ms=statistics.median(requests_for),
            send_stall_ms_max=max(send_stalls),
            send_stall_ms_median=statistics.median(send_stalls),
        )
        # The baselines, in this thread, after the window's rounds (Pillow already imported
        # here, as it is in the app by then).
        from desktop_chat.core.attachments import prepare_file

        encodes, prepares = [], []
        for _ in range(rounds + 1):
            started = time.perf_counter()
            bare_encode(photo)
            encodes.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            prepared = prepare_file(photo)
            prepares.append((time.perf_counter() - started) * 1000)
        figures["bare_encode_ms"] = statistics.median(encodes[1:])
        figures["prepare_ms"] = statistics.median(prepares[1:])
        figures["prepared_kb"] = round(len(prepared.data) / 1024)
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        times: dict[str, list[float]] = {"base64": [], "json": []}
        bare_firsts, bare_bodies = [], []
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(rounds + 1):
                while not posts.empty():
                    posts.get_nowait()
                started_ns = bare_send(conn, port, prepared.data, times)
                post = await asyncio.wait_for(posts.get(), 30)
                kernel_times.append(post["kernel"])
                bare_firsts.append((post["first_ns"] - started_ns) / 1e6)
                bare_bodies.append((post["body_ns"] - started_ns) / 1e6)
        figures["bare_base64_ms"] = statistics.median(times["base64"][1:])
        figures["bare_json_ms"] = statistics.median(times["json"][1:])
        figures["bare_send_first_byte_ms"] = statistics.median(bare_firsts[1:])
        figures["bare_send_body_ms"] = statistics.median(bare_bodies[1:])
        figures["wire_clock"] = "kernel" if all(kernel_times) else "server thread"
        window.shutdown()
        while not window.idle:
            await asyncio.sleep(0.01)
        await services.aclose()

    try:
        with loop:
            loop.run_until_complete(measure())
    finally:
        server.close()
        store.close()
    bare = float(figures["bare_encode_ms"])  # type: ignore[arg-type]
    figures["drop_ratio"] = float(figures["drop_to_chip_ms"]) / bare  # type: ignore[arg-type]
    figures["send_ratio"] = float(figures["send_to_first_byte_ms"]) / bare  # type: ignore[arg-type]
    figures["send_client_ratio"] = float(figures["send_to_first_byte_ms"]) / float(
        figures["bare_send_first_byte_ms"]  # type: ignore[arg-type]
    )
    order = [
        "photo_mb",
        "prepared_kb",
        "body_kb",
        "bare_encode_ms",
        "prepare_ms",
        "drop_to_chip_ms",
        "drop_to_chip_ms_min",
        "drop_to_chip_ms_max",
        "drop_ratio",
        "chip_thumbnail_ms",
        "gui_stall_ms_max",
        "gui_stall_ms_median",
        "preparing_stall_ms_median",
        "preparing_stall_ms_max",
        "send_to_first_byte_ms",
        "send_to_first_byte_ms_min",
        "send_to_first_byte_ms_max",
        "send_to_body_ms",
        "send_ratio",
        "submit_ms",
        "request_for_ms",
        "bare_base64_ms",
        "bare_json_ms",
        "bare_send_first_byte_ms",
        "bare_send_body_ms",
        "send_client_ratio",
        "send_stall_ms_max",
        "send_stall_ms_median",
        "first_drop_to_chip_ms",
        "first_gui_stall_ms",
        "first_preparing_stall_ms",
        "first_send_stall_ms",
        "wire_clock",
    ]
    figures["photo_mb"] = photo.stat().st_size / 1e6
    out: dict[str, object] = {"rounds": rounds}
    for key in order:
        value = figures[key]
        out[key] = round(value, 3 if key.endswith("ratio") else 2) if isinstance(value, float) else value
    return out
