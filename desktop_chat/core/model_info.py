"""What a provider's model list says about a model: how long a context it takes, and whether
it sees images. Providers say it in their own words, in the entries of /models beside `id`
(the OpenAI SDK keeps unknown fields); OpenAI, Ollama's /v1 and LM Studio's /v1 say
nothing, and then nothing is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    context: int | None = None  # tokens, where the provider says
    vision: bool | None = None  # sees images (None: the provider does not say)


# Where each provider puts the context length of a model (first found wins).
_CONTEXT_KEYS = (
    ("context_length",),  # OpenRouter, Together, DeepInfra
    ("top_provider", "context_length"),  # OpenRouter
    ("context_window",),  # Groq
    ("max_context_length",),  # Mistral, LM Studio's /api/v0
    ("max_model_len",),  # vLLM
    ("meta", "n_ctx"),  # llama.cpp's llama-server
    ("meta", "n_ctx_train"),
    ("context_size",),
)


def _at(entry: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entry
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def info_from_listing(entry: dict[str, Any]) -> ModelInfo:
    """A /models entry's context and vision, as far as it says."""
    context = None
    for path in _CONTEXT_KEYS:
        value = _at(entry, path)
        if isinstance(value, int | float) and not isinstance(value, bool) and 256 <= value <= 100_000_000:
            context = int(value)
            break
    return ModelInfo(context, _vision(entry))


def _vision(entry: dict[str, Any]) -> bool | None:
    architecture = entry.get("architecture")
    if isinstance(architecture, dict):  # OpenRouter
        modalities = architecture.get("input_modalities")
        if isinstance(modalities, list):
            return "image" in modalities
        modality = architecture.get("modality")
        if isinstance(modality, str) and "->" in modality:
            return "image" in modality.split("->", 1)[0]
    capabilities = entry.get("capabilities")
    if isinstance(capabilities, dict) and isinstance(capabilities.get("vision"), bool):  # Mistral
        return bool(capabilities["vision"])
    if isinstance(capabilities, list) and all(isinstance(c, str) for c in capabilities):  # Ollama's /api/show
        return "vision" in capabilities or "multimodal" in capabilities
    for key in ("input_modalities", "modalities"):
        modalities = entry.get(key)
        if isinstance(modalities, list) and all(isinstance(m, str) for m in modalities):
            return "image" in modalities or "vision" in modalities
    kind = entry.get("type")
    if kind in ("vlm", "llm"):  # LM Studio's /api/v0
        return bool(kind == "vlm")
    return None
