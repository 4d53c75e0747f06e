"""A virtual X server for tests and benchmarks: Xvfb picks a free display and says which."""

from __future__ import annotations

import os
import subprocess


def start_xvfb(size: str = "1280x800x24") -> tuple[subprocess.Popen[bytes], str]:
    """Start Xvfb; returns the process and its DISPLAY (":N"). Stop it with terminate()."""
    read, write = os.pipe()
    # -noreset: by default the server resets when its last client leaves, and a client
    # connecting meanwhile (the app, while xdotool polls for its window) is refused.
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp", "-noreset"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        piece = os.read(read, 16)
        if not piece:
            break
        number += piece
    os.close(read)
    return xvfb, f":{number.decode().strip()}"
