"""SettingsDialog: the app's preferences, edited as a copy of Settings and saved whole."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_chat.core.settings import PromptPreset, Settings


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — Desktop Chat")
        self.setObjectName("settingsDialog")
        self.original = settings
        self.result_settings = settings
        tabs = QTabWidget()
        tabs.addTab(self._chat_tab(settings), "Chat")
        tabs.addTab(self._appearance_tab(settings), "Appearance")
        tabs.addTab(self._desktop_tab(settings), "Desktop")
        self.error = QLabel()
        self.error.setStyleSheet("color: #d93025")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self.providers_button = buttons.addButton("Providers…", QDialogButtonBox.ButtonRole.ResetRole)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(560, 480)

    def _chat_tab(self, settings: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.default_provider = QComboBox()
        self.default_provider.setAccessibleName("Default provider")
        self.default_provider.addItems([p.name for p in settings.providers])
        self.default_provider.setCurrentText(settings.default_provider)
        self.default_model = QLineEdit(settings.default_model)
        self.default_model.setAccessibleName("Default model")
        self.default_model.setPlaceholderText("the provider's default model")
        self.system_prompt = QPlainTextEdit(settings.system_prompt)
        self.system_prompt.setAccessibleName("Default system prompt")
        self.system_prompt.setMaximumHeight(80)
        self.use_temperature = QCheckBox("Set")
        self.temperature = QDoubleSpinBox()
        self.temperature.setAccessibleName("Default temperature")
        rule = Settings.option("temperature")
        self.temperature.setRange(rule.minimum or 0.0, rule.maximum or 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(settings.temperature if settings.temperature is not None else 1.0)
        self.use_temperature.setChecked(settings.temperature is not None)
        self.temperature.setEnabled(settings.temperature is not None)
        self.use_temperature.toggled.connect(self.temperature.setEnabled)
        temperature_row = QHBoxLayout()
        temperature_row.addWidget(self.use_temperature)
        temperature_row.addWidget(self.temperature, 1)
        self.presets = QTableWidget(0, 2)
        self.presets.setAccessibleName("System prompt presets")
        self.presets.setHorizontalHeaderLabels(["Name", "System prompt"])
        self.presets.horizontalHeader().setStretchLastSection(True)
        self.presets.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for preset in settings.prompt_presets:
            self._add_preset(preset.name, preset.prompt)
        add = QPushButton("Add preset")
        add.clicked.connect(lambda: self._add_preset("New preset", ""))
        remove = QPushButton("Remove preset")
        remove.clicked.connect(lambda: self.presets.removeRow(self.presets.currentRow()))
        preset_buttons = QHBoxLayout()
        preset_buttons.addWidget(add)
        preset_buttons.addWidget(remove)
        preset_buttons.addStretch()
        form.addRow("Default provider", self.default_provider)
        form.addRow("Default model", self.default_model)
        form.addRow("System prompt for new chats", self.system_prompt)
        form.addRow("Temperature", temperature_row)
        self.model_titles = QCheckBox("Ask the model for a short title after the first reply")
        self.model_titles.setChecked(settings.model_titles)
        form.addRow("", self.model_titles)
        context = Settings.option("context_tokens")
        self.context_tokens = QSpinBox()
        self.context_tokens.setAccessibleName("Context when the provider does not say")
        self.context_tokens.setRange(int(context.minimum or 0), int(context.maximum or 0))
        self.context_tokens.setSingleStep(1024)
        self.context_tokens.setGroupSeparatorShown(True)
        self.context_tokens.setSuffix(" tokens")
        self.context_tokens.setValue(settings.context_tokens)
        self.context_tokens.setToolTip(
            "Attached documents are cut to fit a model's context. Providers that list how long it is"
            " (OpenRouter, Groq, vLLM, llama.cpp…) are believed; for the others this is assumed."
        )
        form.addRow("Context when the provider does not say", self.context_tokens)
        form.addRow("Presets", self.presets)
        form.addRow("", preset_buttons)
        return page

    @staticmethod
    def _choose(box: QComboBox, name: str, current: str) -> None:
        """Fill a list with a setting's choices, as the settings declare them."""
        for value, label in Settings.option(name).choices:
            box.addItem(label, value)
        box.setCurrentIndex(Settings.option(name).values.index(current))

    def _add_preset(self, name: str, prompt: str) -> None:
        row = self.presets.rowCount()
        self.presets.insertRow(row)
        self.presets.setItem(row, 0, QTableWidgetItem(name))
        self.presets.setItem(row, 1, QTableWidgetItem(prompt))

    def _appearance_tab(self, settings: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        self._choose(self.theme, "theme", settings.theme)
        self.font_size = QSpinBox()
        self.font_size.setAccessibleName("Font size")
        size = Settings.option("font_size")
        self.font_size.setRange(0, int(size.maximum or 0))
        self.font_size.setSpecialValueText("System default")
        self.font_size.setSuffix(" pt")
        self.font_size.setValue(settings.font_size)
        self.reasoning = QComboBox()
        self.reasoning.setAccessibleName("Reasoning")
        self._choose(self.reasoning, "reasoning", settings.reasoning)
        form.addRow("Theme", self.theme)
        form.addRow("Text size", self.font_size)
        form.addRow("Reasoning", self.reasoning)
        return page

    def _desktop_tab(self, settings: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.send_key = QComboBox()
        self.send_key.setAccessibleName("Send key")
        self._choose(self.send_key, "send_key", settings.send_key)
        self.shortcut = QKeySequenceEdit(QKeySequence(settings.quick_ask_shortcut))
        self.shortcut.setAccessibleName("Quick-ask shortcut")
        self.start_at_login = QCheckBox("Start Desktop Chat when I log in")
        self.start_at_login.setChecked(settings.start_at_login)
        self.keep_in_tray = QCheckBox("Keep running in the tray when the window is closed")
        self.keep_in_tray.setChecked(settings.keep_in_tray)
        form.addRow("Sending", self.send_key)
        form.addRow("Quick-ask shortcut", self.shortcut)
        form.addRow("", self.start_at_login)
        form.addRow("", self.keep_in_tray)
        return page

    def values(self) -> Settings:
        presets = []
        for row in range(self.presets.rowCount()):
            name = (self.presets.item(row, 0) or QTableWidgetItem()).text().strip()
            prompt = (self.presets.item(row, 1) or QTableWidgetItem()).text().strip()
            if name and prompt:
                presets.append(PromptPreset(name, prompt))
        return replace(
            self.original,
            default_provider=self.default_provider.currentText(),
            default_model=self.default_model.text().strip(),
            system_prompt=self.system_prompt.toPlainText().strip(),
            temperature=self.temperature.value() if self.use_temperature.isChecked() else None,
            prompt_presets=tuple(presets),
            theme=self.theme.currentData(),
            font_size=self.font_size.value(),
            reasoning=self.reasoning.currentData(),
            send_key=self.send_key.currentData(),
            quick_ask_shortcut=self.shortcut.keySequence().toString() or self.original.quick_ask_shortcut,
            start_at_login=self.start_at_login.isChecked(),
            keep_in_tray=self.keep_in_tray.isChecked(),
            model_titles=self.model_titles.isChecked(),
            context_tokens=self.context_tokens.value(),
        )

    def _save(self) -> None:
        minimum = Settings.option("font_size").minimum or 0
        if 0 < self.font_size.value() < minimum:
            self.error.setText(f"Text size must be at least {minimum:g} pt (or 0 for the system's).")
            return
        self.result_settings = self.values()
        self.accept()
