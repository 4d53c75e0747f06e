"""ModelPicker: the provider and the model a chat uses. It shows the chat's choice, gives
the user's pick to the chat, and fills its lists from the provider directory: models
listed by the provider when the list is opened, local servers found on this computer."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from desktop_chat.core.chat import ChatController
from desktop_chat.core.directory import ProviderDirectory
from desktop_chat.core.providers import NoEndpoint, ProviderError


class ModelBox(QComboBox):
    """An editable model list that says when it is about to open, so it can be filled then."""

    popupAboutToShow = Signal()

    def showPopup(self) -> None:
        self.popupAboutToShow.emit()
        super().showPopup()


class ModelPicker(QWidget):
    def __init__(self, chat: ChatController, directory: ProviderDirectory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chat = chat
        self.directory = directory
        self.models_task: asyncio.Task[None] | None = None
        self.discovery_task: asyncio.Task[None] | None = None
        self.provider_box = QComboBox()
        self.provider_box.setAccessibleName("Provider")
        self.provider_box.setToolTip("Provider")
        self.model_box = ModelBox()
        self.model_box.setEditable(True)
        self.model_box.setAccessibleName("Model")
        # Its text field is what a screen reader lands on; and the lists each box opens.
        line = self.model_box.lineEdit()
        if line is not None:
            line.setAccessibleName("Model name")
        self.model_box.view().setAccessibleName("Models")
        self.provider_box.view().setAccessibleName("Providers")
        self.model_box.setToolTip("Model: pick one listed by the provider, or type any name")
        self.model_box.setMinimumWidth(220)
        self.model_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.provider_box)
        row.addWidget(self.model_box)
        self.fill_providers()
        self.show_choice()
        self.provider_box.currentTextChanged.connect(self._provider_picked)
        self.model_box.currentTextChanged.connect(self._model_picked)
        self.model_box.popupAboutToShow.connect(self.load_models)

    # Showing the chat's choice

    def fill_providers(self) -> None:
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        for name in self.directory.names():
            self.provider_box.addItem(name)
            description = self.directory.describe(name)
            if description:
                self.provider_box.setItemData(self.provider_box.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.provider_box.setCurrentText(self.chat.choice.provider)
        self.provider_box.blockSignals(False)

    def show_choice(self) -> None:
        """Show the chat's provider and model (touching the lists only where they differ, so
        that a model name being typed is left alone)."""
        choice = self.chat.choice
        if self.provider_box.findText(choice.provider) < 0:
            self.fill_providers()
        if self.provider_box.currentText() != choice.provider or self.model_box.count() == 0:
            self.provider_box.blockSignals(True)
            self.provider_box.setCurrentText(choice.provider)
            self.provider_box.blockSignals(False)
            self._fill_models(self.directory.models_of(choice.provider) or [], choice.model)
        elif self.model_box.currentText().strip() != choice.model:
            self._fill_models([self.model_box.itemText(i) for i in range(self.model_box.count())], choice.model)

    def _fill_models(self, models: list[str], current: str) -> None:
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems(models)
        if current and current not in models:
            self.model_box.insertItem(0, current)
        labels = self.directory.model_labels(self.provider_box.currentText())
        for index in range(self.model_box.count()):
            label = labels.get(self.model_box.itemText(index))
            if label:
                self.model_box.setItemData(index, label, Qt.ItemDataRole.ToolTipRole)
        # The current item, not only its text: a change to the item shown would put its
        # text back in the box.
        self.model_box.setCurrentIndex(self.model_box.findText(current))
        self.model_box.setEditText(current)
        self.model_box.blockSignals(False)

    # The user's pick

    def _provider_picked(self, provider: str) -> None:
        choice = self.directory.choose(provider, None)
        self._fill_models(self.directory.models_of(choice.provider) or [], choice.model)
        self.chat.set_choice(choice.provider, choice.model)
        self.load_models()

    def _model_picked(self, model: str) -> None:
        self.chat.set_choice(self.provider_box.currentText(), model)

    # Finding models and servers

    def load_models(self) -> None:
        """List the provider's models (once per provider and run).

        Asked when the picker opens or the provider changes, never at start-up: the
        first window paints before the network or the SDK is touched.
        """
        self.find_local_servers()
        provider = self.provider_box.currentText()
        if self.directory.models_of(provider) is not None:
            return  # known without asking (and the local model is not started for a list)
        if self.models_task is None or self.models_task.done():
            self.models_task = asyncio.ensure_future(self._fetch_models(provider))

    async def _fetch_models(self, provider: str) -> None:
        try:
            models = await self.directory.list_models(provider)
        except (NoEndpoint, ProviderError) as exc:
            self.model_box.setToolTip(f"Could not list models: {exc} Type a model name.")
            return
        if self.provider_box.currentText() != provider:
            return
        current = self.model_box.currentText().strip()
        self._fill_models(models, current or (models[0] if models else ""))
        self.model_box.setToolTip(f"{len(models)} models from {provider}; or type any name")
        if not current and models:
            self.chat.set_choice(provider, models[0])

    def find_local_servers(self) -> None:
        """Probe for Ollama and LM Studio on this computer, in the background."""
        if self.discovery_task is None or self.discovery_task.done():
            self.discovery_task = asyncio.ensure_future(self._discover())

    async def _discover(self) -> None:
        if await self.directory.discover():
            self.fill_providers()
            if self.provider_box.currentText() in self.directory.found:
                self._fill_models(self.directory.models_of(self.chat.choice.provider) or [], self.chat.choice.model)

    @property
    def idle(self) -> bool:
        return all(t is None or t.done() for t in (self.models_task, self.discovery_task))

    def shutdown(self) -> None:
        for task in (self.models_task, self.discovery_task):
            if task is not None:
                task.cancel()
