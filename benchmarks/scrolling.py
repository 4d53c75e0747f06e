"""Scrolling a 5,000-message conversation from its end to its start in the real
TranscriptView, against a bare QListView of the same texts, frame by frame.

Each frame moves the view up by STEP pixels (a brisk flick of the wheel) and runs the
events that causes, the painting of what changed included, as the app's event loop does:
its time is what the reader waits for. The
TranscriptView lays out the messages coming into view on the way (markdown, code blocks,
estimated heights replaced by measured ones); the QListView draws word-wrapped plain text.
Both run offscreen and, where Xvfb is installed, on xcb (a real X11 window), each in a
process of its own.

Figures: p99_frame_ms (offscreen; the goal), max_frame_ms, bare_p99_frame_ms, ratio (p99
over the bare list's), frames; the same with an xcb_ prefix.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

STEP = 180
WORDS = (
    "scroll view message reply model token markdown history window paint layout anchor "
    "estimate height column code block table list search"
).split()


def conversation(count: int) -> list[tuple[str, str]]:
    """(role, text) of a conversation: short questions, replies of prose, lists and code."""
    rng = random.Random(5000)
    messages = []
    for i in range(count):
        if i % 2 == 0:
            messages.append(("user", " ".join(rng.choices(WORDS, k=rng.randint(4, 30))) + "?"))
            continue
        parts = [" ".join(rng.choices(WORDS, k=rng.randint(20, 80))) + "."]
        if i % 3 == 0:
            parts.append("\n".join(f"- **{w}** {' '.join(rng.choices(WORDS, k=6))}" for w in rng.choices(WORDS, k=3)))
        if i % 5 == 0:
            parts.append(
                "```python\n" + "\n".join(f"def {w}(x):\n    return x + {n}" for n, w in enumerate(WORDS[:4])) + "\n```"
            )
        if i % 7 == 0:
            parts.append("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |")
        messages.append(("assistant", "\n\n".join(parts)))
    return messages


def _frames(app, view, bar) -> list[float]:  # type: ignore[no-untyped-def]
    """Scroll from the bottom to the top, STEP pixels a frame; each frame's time (ms)."""
    times = []
    app.processEvents()
    while bar.value() > 0:
        t0 = time.perf_counter()
        bar.setValue(max(0, bar.value() - STEP))
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def measure(kind: str, count: int) -> dict[str, float]:
    """One kind ("transcript" or "list") in this process: its frame times."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    messages = conversation(count)
    if kind == "transcript":
        from desktop_chat.core.conversation import Message
        from desktop_chat.ui.transcript import MessageItem, TranscriptView

        view = TranscriptView()
        view.resize(900, 700)
        view.show()
        items = [
            MessageItem(Message(i + 1, 1, i or None, role, text, model="gpt-4o"))
            for i, (role, text) in enumerate(messages)
        ]
        view.show_messages(items)
    else:
        from PySide6.QtCore import QStringListModel
        from PySide6.QtWidgets import QAbstractItemView, QListView

        view = QListView()
        view.setModel(QStringListModel([text for _, text in messages]))
        view.setWordWrap(True)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.resize(900, 700)
        view.show()
    bar = view.verticalScrollBar()
    app.processEvents()
    bar.setValue(bar.maximum())
    app.processEvents()
    times = _frames(app, view, bar)
    times.sort()
    return {
        "p99": times[max(0, int(len(times) * 0.99) - 1)],
        "max": times[-1],
        "median": statistics.median(times),
        "frames": len(times),
    }


def _in_process(kind: str, count: int, platform: str) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM=platform)
    xvfb = None
    if platform == "xcb":
        from tests.fakes.xvfb import start_xvfb

        xvfb, env["DISPLAY"] = start_xvfb()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.scrolling", kind, str(count)],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
    if out.returncode:
        raise RuntimeError(out.stderr)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> dict[str, object]:
    count = 500 if quick else 5_000
    figures: dict[str, object] = {"messages": count, "step_px": STEP}
    platforms = ["offscreen"] + (["xcb"] if shutil.which("Xvfb") else [])
    for platform in platforms:
        prefix = "" if platform == "offscreen" else "xcb_"
        ours = _in_process("transcript", count, platform)
        bare = _in_process("list", count, platform)
        figures[f"{prefix}p99_frame_ms"] = round(ours["p99"], 2)
        figures[f"{prefix}max_frame_ms"] = round(ours["max"], 2)
        figures[f"{prefix}median_frame_ms"] = round(ours["median"], 2)
        figures[f"{prefix}bare_p99_frame_ms"] = round(bare["p99"], 2)
        figures[f"{prefix}ratio"] = round(ours["p99"] / bare["p99"], 2) if bare["p99"] else None
        figures[f"{prefix}frames"] = int(ours["frames"])
    return figures


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
