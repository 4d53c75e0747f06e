"""Command line: the GUI by default; headless verbs on the same services (`ask` in
ask_cli.py, the history verbs in history_cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from . import __version__

LLAMA_SERVER_FLAG = "--run-llama-server"


def run_llama_server(argv: list[str]) -> int:
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *argv]
    serve()  # type: ignore[no-untyped-call]  # (llama-cpp-python's entry point has no annotations)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="desktop-chat", description="A native desktop client for chat models.")
    parser.add_argument("--version", action="version", version=f"desktop-chat {__version__}")
    parser.add_argument("--home", metavar="DIR", help="keep every file of the app in DIR (also DESKTOP_CHAT_HOME)")
    parser.add_argument("--provider", help="provider for new chats (a name from Providers)")
    parser.add_argument("--model", help="model for new chats")
    parser.add_argument(
        "--quick-ask",
        action="store_true",
        help="show (or hide) the quick-ask window, starting the app if it is not running",
    )
    sub = parser.add_subparsers(dest="command")
    ask = sub.add_parser("ask", help="stream one reply to stdout; the exchange is kept in the history")
    ask.add_argument("prompt", nargs="?", help="the prompt; read from stdin when left out")
    ask.add_argument("-s", "--system", help="system prompt (of the new, or continued, conversation)")
    ask.add_argument("--provider", dest="ask_provider", help="provider name")
    ask.add_argument("-m", "--model", dest="ask_model", help="model name")
    ask.add_argument("--temperature", type=float)
    ask.add_argument(
        "-c",
        "--continue",
        dest="continue_id",
        nargs="?",
        const="",  # -c alone: the conversation with the latest activity
        metavar="ID",
        help="carry on the conversation with the latest activity, or the one with this id",
    )
    ask.add_argument(
        "-a",
        "--attachment",
        action="append",
        default=[],
        metavar="FILE",
        help="attach a file (an image, a PDF, text); repeat for more; - reads one from stdin",
    )
    ask.add_argument(
        "--reasoning", action="store_true", help="also print the model's reasoning, to stderr (stdout gets the answer)"
    )
    ask.add_argument("-n", "--no-log", action="store_true", help="do not keep this exchange in the history")
    tool_use = ask.add_mutually_exclusive_group()
    tool_use.add_argument(
        "--allow-tools",
        action="store_true",
        help="run every tool the model calls in this run without asking (else each is asked on the terminal)",
    )
    tool_use.add_argument("--no-tools", action="store_true", help="offer the model no tools")
    ask.add_argument("--home", dest="ask_home", metavar="DIR")
    history = sub.add_parser("history", help="list, search or show conversations (works offline)")
    history_sub = history.add_subparsers(dest="history_command", required=True)
    listing = history_sub.add_parser("list", help="conversations, newest activity first")
    listing.add_argument("--limit", type=int, default=50)
    search = history_sub.add_parser("search", help="full-text search over every message")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=20)
    show = history_sub.add_parser("show", help="one conversation's current branch")
    show.add_argument("id", type=int)
    for p in (listing, search, show):
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--home", dest="sub_home", metavar="DIR")
    export = sub.add_parser("export", help="export conversations (all when no ID is given)")
    export.add_argument("ids", nargs="*", type=int, metavar="ID")
    export.add_argument("--format", type=export_format, default="md", help="md (default), json or html")
    export.add_argument("--out", metavar="PATH", help="file to write (default: stdout)")
    export.add_argument("--home", dest="sub_home", metavar="DIR")
    imp = sub.add_parser("import", help="import a ChatGPT data export or a Desktop Chat JSON export")
    imp.add_argument("kind", type=import_kind, help="chatgpt or json")
    imp.add_argument("file")
    imp.add_argument("--home", dest="sub_home", metavar="DIR")
    tools = sub.add_parser("mcp", help="tool servers (MCP): import them, list them and their tools")
    tools_sub = tools.add_subparsers(dest="mcp_command", required=True)
    mcp_import = tools_sub.add_parser(
        "import", help="add the servers of an mcpServers JSON file (Claude Desktop, Cursor), enabled"
    )
    mcp_import.add_argument("file")
    mcp_import.add_argument("--disabled", action="store_true", help="add them switched off")
    mcp_list = tools_sub.add_parser("list", help="each server, its state and its tools (starts the enabled ones)")
    mcp_list.add_argument("--json", action="store_true", help="machine-readable output")
    for p in (mcp_import, mcp_list):
        p.add_argument("--home", dest="sub_home", metavar="DIR")
    return parser


# The formats are core/exchange.py's; it is imported only when a verb needs it, not when
# the window starts.


def export_format(value: str) -> str:
    from .core.exchange import EXPORT_FORMATS

    if value not in EXPORT_FORMATS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(EXPORT_FORMATS)}")
    return value


def import_kind(value: str) -> str:
    from .core.exchange import IMPORT_KINDS

    if value not in IMPORT_KINDS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(IMPORT_KINDS)}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [LLAMA_SERVER_FLAG]:
        # The installed (frozen) app has no separate Python: it serves the local model itself.
        return run_llama_server(argv[1:])
    from .core.secrets import READ_KEYS_FLAG

    if argv[:1] == [READ_KEYS_FLAG]:
        # ...and reads keys for its window in a helper process of its own.
        from .core.secrets import serve_read_keys

        return serve_read_keys()
    if argv[:1] == ["--tool-launcher"]:  # (core/tools/launcher.py LAUNCHER_FLAG)
        # ...and starts tool servers through itself, so that none outlives it.
        from .core.tools.launcher import main as launch

        return launch(argv[1:])
    if argv[:1] == ["--typeset"]:  # (core/math.py TYPESET_FLAG, not imported at every start)
        # ...and typesets the formulas of its replies in another (core/math.py).
        from .core.math import serve

        return serve()
    parser = build_parser()
    args = parser.parse_args(argv)
    from .core.paths import resolve_paths

    try:
        if args.command in ("history", "export", "import"):
            from .history_cli import run_history_command

            return run_history_command(args, resolve_paths(getattr(args, "sub_home", None) or args.home))
        if args.command == "mcp":
            from .tools_cli import run_tools_command

            return run_tools_command(args, resolve_paths(args.sub_home or args.home))
        if args.command == "ask":
            from .ask_cli import ask

            return asyncio.run(ask(args, resolve_paths(args.ask_home or args.home)))
    except BrokenPipeError:
        return stdout_closed()
    except KeyboardInterrupt:
        return 130  # Ctrl+C: what had arrived is kept (as stopped); no traceback
    from .app import LaunchOptions, run_gui

    return run_gui(
        LaunchOptions(resolve_paths(args.home), provider=args.provider, model=args.model, quick_ask=args.quick_ask)
    )


def stdout_closed() -> int:
    """The reader went away (`| head`): end quietly, as click-based tools such as `llm` do.
    What Python would still flush at exit goes nowhere instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


if __name__ == "__main__":
    sys.exit(main())
