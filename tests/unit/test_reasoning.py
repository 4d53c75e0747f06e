"""Reasoning: read from every dialect, told apart from the answer, kept with the reply.

Recorded streams with `<think>` in the content do not exist in tests/data (no public
recording was found): the tests of tags below use made-up content, as llama.cpp without
--reasoning-format and Ollama templates write it.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from desktop_chat.core.conversation import ReasoningPart, TextPart
from desktop_chat.core.events import (
    AnswerWasReasoning,
    ReasoningDelta,
    ReasoningDetails,
    ReasoningWasAnswer,
    TextDelta,
    UsageReport,
    chunk_events,
)
from desktop_chat.core.reasoning import ThinkHabits, ThinkSplitter, Unopened, split_think
from desktop_chat.core.services import Services
from desktop_chat.core.settings import ProviderConfig, Settings
from desktop_chat.core.state import StateFile
from desktop_chat.core.store import HistoryStore
from tests.fakes.chat_services import PROVIDER
from tests.fakes.openai_server import Reply, reasoning_stream, recorded, text_stream


def events_of_recording(name: str) -> list[object]:
    events: list[object] = []
    for line in recorded(name).decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            events += chunk_events(json.loads(line[6:]))
    return events


def test_reasoning_fields_of_recorded_streams():
    # DeepSeek's reasoner (reasoning_content), Grok 3 mini through xAI (reasoning_content,
    # and the tokens it thought in the usage), OpenRouter's o3 (encrypted reasoning_details).
    deepseek = events_of_recording("vercel_ai__deepseek_reasoner_reasoning_content.sse")
    thought = "".join(e.text for e in deepseek if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in deepseek if isinstance(e, TextDelta))
    assert len(thought) > 100 and answer and thought not in answer
    first_text = next(i for i, e in enumerate(deepseek) if isinstance(e, TextDelta))
    assert all(not isinstance(e, ReasoningDelta) for e in deepseek[first_text:])

    grok = events_of_recording("vercel_ai__xai_grok3mini_reasoning_text.sse")
    assert any(isinstance(e, ReasoningDelta) for e in grok)
    usage = [e for e in grok if isinstance(e, UsageReport)]
    assert usage[-1].reasoning_tokens == 340

    o3 = events_of_recording("pydantic_ai__openrouter_o3_reasoning_stream.sse")
    details = [item for e in o3 if isinstance(e, ReasoningDetails) for item in e.items]
    assert details and details[0]["type"] == "reasoning.encrypted"


def test_reasoning_field_of_openrouter_and_vllm():
    events = chunk_events({"choices": [{"index": 0, "delta": {"reasoning": "hmm", "content": ""}}]})
    assert events == [ReasoningDelta("hmm")]


def split_in_pieces(text: str, seed: int, unopened: Unopened = Unopened.UNKNOWN, hold: bool = False):
    """Feed `text` in random pieces; (reasoning, answer, answer as it was given while it streamed)."""
    rng = random.Random(seed)
    splitter = ThinkSplitter(unopened, hold)
    reasoning: list[str] = []
    answer: list[str] = []
    given: list[str] = []
    position = 0
    events = []
    while position < len(text):
        size = rng.randint(1, 9)
        events += splitter.feed(text[position : position + size])
        position += size
    events += splitter.finish()
    for event in events:
        if isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, TextDelta):
            answer.append(event.text)
            given.append(event.text)
        elif isinstance(event, AnswerWasReasoning):
            assert event.text == "".join(answer)  # exactly what was shown goes back
            reasoning.insert(0, event.text)
            answer.clear()
        elif isinstance(event, ReasoningWasAnswer):
            assert event.text == "".join(reasoning)
            answer.insert(0, event.text)
            reasoning.clear()
    return "".join(reasoning), "".join(answer), "".join(given)


THINK = "<think>\nThe user greets me. I should answer <b>politely</b>.\n</think>\n\nHello! How can I help?"


@pytest.mark.parametrize("seed", range(40))
def test_think_tags_in_any_pieces(seed):
    reasoning, answer, given = split_in_pieces(THINK, seed)
    assert reasoning == "\nThe user greets me. I should answer <b>politely</b>.\n"
    assert answer == "Hello! How can I help?"
    assert given == answer  # nothing of the thought was ever shown as answer


@pytest.mark.parametrize("seed", range(40))
def test_only_a_closing_tag_takes_back_what_was_shown(seed):
    text = "Okay, the user wants a haiku.\nLet me count syllables.\n</think>\n\nOld pond, frog jumps in"
    reasoning, answer, given = split_in_pieces(text, seed)
    assert (reasoning, answer) == (
        "Okay, the user wants a haiku.\nLet me count syllables.\n",
        "Old pond, frog jumps in",
    )
    # Held (as ask does): never a character of the thought given as answer.
    reasoning, answer, given = split_in_pieces(text, seed, hold=True)
    assert given == answer == "Old pond, frog jumps in"
    # A model known to do this: its thought is reasoning from the first character.
    reasoning, answer, given = split_in_pieces(text, seed, unopened=Unopened.YES)
    assert given == answer == "Old pond, frog jumps in"


@pytest.mark.parametrize("seed", range(10))
def test_a_model_known_to_think_unopened_that_did_not_think(seed):
    reasoning, answer, _ = split_in_pieces("Just an answer, no thinking today.", seed, unopened=Unopened.YES)
    assert (reasoning, answer) == ("", "Just an answer, no thinking today.")


def test_answers_that_only_talk_about_tags():
    assert split_think("Models write `</think>` to end a thought.") == ("", "Models write `</think>` to end a thought.")
    assert split_think("Use <think> tags like this") == ("", "Use <think> tags like this")
    assert split_think("<thinking is fun") == ("", "<thinking is fun")
    # A thought that never closes stays a thought (the model was cut off while thinking).
    assert split_think("<think>\nStill going") == ("\nStill going", "")


def test_held_text_of_a_model_that_never_thinks_comes_at_the_end():
    splitter = ThinkSplitter(Unopened.UNKNOWN, hold=True)
    assert splitter.feed("An answer ") == [] and splitter.feed("in two pieces.") == []
    assert splitter.finish() == [TextDelta("An answer in two pieces.")]
    # Once known not to think, nothing is held.
    splitter = ThinkSplitter(Unopened.NO, hold=True)
    assert splitter.feed("An answer") == [TextDelta("An answer")]


def test_a_long_answer_is_watched_in_linear_time():
    # Each piece is looked at once: the splitter keeps only a tag's length of the answer
    # to look back at (the first version joined the whole answer at every piece: 36 s
    # here, against under a second).
    splitter = ThinkSplitter()
    total = 0
    for _ in range(200_000):
        total += sum(len(e.text) for e in splitter.feed("word ") if isinstance(e, TextDelta))
    assert total == 1_000_000


def test_habits_are_learned_from_each_finished_reply(tmp_path):
    state = StateFile(path=tmp_path / "state.json")
    habits = ThinkHabits(state)
    assert habits.of("p", "m") is Unopened.UNKNOWN
    splitter = ThinkSplitter()
    splitter.feed("thinking\n</think>answer")
    habits.learn("p", "m", splitter, answered=True)
    assert habits.of("p", "m") is Unopened.YES
    assert json.loads((tmp_path / "state.json").read_text())["think_unopened"] == ["p/m"]
    plain = ThinkSplitter()
    plain.feed("just an answer")
    habits.learn("p", "m", plain, answered=True)
    assert habits.of("p", "m") is Unopened.NO


def test_reasoning_is_kept_with_the_reply_and_never_sent_back(chat, fake_server):
    services, conversation = chat
    fake_server.queue(
        Reply(body=reasoning_stream(["Let me ", "think."], ["The answer ", "is 4."], delay=0.05)),
        Reply(body=text_stream(["ok"])),
    )
    pending = services.session.prepare_send(conversation, "2+2?")

    async def two_questions():
        # (One event loop: the SDK's client is kept for the next request.)
        first = await services.session.stream(pending)
        await services.session.stream(services.session.prepare_send(conversation, "and 3+3?"))
        return first

    outcome = asyncio.run(two_questions())
    assert outcome.failure is None
    saved = services.store.message(pending.reply.id)
    assert saved.content == "The answer is 4."
    reasoning = saved.reasoning
    assert reasoning is not None and reasoning.text == "Let me think."
    assert reasoning.seconds is not None and reasoning.seconds >= 0.1  # two pauses before the answer
    assert isinstance(saved.parts[-1], TextPart)
    # Searchable, as reasoning.
    hits = services.store.search_messages("think")
    assert [(h.message_id, h.part) for h in hits] == [(saved.id, "reasoning")]
    # The next request carried the answer only.
    sent = fake_server.requests[-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": "The answer is 4."}
    assert "think" not in json.dumps(sent)


def test_a_provider_that_wants_reasoning_back_gets_it(tmp_path, fake_server):
    provider = ProviderConfig(PROVIDER, fake_server.base_url, "test-model", needs_key=False, send_reasoning=True)
    services = Services.build(
        Settings(providers=(provider,), default_provider=PROVIDER), HistoryStore(tmp_path / "h.db")
    )
    conversation = services.store.create_conversation(provider=PROVIDER, model="test-model")
    fake_server.queue(Reply(body=reasoning_stream(["Pondering."], ["Done."])), Reply(body=text_stream(["ok"])))

    async def two_questions():
        await services.session.stream(services.session.prepare_send(conversation, "q1"))
        await services.session.stream(services.session.prepare_send(conversation, "q2"))

    asyncio.run(two_questions())
    assert fake_server.requests[-1]["messages"][1] == {
        "role": "assistant",
        "content": "Done.",
        "reasoning_content": "Pondering.",
    }
    services.store.close()


def test_think_tags_in_the_content_are_stored_apart(chat, fake_server):
    services, conversation = chat
    fake_server.queue(Reply(body=text_stream(["<thi", "nk>Hmm, ", "a greeting.</th", "ink>\n\nHi", " there"])))
    pending = services.session.prepare_send(conversation, "hello")
    asyncio.run(services.session.stream(pending))
    saved = services.store.message(pending.reply.id)
    assert saved.content == "Hi there"
    assert saved.reasoning is not None and saved.reasoning.text == "Hmm, a greeting."


def test_encrypted_reasoning_is_kept_opaque_and_a_silent_thought_is_timed(chat, fake_server):
    services, conversation = chat
    body = [recorded("pydantic_ai__openrouter_o3_reasoning_stream.sse")]
    fake_server.queue(Reply(body=body))
    pending = services.session.prepare_send(conversation, "q")
    asyncio.run(services.session.stream(pending))
    saved = services.store.message(pending.reply.id)
    reasoning = saved.reasoning
    assert reasoning is not None and reasoning.text == ""
    assert reasoning.opaque["reasoning_details"][0]["type"] == "reasoning.encrypted"
    assert reasoning.seconds is not None
    assert saved.content and "gAAAA" not in saved.content


def test_a_stopped_reply_keeps_its_reasoning(chat, fake_server):
    services, conversation = chat
    body = reasoning_stream(["Deep ", "thought ", "continues"], [], delay=0.1)[:-3]
    fake_server.queue(Reply(body=body, end="hang"))
    pending = services.session.prepare_send(conversation, "q")

    async def stop_later():
        task = asyncio.ensure_future(services.session.stream(pending))
        await asyncio.sleep(0.6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(stop_later())
    saved = services.store.message(pending.reply.id)
    assert saved.status == "stopped"
    assert saved.reasoning is not None and saved.reasoning.text.startswith("Deep thought")
    assert saved.content == ""


def test_parts_round_trip_in_the_store(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    conversation = store.create_conversation()
    reply = store.add_message(conversation.id, None, "assistant", "")
    parts = (
        ReasoningPart("why", 2.5, {"reasoning_details": [{"type": "reasoning.text", "text": "why"}]}),
        TextPart("so"),
    )
    store.update_message(reply.id, parts=parts)
    again = HistoryStore(tmp_path / "h.db").message(reply.id)
    assert again.parts == parts and again.content == "so"
    store.update_message(reply.id, parts=())
    assert store.message(reply.id).parts == () and store.search_messages("why") == []


def test_groq_gpt_oss_reasoning_field():
    # gpt-oss through Groq: `reasoning` deltas (with a `channel`), then an error mid-stream.
    events = events_of_recording("pydantic_ai__groq_gptoss_event_error_midstream.sse")
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)).startswith("We need to")


def test_a_model_that_thinks_silently_is_timed_from_its_usage(chat, fake_server):
    # As OpenAI's o-series sends it (made up in that shape): no reasoning text at all,
    # only completion_tokens_details.reasoning_tokens in the usage chunk.
    from tests.fakes.openai_server import Pause, chunk, sse

    services, conversation = chat
    usage = chunk(choices=False)
    usage["usage"] = {
        "prompt_tokens": 9,
        "completion_tokens": 120,
        "completion_tokens_details": {"reasoning_tokens": 100},
    }
    body = [sse(chunk(role="assistant", content="")), Pause(0.3), sse(chunk("Answer.")), sse(chunk(finish="stop"))]
    fake_server.queue(Reply(body=[*body, sse(usage), b"data: [DONE]\n\n"]))
    pending = services.session.prepare_send(conversation, "q")
    asyncio.run(services.session.stream(pending))
    saved = services.store.message(pending.reply.id)
    assert saved.content == "Answer."
    assert saved.reasoning is not None and saved.reasoning.text == "" and saved.reasoning.seconds >= 0.3


def test_an_answer_that_quotes_the_tags_or_code_stays_whole():
    # (Found in review: these cut the answer in two.)
    code = 'Strip thoughts with:\n\n```python\nclean = re.sub(r"<think>.*?</think>", "", s)\n```\nDone.'
    for seed in range(20):
        assert split_in_pieces(code, seed)[:2] == ("", code)
    quoted = "Use `</think>` to close a thought, and `<think>` to open one."
    for seed in range(20):
        assert split_in_pieces(quoted, seed)[:2] == ("", quoted)
    # A backtick right before a piece boundary and the tag just after it.
    splitter = ThinkSplitter()
    events = splitter.feed("Use `</think>") + splitter.feed("` to close") + splitter.finish()
    assert not any(isinstance(e, AnswerWasReasoning) for e in events)
    assert not splitter.saw_bare_close


def test_a_model_known_not_to_think_is_not_watched():
    splitter = ThinkSplitter(Unopened.NO)
    events = splitter.feed("Plain answer.\n</think>\nStill the answer.") + splitter.finish()
    assert events == [TextDelta("Plain answer.\n</think>\nStill the answer.")]


def test_a_thought_cut_short_stays_a_thought():
    # Stopped, failed or at the token limit while thinking: not taken for an answer.
    splitter = ThinkSplitter(Unopened.YES)
    events = splitter.feed("thinking hard") + splitter.finish(clean=False)
    assert events == [ReasoningDelta("thinking hard")]
    splitter = ThinkSplitter(Unopened.YES)
    events = splitter.feed("no thinking today") + splitter.finish(clean=True)
    assert events[-1] == ReasoningWasAnswer("no thinking today")


def test_retry_forgets_the_failed_try_s_thought(chat, fake_server):
    from desktop_chat.core.conversation import FAILED

    services, conversation = chat
    store = services.store
    question = store.add_message(conversation.id, None, "user", "q")
    reply = store.add_message(conversation.id, question.id, "assistant", "", status=FAILED)
    store.update_message(reply.id, parts=(ReasoningPart("old thought", 3.0), TextPart("")))
    fake_server.queue(Reply(body=reasoning_stream(["new thought"], ["Answer."])))
    pending = services.session.prepare_retry(conversation, reply.id)
    asyncio.run(services.session.stream(pending))
    assert store.message(reply.id).reasoning.text == "new thought"
