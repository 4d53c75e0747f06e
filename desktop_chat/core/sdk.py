"""The `openai` SDK, loaded off the GUI thread.

Importing it costs most of a second and ~37 MB, so the window paints and idles without
it; it loads in a background thread as soon as the user starts typing (`warm_up_sdk`)
or, at the latest, when a request needs it (`load_sdk`).
"""

from __future__ import annotations

import asyncio
import threading

_sdk_ready = threading.Event()
_sdk_lock = threading.Lock()
_sdk_loader: threading.Thread | None = None


def _import_sdk() -> None:
    try:
        import httpx2  # noqa: F401
        import openai  # noqa: F401
    except Exception:
        pass  # the request that needs it reports the ImportError
    finally:
        _sdk_ready.set()
    try:
        # The reply's first words are parsed as markdown: markdown-it and its plugins
        # (~50 ms to import) are made ready here too, not in the window's loop then.
        from .markdown import parser

        parser()
    except Exception:
        pass  # (the first reply makes it, and says what is wrong)


def warm_up_sdk() -> None:
    """Start importing the SDK in a background thread, once; returns at once."""
    global _sdk_loader
    with _sdk_lock:
        if _sdk_loader is None and not _sdk_ready.is_set():
            _sdk_loader = threading.Thread(target=_import_sdk, name="import-openai", daemon=True)
            _sdk_loader.start()


async def load_sdk() -> None:
    """Have the SDK imported, without holding up the event loop while it loads."""
    if _sdk_ready.is_set():
        return
    warm_up_sdk()
    while not _sdk_ready.is_set():
        await asyncio.sleep(0.01)
