"""`python -m benchmarks [NAME] [--json] [--quick]`: run benchmarks and print their figures."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BENCHMARKS = {
    "streaming": "benchmarks.streaming",
    "history": "benchmarks.history",
    "quick_ask": "benchmarks.quick_ask",
    "local_model": "benchmarks.local_model",
    "end_to_end": "benchmarks.end_to_end",
    "startup": "benchmarks.startup",
    "memory": "benchmarks.memory",
    "scrolling": "benchmarks.scrolling",
    "math": "benchmarks.math",
    "attachments": "benchmarks.attachments",
    "tools": "benchmarks.tools",
}

# The goals of issues 7, 12, 13 and 15 (and of the 12-megapixel photo's), per figure.
GOALS = {
    ("streaming", "growth"): "<= 1.2",
    ("streaming", "max_stall_ms_2k"): "<= 16",
    ("streaming", "p99_stall_ms_max"): "<= 16",
    ("streaming", "finish_ms"): "<= 16",
    ("streaming", "reasoning_growth"): "<= 1.2",
    ("streaming", "reasoning_max_stall_ms_2k"): "<= 16",
    ("end_to_end", "ratio"): ">= 0.9",
    ("startup", "first_paint_s"): "<= 0.35",
    ("startup", "ratio"): "<= 3.5",
    ("memory", "idle_rss_mb"): "<= 110",
    ("memory", "conversation_5k_rss_mb"): "<= 250",
    ("history", "search_ms"): "<= 50",
    ("history", "open_5k_ms"): "<= 300",
    ("history", "startup_delta_s"): "<= 0.3",
    ("quick_ask", "shortcut_to_visible_ms"): "<= 100",
    ("local_model", "ttft_ratio"): "0.9-1.1",
    ("local_model", "tokens_per_s_ratio"): "0.9-1.1",
    ("scrolling", "p99_frame_ms"): "<= 16",
    ("math", "gui_stall_ms_max"): "<= 16",
    ("scrolling", "xcb_p99_frame_ms"): "<= 16",
    ("attachments", "gui_stall_ms_max"): "<= 16",
    ("attachments", "send_stall_ms_max"): "<= 16",
    ("tools", "overhead_ms"): "<= 10",
    ("tools", "max_stall_ms"): "<= 16",
    ("tools", "first_round_max_stall_ms"): "<= 16",
    ("tools", "first_call_stall_ms"): "<= 16",
}


def print_table(rows: list[tuple[str, str, object]]) -> None:
    """One table: benchmark, figure, value, goal."""
    lines = [("benchmark", "figure", "value", "goal")]
    lines += [(name, key, json.dumps(value), GOALS.get((name, key), "")) for name, key, value in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for number, line in enumerate(lines):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _run_alone(name: str, quick: bool) -> dict[str, object]:
    import subprocess

    command = [sys.executable, "-m", "benchmarks", name, "--json"] + (["--quick"] if quick else [])
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        return {"failed": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    figures: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="one benchmark (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that it runs, not a measurement")
    args = parser.parse_args(argv)
    import importlib

    rows: list[tuple[str, str, object]] = []
    for name in [args.name] if args.name else sorted(BENCHMARKS):
        if args.name:
            figures = importlib.import_module(BENCHMARKS[name]).run(quick=args.quick)
        else:
            # Each in a fresh process: what one leaves behind (Qt objects, a large heap
            # for the collector to walk, loaded modules) must not weigh on the next.
            figures = _run_alone(name, args.quick)
        if args.json:
            print(json.dumps(figures), flush=True)
        else:
            print(f"{name}: done", file=sys.stderr, flush=True)
            rows += [(name, key, value) for key, value in figures.items()]
    if not args.json:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
