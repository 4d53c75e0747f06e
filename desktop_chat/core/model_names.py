"""A model's name as people say it ("GPT-4o", "Llama 3.2"), from the id a provider uses
("gpt-4o-2024-08-06", "meta-llama/llama-3.2-3b-instruct", "llama3.2:latest")."""

from __future__ import annotations

import re

# How families are written; the rest of an id keeps its own spelling.
_FAMILIES = {
    "gpt": "GPT",
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "llama": "Llama",
    "codellama": "Code Llama",
    "mistral": "Mistral",
    "mixtral": "Mixtral",
    "gemma": "Gemma",
    "gemini": "Gemini",
    "qwen": "Qwen",
    "deepseek": "DeepSeek",
    "phi": "Phi",
    "grok": "Grok",
    "command": "Command",
    "smollm": "SmolLM",
}
# A date or snapshot suffix: -2024-08-06, -20241022, -0613
_DATE = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$")
_FAMILY = re.compile(r"^([a-z]+)(\d.*)?$")
_SIZE = re.compile(r"^\d+(\.\d+)?[bmk]$")


def display_name(model_id: str, labels: dict[str, str] | None = None) -> str:
    """The name to show for `model_id`; `labels` are names a provider gives (local files).
    Ids of families it does not know are shown as they are."""
    if labels and model_id in labels:
        return labels[model_id]
    name = model_id.rsplit("/", 1)[-1]
    base, _, tag = name.partition(":")
    words = _DATE.sub("", base).split("-")
    match = _FAMILY.match(words[0])
    if not match or match.group(1) not in _FAMILIES:
        return name or model_id
    family, version = match.groups()
    if tag and tag != "latest":
        words.append(tag)
    rest = words[1:]
    if family == "gpt":
        # gpt-4o-mini -> GPT-4o mini, gpt-3.5-turbo -> GPT-3.5 turbo (as OpenAI writes them)
        return " ".join([f"GPT-{rest[0]}" if rest else "GPT", *rest[1:]])
    parts = [_FAMILIES[family]] + ([version] if version else [])
    for word in rest:
        if word.isdigit() and len(word) == 1 and parts[-1].replace(".", "").isdigit():
            parts[-1] += f".{word}"  # claude-3-5-sonnet -> Claude 3.5 Sonnet
        elif _SIZE.match(word) or re.fullmatch(r"[a-z]\d+", word) or word in ("it", "vl", "moe"):
            parts.append(word.upper())  # 7b -> 7B, r1 -> R1, it -> IT
        else:
            parts.append(word.capitalize() if word.isalpha() else word)
    return " ".join(parts)
