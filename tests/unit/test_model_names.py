"""Model ids as people say them."""

from __future__ import annotations

import pytest

from desktop_chat.core.model_names import display_name


@pytest.mark.parametrize(
    ("model_id", "shown"),
    [
        ("gpt-4o", "GPT-4o"),
        ("gpt-4o-2024-08-06", "GPT-4o"),
        ("gpt-4o-mini", "GPT-4o mini"),
        ("gpt-3.5-turbo-0613", "GPT-3.5 turbo"),
        ("claude-3-5-sonnet-20241022", "Claude 3.5 Sonnet"),
        ("claude-sonnet-4-5", "Claude Sonnet 4.5"),
        ("anthropic/claude-opus-4-1-20250805", "Claude Opus 4.1"),
        ("meta-llama/llama-3.2-3b-instruct", "Llama 3.2 3B Instruct"),
        ("llama3.2:latest", "Llama 3.2"),
        ("qwen2.5-coder:7b", "Qwen 2.5 Coder 7B"),
        ("deepseek-r1:14b", "DeepSeek R1 14B"),
        ("gemma-3-4b-it", "Gemma 3 4B IT"),
        # Families it does not know keep their id.
        ("o3-mini", "o3-mini"),
        ("test-model", "test-model"),
        ("my.custom/Model_X", "Model_X"),
    ],
)
def test_display_name(model_id, shown):
    assert display_name(model_id) == shown


def test_a_providers_own_label_wins():
    assert display_name("tiny", {"tiny": "SmolLM2 135M"}) == "SmolLM2 135M"
