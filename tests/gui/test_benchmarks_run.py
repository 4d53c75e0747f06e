"""The benchmarks run (small sizes) and print the figures they promise; no time limits here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "name, keys",
    [
        (
            "streaming",
            (
                "growth",
                "naive_growth",
                "max_stall_ms_2k",
                "p99_stall_ms_max",
                "finish_ms",
                "reasoning_growth",
                "reasoning_max_stall_ms_2k",
            ),
        ),
        (
            "history",
            ("search_ms", "open_5k_ms", "startup_delta_s", "bytes_per_message", "migrate_s", "copy_s", "migrate_ratio"),
        ),
        ("quick_ask", ("shortcut_to_visible_ms", "x_roundtrip_ms")),
        ("local_model", ("ttft_ratio", "tokens_per_s_ratio")),
        ("end_to_end", ("tokens_per_s", "sdk_tokens_per_s", "ratio")),
        ("startup", ("first_paint_s", "bare_first_paint_s", "ratio")),
        ("memory", ("idle_rss_mb", "bare_rss_mb", "conversation_5k_rss_mb")),
        ("scrolling", ("p99_frame_ms", "bare_p99_frame_ms", "ratio", "xcb_p99_frame_ms", "xcb_ratio")),
        ("math", ("typeset_median_ms", "typeset_worst_ms", "typeset_ratio", "window_ms_median", "gui_stall_ms_max")),
        (
            "attachments",
            (
                "photo_mb",
                "bare_encode_ms",
                "prepare_ms",
                "drop_to_chip_ms",
                "drop_ratio",
                "chip_thumbnail_ms",
                "gui_stall_ms_max",
                "preparing_stall_ms_max",
                "send_to_first_byte_ms",
                "send_to_body_ms",
                "send_ratio",
                "bare_send_first_byte_ms",
                "send_stall_ms_max",
                "first_gui_stall_ms",
            ),
        ),
        (
            "tools",
            (
                "app_round_trip_ms",
                "bare_call_ms",
                "bare_round_trip_ms",
                "overhead_ms",
                "ratio",
                "max_stall_ms",
                "first_round_trip_ms",
                "first_round_max_stall_ms",
                "first_call_stall_ms",
            ),
        ),
    ],
)
def test_benchmark_prints_its_figures(name, keys, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", name, "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    required = os.environ.get("DESKTOP_CHAT_REQUIRE_XVFB" if name == "quick_ask" else "DESKTOP_CHAT_REQUIRE_LOCAL")
    if "skipped" in figures and not required:
        pytest.skip(figures["skipped"])
    for key in keys:
        assert isinstance(figures[key], int | float), key
