"""File → Import, Export, Print and Save as PDF: file dialogs and printers around
core/exchange.py, whose formats the command line's verbs use too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_chat.core.conversation import Conversation
from desktop_chat.core.store import HistoryStore
from desktop_chat.errors import SaveFailed

from .actions import Command, Commands


class ImportExport:
    def __init__(
        self,
        parent: QWidget,
        store: HistoryStore,
        current: Callable[[], Conversation | None],
        notice: Callable[[str], None],
        status: Callable[[str], None],
    ) -> None:
        self.parent = parent
        self.store = store
        # The conversation the window shows.
        self.current = current
        self.notice = notice
        self.status = status

    def bind(self, commands: Commands) -> None:
        shown = lambda: self.current() is not None  # noqa: E731
        commands.bind(Command.IMPORT_CHATGPT, lambda: self.choose_import("chatgpt"))
        commands.bind(Command.IMPORT_JSON, lambda: self.choose_import("json"))
        commands.bind(Command.EXPORT_CONVERSATION, lambda: self.choose_export(all_conversations=False), shown)
        commands.bind(Command.EXPORT_ALL, lambda: self.choose_export(all_conversations=True))
        commands.bind(Command.PRINT, self.print_conversation, shown)
        commands.bind(Command.SAVE_PDF, self.choose_pdf, shown)

    # core/exchange.py is imported on first use: not on the way to the first paint.

    def choose_import(self, kind: str) -> None:
        from desktop_chat.core.exchange import IMPORT_KINDS

        chosen = IMPORT_KINDS[kind]
        path, _ = QFileDialog.getOpenFileName(
            self.parent, f"Import a {chosen.label}", str(Path.home()), f"{chosen.label} ({chosen.patterns})"
        )
        if path:
            self.import_file(Path(path), kind)

    def import_file(self, path: Path, kind: str) -> str:
        """Import and say how it went; returns what was said."""
        from desktop_chat.core.exchange import ImportFailed, import_file

        try:
            report = import_file(self.store, kind, path)
        except (ImportFailed, SaveFailed) as exc:
            self.notice(f"Import failed: {exc}")
            return str(exc)
        self.notice(report.summary())
        return report.summary()

    def choose_export(self, all_conversations: bool) -> None:
        conversation = self.current()
        if not all_conversations and conversation is None:
            self.notice("Open a conversation to export it, or use Export all conversations.")
            return
        from desktop_chat.core.exchange import EXPORT_FORMATS

        name = "desktop-chat-history" if all_conversations or conversation is None else conversation.title
        safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in name).strip() or "conversation"
        filters = ";;".join(f"{f.label} (*{f.suffix})" for f in EXPORT_FORMATS.values())
        path, chosen = QFileDialog.getSaveFileName(self.parent, "Export", str(Path.home() / f"{safe}.md"), filters)
        if not path:
            return
        by_suffix = next((f.key for f in EXPORT_FORMATS.values() if path.endswith(f.suffix)), None)
        by_filter = next((f.key for f in EXPORT_FORMATS.values() if chosen.startswith(f.label)), "md")
        ids = None if all_conversations or conversation is None else [conversation.id]
        self.export_to(Path(path), by_suffix or by_filter, ids)

    def export_to(self, path: Path, fmt: str, ids: list[int] | None) -> bool:
        from desktop_chat.core.exchange import export_file

        try:
            export_file(self.store, fmt, path, ids)
        except OSError as exc:
            self.notice(f"Could not export to {path}: {exc.strerror or exc}")
            return False
        self.status(f"Exported to {path}")
        return True

    def _document(self) -> QTextDocument | None:
        conversation = self.current()
        if conversation is None:
            self.notice("Open a conversation to print it.")
            return None
        from desktop_chat.core.exchange import export_html

        from .math_images import math_images

        page = export_html(self.store, [conversation.id], math="image")
        # Formulas typeset (in the helper) before the page is laid out for the printer: a
        # first layout asks for them (a document loads its images when it is laid out).
        first = _PrintDocument()
        first.setHtml(page)
        first.size()
        math_images().settle()
        document = _PrintDocument(self.parent)
        document.setHtml(page)
        return document

    def print_conversation(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        document = self._document()
        if document is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self.parent)
        dialog.accepted.connect(lambda: document.print_(printer))
        dialog.setWindowModality(Qt.WindowModality.WindowModal)  # as open() does
        dialog.show()

    def choose_pdf(self) -> None:
        if self.current() is None:
            self.notice("Open a conversation to save it as PDF.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save as PDF", str(Path.home() / "conversation.pdf"), "PDF (*.pdf)"
        )
        if path:
            self.save_pdf(Path(path))

    def save_pdf(self, path: Path) -> bool:
        from PySide6.QtPrintSupport import QPrinter

        document = self._document()
        if document is None:
            return False
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(path))
        document.print_(printer)
        if not path.exists():
            self.notice(f"Could not save {path}.")
            return False
        path.chmod(0o600)
        return True


class _PrintDocument(QTextDocument):
    """A page to print: its formulas are the typeset ones; nothing else is ever loaded."""

    def loadResource(self, type: int, name: QUrl | str) -> object:  # noqa: A002
        address = name.toString() if isinstance(name, QUrl) else str(name)
        if address.startswith("math:"):
            from .math_images import math_images

            return math_images().image(address)
        if address.startswith("data:image/"):
            return super().loadResource(type, name)  # (an attached image, in the page itself)
        return None
