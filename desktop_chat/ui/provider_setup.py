"""File → Providers… and what saving it means: the settings, keys stored (or, with no
keyring, a private file offered), keys of removed providers deleted, and conversations
following a renamed provider. And KeyLookup: the keyring asked after the first paint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_chat.core.secrets import KeyringUnavailable
from desktop_chat.core.services import Services

from .operations import Writes

if TYPE_CHECKING:
    # Imported when the dialog first opens: not on the way to the first paint.
    from .providers_dialog import ProvidersDialog


class ProviderSetup:
    def __init__(self, parent: QWidget, services: Services, writes: Writes, status: Callable[[str], None]) -> None:
        self.parent = parent
        self.services = services
        self.writes = writes
        self.status = status
        # Where keys go if there is no keyring and the user agrees to a private file.
        self.key_file: Path | None = services.paths.key_file if services.paths else None

    def edit(self, intro: str = "") -> ProvidersDialog:
        from .providers_dialog import ProvidersDialog

        dialog = ProvidersDialog(self.services.settings.current, self.services.keys, self.parent, intro=intro)
        dialog.accepted.connect(lambda: self.save(dialog))
        dialog.open()
        return dialog

    def save(self, dialog: ProvidersDialog) -> None:
        services = self.services
        old, new = services.settings.current, dialog.result_settings
        before = {p.id: p for p in old.providers}
        after = {p.id: p for p in new.providers}
        renamed = {before[i].name: p.name for i, p in after.items() if i in before and before[i].name != p.name}
        # First, so that a chat on a renamed provider follows it too.
        self.writes.run(lambda: services.store.rename_providers(renamed))
        unsaved = []
        try:
            for ident, provider in before.items():
                if ident not in after:
                    services.keys.delete(provider)
            for ident, key in dialog.entered_keys.items():
                if ident in after:
                    try:
                        services.keys.set(after[ident], key)
                    except KeyringUnavailable:
                        unsaved.append(after[ident].name)
        except OSError as exc:  # the private key file
            self.writes.notice(f"The keys could not be written to {services.keys.key_file} ({exc.strerror or exc}).")
        self.writes.run(lambda: services.settings.update(new))
        services.state.update(replace(services.state.current, first_run_done=True))
        if unsaved:
            self.offer_key_file()

    def offer_key_file(self) -> QMessageBox | None:
        """No keyring works here: offer a file only the user can read, or this session only."""
        if self.key_file is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "No keyring",
            "This system has no keyring to keep API keys safe. Keep them in a file that only "
            f"you can read ({self.key_file})? Otherwise they are used until you quit.",
            QMessageBox.StandardButton.NoButton,
            self.parent,
        )
        use_file = box.addButton("Keep in a private file", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("This session only", QMessageBox.ButtonRole.RejectRole)

        def chosen() -> None:
            if box.clickedButton() is not use_file or self.key_file is None:
                return
            key_file, services = self.key_file, self.services
            try:
                services.keys.use_file(key_file)
            except OSError as exc:
                self.writes.notice(
                    f"The keys could not be written to {key_file} ({exc.strerror or exc}); "
                    "they are used until you quit."
                )
                return
            if self.writes.run(
                lambda: services.settings.update(replace(services.settings.current, key_storage="file"))
            ):
                self.status(f"Keys are kept in {key_file}, readable only by you")

        box.finished.connect(chosen)
        box.open()
        return box


class KeyLookup(QObject):
    """Asks the keyring which providers have a key: in the background after the first paint
    (a helper process), or at once when a message is sent before it answered. Until then
    the window chooses as the keyring answered last time (KeyStore.assumed)."""

    answered = Signal()

    def __init__(self, services: Services, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.task: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self.services.keys.answered

    def start(self) -> None:
        if not self.done and self.task is None:
            self.task = asyncio.ensure_future(self._look_up())

    async def _look_up(self) -> None:
        services = self.services
        self._answer(await services.keys.look_up_in_background(services.directory.providers_taking_keys()))

    def settle(self) -> None:
        """Wait for the keyring now (only when its answer is needed before it came)."""
        held = self.services.keys.settle(self.services.directory.providers_taking_keys())
        if held is not None:
            self._answer(held)

    def _answer(self, held: frozenset[str]) -> None:
        self.services.remember_keys(held)
        self.answered.emit()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
