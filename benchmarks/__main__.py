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
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="one benchmark (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that it runs, not a measurement")
    args = parser.parse_args(argv)
    import importlib

    for name in [args.name] if args.name else sorted(BENCHMARKS):
        module = importlib.import_module(BENCHMARKS[name])
        figures = module.run(quick=args.quick)
        if args.json:
            print(json.dumps(figures))
        else:
            print(f"== {name}")
            for key, value in figures.items():
                print(f"  {key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
