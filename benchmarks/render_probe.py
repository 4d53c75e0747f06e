"""`python -m benchmarks.render_probe DIR [--frames N]`: what the transcript shows of a reply,
at once and streamed, as files to compare.

For every NAME.md in DIR (a reply's markdown) it writes beside it, from the real
TranscriptView (offscreen):
- NAME.once.md: the message rendered at once, as when the conversation is reopened;
- NAME.live.md: the same text streamed in random pieces of 1-12 characters, with a frame
  (the view's flush, then Qt's layout and paint) after every 1-4 pieces, seeded by NAME,
  and not yet finished;
- NAME.final.md: that stream, then finished;
each the message's body as `QTextDocument.toMarkdown()` of its segments' documents in
order (no header, no buttons), and the same three as plain text (NAME.once.txt, ...).

With --frames N it also compares, every N frames, what is shown while the reply streams
with the text that has arrived rendered at once, and says how many differed. It prints
one JSON line: files, how many live == once and final == once, frames compared, and the
first differences found.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SUFFIXES = (".once.md", ".live.md", ".final.md", ".once.txt", ".live.txt", ".final.txt")


class Probe:
    def __init__(self) -> None:
        from PySide6.QtWidgets import QApplication

        from desktop_chat.ui.transcript import TranscriptView

        self.app = QApplication.instance() or QApplication([])
        self.view = TranscriptView()
        self.view.resize(900, 700)
        self.view.show()
        self.once_view = TranscriptView()
        self.once_view.resize(900, 700)
        self.next_id = 1

    def _message(self, text: str, finished: bool) -> Any:
        from desktop_chat.core.conversation import COMPLETE, STREAMING, Message

        self.next_id += 1
        return Message(self.next_id, 1, None, "assistant", text, COMPLETE if finished else STREAMING, model="probe")

    @staticmethod
    def body(view: Any, message_id: int) -> tuple[str, str]:
        documents = view.body_documents(message_id)
        return "".join(d.toMarkdown() for d in documents), "\n".join(d.toPlainText() for d in documents)

    def once(self, text: str) -> tuple[str, str]:
        from desktop_chat.ui.transcript import MessageItem

        message = self._message(text, finished=True)
        self.once_view.show_messages([MessageItem(message)])
        return self.body(self.once_view, message.id)

    def stream(self, text: str, seed: str, every: int = 0) -> dict[str, Any]:
        """Stream `text` into the view; the live and final bodies, and frame comparisons."""
        from desktop_chat.ui.transcript import MessageItem

        rng = random.Random(seed)
        message = self._message("", finished=False)
        view = self.view
        view.show_messages([])
        view.begin_reply(message)
        at = frames = compared = 0
        differences: list[dict[str, str]] = []
        while at < len(text):
            for _ in range(rng.randint(1, 4)):
                if at >= len(text):
                    break
                size = rng.randint(1, 12)
                view.append_delta(text[at : at + size])
                at += size
            view.flush()
            self.app.processEvents()
            frames += 1
            if every and frames % every == 0:
                compared += 1
                shown = self.body(view, message.id)
                expected = self.once(text[:at])
                if shown != expected:
                    differences.append({"received": text[:at], "shown": shown[0], "at_once": expected[0]})
        live = self.body(view, message.id)
        message.content = text
        message.status = "complete"
        view.end_reply(MessageItem(message))
        self.app.processEvents()
        final = self.body(view, message.id)
        return {"live": live, "final": final, "compared": compared, "differences": differences}


def run(folder: Path, every: int = 0) -> dict[str, Any]:
    probe = Probe()
    summary: dict[str, Any] = {"files": 0, "live_equals_once": 0, "final_equals_once": 0, "frames_compared": 0}
    differences: list[dict[str, str]] = []
    for source in sorted(folder.glob("*.md")):
        if source.name.endswith(SUFFIXES):
            continue
        name = source.name[: -len(".md")]
        text = source.read_text(encoding="utf-8")
        once = probe.once(text)
        streamed = probe.stream(text, seed=name, every=every)
        outputs = {"once": once, "live": streamed["live"], "final": streamed["final"]}
        for kind, (markdown, plain) in outputs.items():
            (folder / f"{name}.{kind}.md").write_text(markdown, encoding="utf-8")
            (folder / f"{name}.{kind}.txt").write_text(plain, encoding="utf-8")
        summary["files"] += 1
        summary["live_equals_once"] += outputs["live"] == once
        summary["final_equals_once"] += outputs["final"] == once
        summary["frames_compared"] += streamed["compared"]
        differences += [dict(d, file=name) for d in streamed["differences"]]
    summary["frame_differences"] = len(differences)
    summary["first_differences"] = differences[:5]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder of NAME.md files")
    parser.add_argument("--frames", type=int, default=0, help="compare with the at-once render every N frames")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    print(json.dumps(run(args.folder, args.frames)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
