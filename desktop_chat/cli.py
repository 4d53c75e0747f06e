"""Command line: the GUI by default; `ask` streams one reply to stdout with the same core."""

from __future__ import annotations

import argparse
import asyncio
import sys

from . import __version__

LLAMA_SERVER_FLAG = "--run-llama-server"


def run_llama_server(argv: list[str]) -> int:
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *argv]
    serve()
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
    ask = sub.add_parser("ask", help="stream one reply to stdout")
    ask.add_argument("prompt", nargs="?", help="the prompt; read from stdin when left out")
    ask.add_argument("--system", help="system prompt")
    ask.add_argument("--provider", dest="ask_provider", help="provider name")
    ask.add_argument("--model", dest="ask_model", help="model name")
    ask.add_argument("--temperature", type=float)
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
    export.add_argument("--format", choices=["md", "json", "html"], default="md")
    export.add_argument("--out", metavar="PATH", help="file to write (default: stdout)")
    export.add_argument("--home", dest="sub_home", metavar="DIR")
    imp = sub.add_parser("import", help="import a ChatGPT data export or a Desktop Chat JSON export")
    imp.add_argument("kind", choices=["chatgpt", "json"])
    imp.add_argument("file")
    imp.add_argument("--home", dest="sub_home", metavar="DIR")
    return parser


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
    args = build_parser().parse_args(argv)
    from .core.paths import resolve_paths

    if args.command in ("history", "export", "import"):
        from .history_cli import run_history_command

        return run_history_command(args, resolve_paths(getattr(args, "sub_home", None) or args.home))
    if args.command == "ask":
        paths = resolve_paths(args.ask_home or args.home)
        return asyncio.run(
            ask(
                paths,
                args.prompt,
                args.ask_provider or args.provider,
                args.ask_model or args.model,
                args.system,
                args.temperature,
            )
        )
    from .app import LaunchOptions, run_gui

    return run_gui(
        LaunchOptions(resolve_paths(args.home), provider=args.provider, model=args.model, quick_ask=args.quick_ask)
    )


async def ask(paths, prompt, provider_name, model, system, temperature) -> int:  # type: ignore[no-untyped-def]
    from .core.directory import ProviderDirectory
    from .core.providers import ProviderClients, TextDelta
    from .core.secrets import KeyStore
    from .core.session import ChatSession, NoEndpoint
    from .core.settings import load_settings
    from .core.store import HistoryStore

    if prompt is None:
        if sys.stdin is None or sys.stdin.isatty():
            print("desktop-chat: no prompt given (pass it as an argument or on stdin)", file=sys.stderr)
            return 2
        prompt = sys.stdin.read()
    if not prompt.strip():
        print("desktop-chat: the prompt is empty", file=sys.stderr)
        return 2
    loaded = load_settings(paths.settings_file)
    if loaded.problem:
        print(f"desktop-chat: settings ignored: {loaded.problem} (kept as {loaded.backup})", file=sys.stderr)
    settings = loaded.settings
    keys = KeyStore(key_file=paths.key_file if settings.key_storage == "file" else None)
    directory = ProviderDirectory.create(settings, keys)
    if provider_name:
        name = provider_name
        chosen_model = model or directory.default_model(name)
        if name == settings.default_provider:
            chosen_model = model or settings.default_model or chosen_model
    else:
        # The default, or the tiny local model when the default has no key.
        name, default_model = directory.default_choice()
        chosen_model = model or default_model
    if name not in directory.names():
        known = ", ".join(directory.names())
        print(f"desktop-chat: unknown provider '{name}' (known: {known})", file=sys.stderr)
        return 2
    try:
        directory.check_endpoint(name)
    except NoEndpoint as exc:
        print(f"desktop-chat: {exc}", file=sys.stderr)
        return 2
    # A script's one-off question is not kept in the history; the store is in memory.
    store = HistoryStore(":memory:")
    clients = ProviderClients()
    session = ChatSession(
        store,
        clients,
        directory.endpoint,
        settings.first_token_timeout,
        settings.idle_timeout,
        preflight=directory.preflight,
        default_system_prompt=directory.system_prompt,
    )
    conversation = store.create_conversation(
        provider=name,
        model=chosen_model,
        system_prompt=system if system is not None else settings.system_prompt,
        temperature=temperature if temperature is not None else settings.temperature,
    )
    out = sys.stdout

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, TextDelta):
            out.write(event.text)
            out.flush()

    try:
        outcome = await session.stream(session.prepare_send(conversation, prompt), on_event)
    finally:
        await clients.aclose()
        directory.shutdown()
    if outcome.message.content and not outcome.message.content.endswith("\n"):
        out.write("\n")
        out.flush()
    if outcome.failure is not None:
        print(f"desktop-chat: {outcome.failure.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
