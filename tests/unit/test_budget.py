"""Attachments fitted into the model's context: documents cut with a note saying how much
went, earlier images left out first, the context from the provider's model list (or the
settings' default), and the user told."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import pytest
from PIL import Image

from desktop_chat.core.attachments import prepare_bytes
from desktop_chat.core.budget import CHARS_PER_TOKEN, MIN_DOCUMENT_CHARS, plan, reply_room
from desktop_chat.core.chat import ChatListener
from desktop_chat.core.conversation import AttachmentPart, Message, TextPart
from desktop_chat.core.model_info import ModelInfo, info_from_listing
from tests.fakes.openai_server import Reply, text_stream


def _message(mid: int, role: str, text: str, *parts: AttachmentPart) -> Message:
    return Message(mid, 1, mid - 1 or None, role, text, parts=(*parts, TextPart(text)) if parts else ())


def _doc(name: str, chars: int) -> AttachmentPart:
    return AttachmentPart(name=name, mime="text/plain", digest=name * 8, size=chars, text="x" * chars)


def _image(name: str) -> AttachmentPart:
    return AttachmentPart(name=name, mime="image/png", digest=name * 8, size=10, width=10, height=10)


def test_what_fits_goes_whole():
    history = [_message(1, "user", "Read this", _doc("a", 5_000))]
    result = plan(history, 128_000, "GPT-4o", assumed=False)
    assert result.document_chars == {} and not result.dropped_images and result.notes == []


def test_a_long_document_is_cut_to_what_the_context_leaves_and_the_user_told():
    history = [_message(1, "user", "Summarise", _doc("book.txt", 500_000))]
    result = plan(history, 32_768, "GPT-4o", assumed=False)
    budget = (32_768 - reply_room(32_768)) * CHARS_PER_TOKEN - len("Summarise")
    assert result.document_chars == {(1, "book.txt" * 8): budget}
    assert result.notes == [
        f"book.txt was cut to its first {budget:,} of 500,000 characters to fit GPT-4o's context (32,768 tokens)."
    ]
    # With the settings' default, the note says where to change it.
    assumed = plan(history, 8_192, "Llama 3.2", assumed=True)
    assert "assumed for Llama 3.2 (its provider does not say; change it in Settings → Chat)" in assumed.notes[0]


def test_documents_share_the_room_short_ones_whole():
    history = [_message(1, "user", "", _doc("short", 1_000), _doc("long1", 90_000), _doc("long2", 90_000))]
    result = plan(history, 20_000, "M", assumed=False)
    room = (20_000 - reply_room(20_000)) * CHARS_PER_TOKEN
    assert (1, "short" * 8) not in result.document_chars
    assert result.document_chars[(1, "long1" * 8)] == result.document_chars[(1, "long2" * 8)] == (room - 1_000) // 2
    # However tight, each document keeps a little.
    tight = plan(history, 2_048, "M", assumed=False)
    assert set(tight.document_chars.values()) == {MIN_DOCUMENT_CHARS}


def test_earlier_images_are_left_out_first_the_newest_message_keeps_its_own():
    history = [
        _message(1, "user", "one", _image("i1")),
        _message(2, "assistant", "ok"),
        _message(3, "user", "two", _image("i2")),
        _message(4, "assistant", "ok"),
        _message(5, "user", "three", _image("i3"), _image("i4")),
    ]
    roomy = plan(history, 128_000, "M", assumed=False)
    assert not roomy.dropped_images
    tight = plan(history, 8_192, "M", assumed=False)
    assert tight.dropped_images == {(1, "i1" * 8)}  # the oldest goes first; i2 still fits
    assert tight.notes == ["1 image from earlier messages was left out to fit M's context (8,192 tokens)."]
    tiny = plan(history, 4_096, "M", assumed=False)
    assert tiny.dropped_images == {(1, "i1" * 8), (3, "i2" * 8)}
    assert not any(m == 5 for m, _ in tiny.dropped_images)


@pytest.mark.parametrize(
    ("entry", "info"),
    [
        ({"id": "x"}, ModelInfo()),  # OpenAI says nothing
        (  # OpenRouter
            {"id": "x", "context_length": 128000, "architecture": {"input_modalities": ["text", "image"]}},
            ModelInfo(128000, True),
        ),
        ({"id": "x", "architecture": {"modality": "text->text"}, "context_length": 8192}, ModelInfo(8192, False)),
        ({"id": "x", "context_window": 131072}, ModelInfo(131072, None)),  # Groq
        ({"id": "x", "max_model_len": 32768}, ModelInfo(32768, None)),  # vLLM
        ({"id": "x", "meta": {"n_ctx_train": 8192}}, ModelInfo(8192, None)),  # llama-server
        ({"id": "x", "max_context_length": 4096, "type": "vlm"}, ModelInfo(4096, True)),  # LM Studio v0
        ({"id": "x", "capabilities": {"vision": False}, "max_context_length": 32768}, ModelInfo(32768, False)),
        ({"id": "x", "context_length": "lots", "capabilities": "yes"}, ModelInfo()),  # nonsense: nothing assumed
        ({"id": "x", "context_length": True}, ModelInfo()),
    ],
)
def test_what_model_lists_say(entry, info):
    assert info_from_listing(entry) == info


class Told(ChatListener):
    def __init__(self) -> None:
        self.notices: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)


def test_the_request_is_cut_to_the_listed_context_and_the_user_told(chat, fake_server):
    services, conversation = chat
    fake_server.model_details["test-model"] = {"context_length": 4096}
    text = "".join(f"Line {n} of the report.\n" for n in range(5_000))
    report = prepare_bytes(text.encode(), "report.txt")
    fake_server.queue(Reply(body=text_stream(["Read."])))
    listener = Told()
    controller = services.chat(listener, titles=False)
    controller.open(conversation.id)

    async def send():
        await services.directory.list_models(conversation.provider)
        assert services.directory.model_info(conversation.provider, "test-model") == ModelInfo(4096, None)
        task = controller.send("What does it say?", [report])
        assert task is not None
        await task

    asyncio.run(send())
    assert fake_server.requests, listener.notices
    sent = fake_server.requests[-1]["messages"][-1]["content"][0]["text"]
    room = (4096 - reply_room(4096)) * CHARS_PER_TOKEN - len("What does it say?")
    assert sent.startswith('<document name="report.txt">\nLine 0 of the report.')
    assert f"[Only the first {room:,} of {len(report.part.text):,} characters of this document were sent.]" in sent
    assert len(sent) < room + 300
    assert listener.notices == [
        f"report.txt was cut to its first {room:,} of {len(report.part.text):,} characters to fit"
        " test-model's context (4,096 tokens)."
    ]


def test_an_earlier_image_is_left_out_when_the_context_is_small(chat, fake_server):
    services, conversation = chat
    # (The provider says nothing of its models: the settings' context is assumed.)
    services.settings.update(replace(services.settings.current, context_tokens=8_192))
    images = []
    for colour in ("red", "blue", "green"):
        out = io.BytesIO()
        Image.new("RGB", (64, 64), colour).save(out, "PNG")
        images.append(prepare_bytes(out.getvalue(), f"{colour}.png"))
    fake_server.queue(*(Reply(body=text_stream(["Seen."])) for _ in range(3)))

    async def turns():
        for image in images:
            await services.session.stream(services.session.prepare_send(conversation, "And this?", [image]))

    asyncio.run(turns())
    last = fake_server.requests[-1]["messages"]
    kinds = [[p["type"] for p in m["content"]] for m in last if m["role"] == "user"]
    # The oldest image is a note now, the one before kept, the new one sent.
    assert kinds == [["text", "text"], ["text", "image_url"], ["text", "image_url"]]
    assert last[0]["content"][1]["text"] == "[The image red.png was left out here to fit the context.]"


def test_tool_results_share_the_room_short_ones_whole():
    from desktop_chat.core.budget import MIN_RESULT_CHARS, fit_results

    assert fit_results({"a": 100, "b": 200}, 1_000) == {}
    cut = fit_results({"short": 300, "long": 50_000, "longer": 80_000}, 10_300)
    assert "short" not in cut and cut["long"] == cut["longer"] == 5_000
    assert fit_results({"x": 9_000}, 0) == {"x": MIN_RESULT_CHARS}  # (never cut to nothing)
