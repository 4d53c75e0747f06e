"""What a reply looks like while it streams is what it looks like reopened: the render probe
(`python -m benchmarks.render_probe`) on the CommonMark spec's examples and markdown-it's
GFM table fixtures (tests/data/markdown), through the real transcript widgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop_chat.core.conversation import COMPLETE, Message
from desktop_chat.ui.transcript import MessageItem, TranscriptView
from tests.unit.test_segments import cases

ROOT = Path(__file__).resolve().parents[2]


def test_streamed_equals_at_once_and_finished_equals_reopened(tmp_path):
    texts = cases()
    for number, text in enumerate(texts):
        (tmp_path / f"case-{number:04d}.md").write_text(text, encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.render_probe", str(tmp_path), "--frames", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["files"] == len(texts) > 690
    assert summary["live_equals_once"] == len(texts)
    assert summary["final_equals_once"] == len(texts)
    # Every frame of every stream, against the text that had arrived, rendered at once.
    assert summary["frames_compared"] > 1000 and summary["frame_differences"] == 0, summary["first_differences"]
    # The files say what is shown: a table and its cells, a late reference resolved.
    demo = next(n for n, t in enumerate(texts) if t.startswith("Here is a **short** answer"))
    final = (tmp_path / f"case-{demo:04d}.final.md").read_text(encoding="utf-8")
    assert "|Provider|Local|" in final.replace(" ", "") and "greet(name: str) -> str:" in final
    cited = (tmp_path / f"case-{len(texts) - 1:04d}.once.md").read_text(encoding="utf-8")
    assert cited == "See [1](https://a.example) and [2](https://b.example/).\n\n"
    assert (tmp_path / f"case-{demo:04d}.live.txt").read_text(encoding="utf-8").startswith("Here is a short answer")


def test_a_view_shown_again_for_another_message_drops_the_old_links(qtbot):
    # Views are reused for other messages as the transcript scrolls: a block the two share
    # must not keep the links the other message's definitions made of it.
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    cited = Message(1, 1, None, "assistant", "See [1].\n\n[1]: https://a.example\n", COMPLETE, model="m")
    view.show_messages([MessageItem(cited)])
    assert view.body_documents(1)[0].toMarkdown() == "See [1](https://a.example).\n\n"
    plain = Message(2, 1, None, "assistant", "See [1].\n", COMPLETE, model="m")
    view.show_messages([MessageItem(plain)])
    assert view.body_documents(2)[0].toMarkdown() == "See \\[1].\n\n"
