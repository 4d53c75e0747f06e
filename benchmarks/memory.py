"""Memory: resident set size of the real app, idle after start-up and with a 5,000-message
conversation open, against a bare PySide6 window idle in the same run.

The profile holds 200 ordinary conversations and one of 5,000 messages. "Idle" is read
4 s after the first paint, when the work deferred past it (the keyring, the quick-ask
window, the SDK import in the background) is done; the long conversation is then opened
and painted, and RSS read again 3 s later.

Figures: idle_rss_mb, bare_rss_mb, conversation_5k_rss_mb (medians of 3 launches each).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from .history import generate
from .startup import launch, make_profile


def run(quick: bool = False) -> dict[str, object]:
    long_one = 500 if quick else 5_000
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory() as folder:
        history = Path(folder) / "history.db"
        generate(history, conversations=200, messages_each=10, long_one=long_one)
        home = make_profile(Path(folder), history)
        app = [launch("app", home, then="memory") for _ in range(repeats)]
        bare = [launch("bare", None, then="memory") for _ in range(repeats)]
    assert all(run["messages_shown"] == long_one for run in app), app
    return {
        "idle_rss_mb": round(statistics.median(r["idle_rss_mb"] for r in app), 1),
        "bare_rss_mb": round(statistics.median(r["idle_rss_mb"] for r in bare), 1),
        "conversation_5k_rss_mb": round(statistics.median(r["conversation_rss_mb"] for r in app), 1),
        "conversation_messages": long_one,
    }
