"""The system prompt and temperature of one conversation (Chat → Conversation settings…)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QWidget,
)

from desktop_chat.core.settings import PromptPreset


class ConversationSettingsDialog(QDialog):
    def __init__(
        self,
        conversation_prompt: str,
        temperature: float | None,
        parent: QWidget | None = None,
        presets: tuple[PromptPreset, ...] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversation settings — Desktop Chat")
        self.prompt = QPlainTextEdit(conversation_prompt)
        self.presets = QComboBox()
        self.presets.setAccessibleName("System prompt preset")
        self.presets.addItem("Presets…", "")
        for preset in presets:
            self.presets.addItem(preset.name, preset.prompt)
        self.presets.setVisible(bool(presets))
        self.presets.activated.connect(
            lambda index: self.prompt.setPlainText(self.presets.itemData(index)) if index > 0 else None
        )
        self.prompt.setAccessibleName("System prompt")
        self.prompt.setPlaceholderText("You are a helpful assistant.")
        self.use_temperature = QCheckBox("Set temperature")
        self.temperature = QDoubleSpinBox()
        self.temperature.setAccessibleName("Temperature")
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(temperature if temperature is not None else 1.0)
        self.use_temperature.setChecked(temperature is not None)
        self.temperature.setEnabled(temperature is not None)
        self.use_temperature.toggled.connect(self.temperature.setEnabled)
        form = QFormLayout(self)
        form.addRow("", self.presets)
        form.addRow("System prompt", self.prompt)
        row = QHBoxLayout()
        row.addWidget(self.use_temperature)
        row.addWidget(self.temperature)
        form.addRow(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(480, 300)

    def values(self) -> tuple[str, float | None]:
        temperature = self.temperature.value() if self.use_temperature.isChecked() else None
        return self.prompt.toPlainText().strip(), temperature
