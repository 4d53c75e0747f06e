"""ProvidersDialog: add, edit and remove providers, and enter their keys."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.settings import ProviderConfig, Settings, new_provider_id

PRESETS = [
    ProviderConfig("Ollama", "http://localhost:11434/v1", "llama3.2", needs_key=False),
    ProviderConfig("LM Studio", "http://localhost:1234/v1", "", needs_key=False),
    ProviderConfig("llama.cpp server", "http://localhost:8080/v1", "", needs_key=False),
    ProviderConfig("vLLM", "http://localhost:8000/v1", "", needs_key=False),
    ProviderConfig("OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini"),
    ProviderConfig("Groq", "https://api.groq.com/openai/v1", "llama-3.3-70b-versatile"),
]


class ProvidersDialog(QDialog):
    """Edits a copy of the settings; after Save, `result_settings` holds it and `entered_keys`
    the keys typed in. Storing them is ProviderSetup's job."""

    def __init__(self, settings: Settings, keys: KeyStore, parent: QWidget | None = None, intro: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Providers — Desktop Chat")
        self.setAccessibleName("Providers")
        self.keys = keys
        self.result_settings = settings
        # Keys typed in, by provider id; stored by whoever opened the dialog, once it is saved.
        self.entered_keys: dict[str, str] = {}

        self.list = QListWidget()
        self.list.setAccessibleName("Provider list")
        self.list.currentRowChanged.connect(self._show_row)
        self.name = QLineEdit()
        self.name.setAccessibleName("Provider name")
        self.base_url = QLineEdit()
        self.base_url.setAccessibleName("Base URL")
        self.base_url.setPlaceholderText("https://api.openai.com/v1")
        self.key = QLineEdit()
        self.key.setAccessibleName("API key")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("stored in the system keyring")
        self.no_key = QCheckBox("This server needs no key (local servers)")
        self.send_reasoning = QCheckBox("Send replies' reasoning back with the conversation")
        self.send_reasoning.setToolTip(
            "Some providers want the model's thinking sent back (DeepSeek's thinking mode with tools). "
            "Leave it off for the others."
        )
        self.default_model = QLineEdit()
        self.default_model.setAccessibleName("Default model")
        self.error = QLabel()
        self.error.setStyleSheet("color: #d93025")
        self.error.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Base URL", self.base_url)
        form.addRow("API key", self.key)
        form.addRow("", self.no_key)
        form.addRow("Default model", self.default_model)
        form.addRow("", self.send_reasoning)

        add = QPushButton("Add")
        add.setAccessibleName("Add provider")
        menu = QMenu(add)
        menu.addAction("Custom…", lambda: self._add(ProviderConfig("New provider", "http://localhost:8000/v1")))
        for preset in PRESETS:
            menu.addAction(preset.name, partial(self._add, preset))
        add.setMenu(menu)
        remove = QPushButton("Remove")
        remove.setAccessibleName("Remove provider")
        remove.clicked.connect(self._remove)
        apply = QPushButton("Apply")
        apply.clicked.connect(self._commit_row)
        side = QVBoxLayout()
        side.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        side.addLayout(row)

        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(apply)
        right.addWidget(self.error)
        right.addStretch()

        body = QHBoxLayout()
        body.addLayout(side, 1)
        body.addLayout(right, 2)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        if intro:
            label = QLabel(intro)
            label.setWordWrap(True)
            layout.addWidget(label)
        layout.addLayout(body)
        layout.addWidget(buttons)
        self.resize(640, 360)

        self._providers = list(settings.providers)
        self._current = -1
        self._refresh_list()
        if self._providers:
            self.list.setCurrentRow(0)
        # First run: the one thing to do is paste a key. Otherwise the provider shown, ready
        # to edit, the caret at the end of its name (the list is a Shift+Tab away).
        self._first_field = self.key if intro else self.name

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._first_field.setFocus()
        # After the window's own focus-in, which selects the whole field (a typed key would
        # replace the name).
        QTimer.singleShot(0, self._caret_at_end)

    def _caret_at_end(self) -> None:
        self._first_field.deselect()
        self._first_field.end(False)

    def _refresh_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([p.name for p in self._providers])
        self.list.blockSignals(False)

    def _show_row(self, row: int) -> None:
        if self._current >= 0 and not self._commit_row():
            self.list.blockSignals(True)
            self.list.setCurrentRow(self._current)
            self.list.blockSignals(False)
            return
        self._current = row
        if row < 0:
            return
        provider = self._providers[row]
        self.name.setText(provider.name)
        self.base_url.setText(provider.base_url)
        self.default_model.setText(provider.default_model)
        self.no_key.setChecked(not provider.needs_key)
        self.send_reasoning.setChecked(provider.send_reasoning)
        self.key.setText(self.entered_keys.get(provider.id, ""))
        if self.keys.stored_key(provider):
            hint = "a key is stored — type to replace it"
        elif self.keys.environment_key(provider):
            hint = "the OPENAI_API_KEY variable gives one — type a key to store your own"
        else:
            hint = "stored in the system keyring"
        self.key.setPlaceholderText(hint)

    def _commit_row(self) -> bool:
        """Validate the form into the provider being edited; say what is wrong if anything."""
        if self._current < 0 or self._current >= len(self._providers):
            return True
        name, url = self.name.text().strip(), self.base_url.text().strip()
        if not name:
            self.error.setText("A provider needs a name.")
            return False
        if not url.startswith(("http://", "https://")):
            self.error.setText("The base URL must start with http:// or https://")
            return False
        if any(p.name == name for i, p in enumerate(self._providers) if i != self._current):
            self.error.setText(f"There is already a provider named {name}.")
            return False
        old = self._providers[self._current]
        self._providers[self._current] = replace(
            old,
            name=name,
            base_url=url,
            default_model=self.default_model.text().strip(),
            needs_key=not self.no_key.isChecked(),
            send_reasoning=self.send_reasoning.isChecked(),
        )
        if self.key.text().strip():
            self.entered_keys[old.id] = self.key.text().strip()
        self.error.clear()
        item = self.list.item(self._current)
        if item is not None:
            item.setText(name)
        return True

    def _add(self, preset: ProviderConfig) -> None:
        if not self._commit_row():
            return
        name, n = preset.name, 2
        while any(p.name == name for p in self._providers):
            name, n = f"{preset.name} {n}", n + 1
        self._providers.append(replace(preset, name=name, id=new_provider_id()))
        self._refresh_list()
        self._current = -1
        self.list.setCurrentRow(len(self._providers) - 1)

    def _remove(self) -> None:
        row = self._current
        if row < 0 or len(self._providers) <= 1:
            self.error.setText("Keep at least one provider.")
            return
        del self._providers[row]
        self._current = -1
        self._refresh_list()
        self.list.setCurrentRow(min(row, len(self._providers) - 1))

    def _save(self) -> None:
        if not self._commit_row():
            return
        before = self.result_settings
        settings = replace(before, providers=tuple(self._providers))
        default = before.provider(before.default_provider)
        if default is not None:
            # The default follows its provider through a rename.
            renamed = next((p.name for p in self._providers if p.id == default.id), None)
            settings = replace(settings, default_provider=renamed or before.default_provider)
        if settings.provider(settings.default_provider) is None:
            settings = replace(settings, default_provider=self._providers[0].name)
        self.result_settings = settings
        self.accept()
